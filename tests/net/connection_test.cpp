#include "net/connection.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "loopback.h"

namespace unet::net {
namespace {

using namespace nettest;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using Clock = std::chrono::steady_clock;

FrameHeader header(FrameType t, uint64_t step, uint32_t tensor, uint64_t length) {
  FrameHeader h;
  h.type = t;
  h.step = step;
  h.tensor = tensor;
  h.length = length;
  return h;
}

std::vector<std::byte> frame_bytes(const FrameHeader& h, std::span<const std::byte> payload) {
  const std::span<const std::byte> parts[] = {payload};
  HeaderBytes hb = encode_header(h, parts);
  std::vector<std::byte> v(kFrameHeaderBytes + payload.size());
  std::copy(hb.begin(), hb.end(), v.begin());
  std::copy(payload.begin(), payload.end(), v.begin() + kFrameHeaderBytes);
  return v;
}

template <typename E, typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "(no error of the expected type)";
}

TEST(Connection, ThreePartFrameArrivesIntact) {
  Pair p = connected_pair();
  auto a = pattern(1000, 1), b = pattern(70000, 2), c = pattern(13, 3);
  const std::span<const std::byte> parts[] = {a, b, c};
  FrameHeader h = header(FrameType::gradient, 7, 3, 0);  // send() takes the length from the parts
  h.offset = 42;
  p.client.send(h, parts);

  FrameHeader got = p.server.read_header(2s, 1 << 20);
  EXPECT_EQ(got.type, FrameType::gradient);
  EXPECT_EQ(got.step, 7u);
  EXPECT_EQ(got.tensor, 3u);
  EXPECT_EQ(got.offset, 42u);
  ASSERT_EQ(got.length, a.size() + b.size() + c.size());
  std::vector<std::byte> into(got.length);
  p.server.read_payload(got, into, 2s);  // throws on a bad CRC
  std::vector<std::byte> want(a);
  want.insert(want.end(), b.begin(), b.end());
  want.insert(want.end(), c.begin(), c.end());
  EXPECT_EQ(into, want);

  // An empty frame, then a one-part frame read into a fresh buffer, the other way.
  p.server.send(FrameType::heartbeat, 8, 0);
  p.server.send(FrameType::abort, 9, 1, c);
  FrameHeader hb = p.client.read_header(2s, 0);
  EXPECT_EQ(hb.type, FrameType::heartbeat);
  EXPECT_EQ(hb.length, 0u);
  FrameHeader ab = p.client.read_header(2s, 100);
  EXPECT_EQ(ab.type, FrameType::abort);
  EXPECT_EQ(p.client.read_payload(ab, 2s), c);
}

TEST(Connection, LargeFrameWhileTheReaderReads) {
  Pair p = connected_pair();
  auto big = pattern(24 << 20, 5);
  std::thread sender([&] {
    const std::span<const std::byte> parts[] = {std::span(big).first(1 << 20), std::span(big).subspan(1 << 20)};
    p.client.send(header(FrameType::value, 1, 2, 0), parts);
  });
  FrameHeader h = p.server.read_header(5s, kMaxPayloadBytes);
  std::vector<std::byte> into(h.length);
  p.server.read_payload(h, into, 5s);
  sender.join();
  EXPECT_TRUE(into == big);
}

TEST(Connection, ConcurrentSendsStayWhole) {
  Pair p = connected_pair();
  constexpr int kThreads = 4, kFrames = 25;
  std::vector<std::thread> senders;
  for (int t = 0; t < kThreads; ++t)
    senders.emplace_back([&, t] {
      for (int i = 0; i < kFrames; ++i) {
        auto bytes = pattern(32768 + t * 1000 + i, t * 100 + i);
        p.client.send(FrameType::gradient, i, t, bytes);
      }
    });
  int next[kThreads] = {};
  for (int n = 0; n < kThreads * kFrames; ++n) {
    FrameHeader h = p.server.read_header(5s, 1 << 20);
    auto bytes = p.server.read_payload(h, 5s);
    ASSERT_LT(h.tensor, uint32_t{kThreads});
    int t = static_cast<int>(h.tensor);
    EXPECT_EQ(h.step, static_cast<uint64_t>(next[t]));  // each thread's frames in its order
    EXPECT_EQ(bytes, pattern(32768 + t * 1000 + next[t], t * 100 + next[t]));
    ++next[t];
  }
  for (auto& s : senders) s.join();
}

TEST(Connection, PeerNames) {
  Listener listener(kAnyLoopbackPort);
  Connection client = Connection::connect({"127.0.0.1", listener.port()}, 2s);
  auto server = listener.accept(2s);
  ASSERT_TRUE(server);
  EXPECT_EQ(client.peer(), "127.0.0.1:" + std::to_string(listener.port()));
  EXPECT_THAT(server->peer(), StartsWith("127.0.0.1:"));
}

TEST(Connection, FlippedPayloadByteIsBadCrc) {
  RawPair r;
  auto payload = pattern(1234, 4);
  auto bytes = frame_bytes(header(FrameType::gradient, 1, 3, payload.size()), payload);
  bytes[kFrameHeaderBytes + 600] ^= std::byte{0x20};
  r.raw.write(bytes);
  FrameHeader h = r.conn.read_header(2s, 4096);
  std::vector<std::byte> into(h.length);
  EXPECT_EQ(error_of<FrameError>([&] { r.conn.read_payload(h, into, 2s); }),
            "frame from " + r.conn.peer() + ": bad CRC (type gradient, tensor 3, 1234 bytes)");
  // The stream is out of step now: nothing more is read from it.
  EXPECT_THAT(error_of<NetError>([&] { r.conn.read_header(100ms, 4096); }), HasSubstr("unusable"));
}

TEST(Connection, FlippedHeaderFieldIsBadCrc) {
  RawPair r;
  auto payload = pattern(10, 4);
  auto bytes = frame_bytes(header(FrameType::value, 1, 3, payload.size()), payload);
  bytes[8] ^= std::byte{0x01};  // the step
  r.raw.write(bytes);
  FrameHeader h = r.conn.read_header(2s, 4096);
  EXPECT_THAT(error_of<FrameError>([&] { r.conn.read_payload(h, 2s); }), HasSubstr("bad CRC (type value, tensor 3"));
}

TEST(Connection, EmptyFrameWithBadCrcFailsInReadHeader) {
  RawPair r;
  auto bytes = frame_bytes(header(FrameType::heartbeat, 1, 0, 0), {});
  bytes[40] ^= std::byte{0xFF};
  r.raw.write(bytes);
  EXPECT_THAT(error_of<FrameError>([&] { r.conn.read_header(2s, 0); }),
              HasSubstr("bad CRC (type heartbeat, tensor 0, 0 bytes)"));
}

TEST(Connection, TruncatedPayloadThenClose) {
  RawPair r;
  auto payload = pattern(100, 6);
  auto bytes = frame_bytes(header(FrameType::gradient, 1, 5, payload.size()), payload);
  bytes.resize(kFrameHeaderBytes + 50);
  r.raw.write(bytes);
  r.raw.close();
  FrameHeader h = r.conn.read_header(2s, 4096);
  EXPECT_EQ(error_of<FrameError>([&] { r.conn.read_payload(h, 2s); }),
            "frame from " + r.conn.peer() +
                ": truncated gradient frame (tensor 5): 50 of 100 payload bytes, then the connection closed");
}

TEST(Connection, TruncatedHeaderThenClose) {
  RawPair r;
  auto bytes = frame_bytes(header(FrameType::gradient, 1, 5, 0), {});
  bytes.resize(20);
  r.raw.write(bytes);
  r.raw.close();
  EXPECT_THAT(error_of<FrameError>([&] { r.conn.read_header(2s, 4096); }),
              HasSubstr("truncated header (20 of 48 bytes)"));
}

TEST(Connection, OversizedLengthRefusedBeforeAnyPayloadIsRead) {
  RawPair r;
  // Only the header is sent: were the payload waited for, the read would sit out its 10 s.
  auto bytes = frame_bytes(header(FrameType::gradient, 1, 3, 0), {});
  bytes[32 + 2] = std::byte{0x10};  // length 1 MiB
  r.raw.write(bytes);
  auto start = Clock::now();
  EXPECT_EQ(error_of<FrameError>([&] { r.conn.read_header(10s, 4096); }),
            "frame from " + r.conn.peer() + ": gradient frame for tensor 3 has 1048576 payload bytes, over the bound of 4096");
  EXPECT_LT(Clock::now() - start, 5s);
}

TEST(Connection, LengthOverTheGlobalCapRefusedWhateverTheCallerAllows) {
  RawPair r;
  auto bytes = frame_bytes(header(FrameType::value, 1, 3, 0), {});
  bytes[32 + 7] = std::byte{0x01};  // 2^56 bytes
  r.raw.write(bytes);
  EXPECT_THAT(error_of<FrameError>([&] { r.conn.read_header(10s, UINT64_MAX); }),
              HasSubstr("over the bound of 1073741824"));
}

TEST(Connection, MalformedHeaderNamesThePeer) {
  RawPair r;
  auto bytes = frame_bytes(header(FrameType::value, 1, 3, 0), {});
  bytes[0] = std::byte{'X'};
  r.raw.write(bytes);
  EXPECT_THAT(error_of<FrameError>([&] { r.conn.read_header(2s, 0); }),
              StartsWith("frame header from " + r.conn.peer() + ": bad magic 0x"));
}

TEST(Connection, IdleTimeoutBetweenFramesLeavesTheStreamUsable) {
  RawPair r;
  auto start = Clock::now();
  EXPECT_EQ(error_of<NetError>([&] { r.conn.read_header(200ms, 0); }),
            "peer " + r.conn.peer() + " sent nothing for 200 ms");
  EXPECT_LT(Clock::now() - start, 3s);
  r.raw.write(frame_bytes(header(FrameType::heartbeat, 4, 0, 0), {}));
  EXPECT_EQ(r.conn.read_header(2s, 0).step, 4u);
}

TEST(Connection, IdleTimeoutMidFrame) {
  RawPair r;
  auto payload = pattern(100, 6);
  auto bytes = frame_bytes(header(FrameType::gradient, 1, 5, payload.size()), payload);
  bytes.resize(kFrameHeaderBytes + 10);
  r.raw.write(bytes);
  FrameHeader h = r.conn.read_header(2s, 4096);
  EXPECT_THAT(error_of<NetError>([&] { r.conn.read_payload(h, 200ms); }),
              HasSubstr("sent nothing for 200 ms in the middle of a frame"));
}

TEST(Connection, PeerClosing) {
  Pair p = connected_pair();
  { Connection gone = std::move(p.client); }
  EXPECT_EQ(error_of<NetError>([&] { p.server.read_header(2s, 0); }),
            "peer " + p.server.peer() + " closed the connection");
}

TEST(Connection, ShutdownWakesABlockedReader) {
  Pair p = connected_pair();
  std::string error;
  auto start = Clock::now();
  std::thread reader([&] { error = error_of<NetError>([&] { p.server.read_header(30s, 0); }); });
  std::this_thread::sleep_for(100ms);
  p.server.shutdown();
  reader.join();
  EXPECT_LT(Clock::now() - start, 10s);
  EXPECT_THAT(error, HasSubstr("shut down"));
  p.server.shutdown();  // idempotent
  EXPECT_THAT(error_of<NetError>([&] { p.server.send(FrameType::heartbeat, 0, 0); }), HasSubstr("send failed"));
  // The other side sees the connection close.
  EXPECT_THAT(error_of<NetError>([&] { p.client.read_header(2s, 0); }), HasSubstr("closed the connection"));
}

uint16_t free_port() {
  Listener l(kAnyLoopbackPort);
  return l.port();
}

TEST(Connection, ConnectRetriesUntilTheListenerAppears) {
  uint16_t port = free_port();
  std::atomic<bool> accepted{false};
  std::thread ps([&] {
    std::this_thread::sleep_for(300ms);
    Listener l({"127.0.0.1", port});
    auto c = l.accept(5s);
    if (!c) return;
    accepted = true;
    FrameHeader h = c->read_header(5s, 0);
    c->send(FrameType::done, h.step, 0);
  });
  Connection c = Connection::connect({"127.0.0.1", port}, 5s);
  c.send(FrameType::done, 11, 0);
  EXPECT_EQ(c.read_header(5s, 0).step, 11u);
  ps.join();
  EXPECT_TRUE(accepted);
}

TEST(Connection, ConnectGivesUpAfterItsPatience) {
  uint16_t port = free_port();
  auto start = Clock::now();
  EXPECT_THAT(error_of<NetError>([&] { Connection::connect({"127.0.0.1", port}, 300ms); }),
              StartsWith("cannot reach 127.0.0.1:" + std::to_string(port) + ": "));
  EXPECT_LT(Clock::now() - start, 5s);
}

TEST(Listener, AcceptTimesOut) {
  Listener l(kAnyLoopbackPort);
  EXPECT_NE(l.port(), 0);
  EXPECT_FALSE(l.accept(100ms).has_value());
}

TEST(Listener, PortInUse) {
  Listener l(kAnyLoopbackPort);
  EXPECT_THAT(error_of<NetError>([&] { Listener again({"127.0.0.1", l.port()}); }),
              StartsWith("cannot listen on 127.0.0.1:" + std::to_string(l.port()) + ": "));
}

}  // namespace
}  // namespace unet::net
