#include "net/handshake.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "loopback.h"

namespace unet::net {
namespace {

using namespace nettest;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr uint64_t kFingerprint = 0x1234ABCD5678EF01ull;
constexpr uint64_t kDigest = 0x00C0FFEE00C0FFEEull;
constexpr Millis kIdle{3000};

std::span<const std::byte> bytes_of(std::string_view s) { return std::as_bytes(std::span(s.data(), s.size())); }

std::string hex(const std::array<std::byte, 32>& a) {
  std::string s;
  for (std::byte b : a) {
    static const char* digits = "0123456789abcdef";
    s += digits[std::to_integer<int>(b) >> 4];
    s += digits[std::to_integer<int>(b) & 15];
  }
  return s;
}

std::string hmac_hex(std::string_view key, std::string_view msg) {
  const std::span<const std::byte> parts[] = {bytes_of(msg)};
  return hex(hmac_sha256(key, parts));
}

TEST(Hmac, Rfc4231Vectors) {
  EXPECT_EQ(hmac_hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(hmac_hex(std::string(131, '\xaa'), "Test Using Larger Than Block-Size Key - Hash Key First"),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  EXPECT_EQ(hmac_hex("", "abc"), "fd7adb152c05ef80dccf50a1fa4c05d5a3ec6da95575fc312ae7c5d091836351");
}

TEST(Hmac, PartsAreConcatenated) {
  const std::span<const std::byte> parts[] = {bytes_of("what do ya "), bytes_of(""), bytes_of("want for nothing?")};
  EXPECT_EQ(hex(hmac_sha256("Jefe", parts)), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

Hello worker_hello(uint32_t index, uint64_t fingerprint = kFingerprint, uint64_t digest = kDigest) {
  Hello h;
  h.task_index = index;
  h.plan_fingerprint = fingerprint;
  h.config_digest = digest;
  return h;
}

// What each side of one handshake ended with: its result or its error's text.
struct Outcome {
  std::vector<std::byte> app;  // the worker's
  std::string worker_error;
  Hello hello;  // the PS's
  std::string ps_error;
};

// The PS authenticates with `ps_token` and welcomes with `welcome_token` (an impostor PS
// knows neither); the worker runs client_handshake in a thread.
Outcome run_handshake(Hello hello, std::string worker_token, std::string ps_token, std::string welcome_token,
                      std::span<const std::byte> app = {}) {
  Listener listener(kAnyLoopbackPort);
  Outcome out;
  std::thread worker([&] {
    try {
      Connection c = Connection::connect({"127.0.0.1", listener.port()}, 2s);
      out.app = client_handshake(c, hello, worker_token, kIdle);
    } catch (const std::exception& e) {
      out.worker_error = e.what();
    }
  });
  try {
    auto c = listener.accept(2s);
    if (!c) throw NetError("test: accept timed out");
    out.hello = server_authenticate(*c, kFingerprint, kDigest, ps_token, kIdle);
    server_welcome(*c, out.hello, welcome_token, app);
  } catch (const std::exception& e) {
    out.ps_error = e.what();
  }
  worker.join();
  return out;
}

TEST(Handshake, SucceedsWithTheToken) {
  auto app = pattern(5000, 3);
  Outcome o = run_handshake(worker_hello(2), "s3cret", "s3cret", "s3cret", app);
  EXPECT_EQ(o.worker_error, "");
  EXPECT_EQ(o.ps_error, "");
  EXPECT_EQ(o.app, app);
  EXPECT_EQ(o.hello.task_index, 2u);
  EXPECT_EQ(o.hello.plan_fingerprint, kFingerprint);
  EXPECT_EQ(o.hello.config_digest, kDigest);
  EXPECT_NE(o.hello.nonce, o.hello.server_nonce);
}

TEST(Handshake, EmptyTokenStillRunsTheExchange) {
  Outcome o = run_handshake(worker_hello(0), "", "", "");
  EXPECT_EQ(o.worker_error, "");
  EXPECT_EQ(o.ps_error, "");
  EXPECT_TRUE(o.app.empty());
}

TEST(Handshake, WrongTokenRefusedOnBothSides) {
  Outcome o = run_handshake(worker_hello(1), "guess", "s3cret", "s3cret");
  EXPECT_EQ(o.ps_error, "wrong cluster token");
  EXPECT_THAT(o.worker_error, StartsWith("the parameter server at 127.0.0.1:"));
  EXPECT_THAT(o.worker_error, HasSubstr("refused: wrong cluster token"));
}

TEST(Handshake, WrongPlanFingerprintRefused) {
  Outcome o = run_handshake(worker_hello(1, 0x1111), "t", "t", "t");
  EXPECT_EQ(o.ps_error,
            "plan fingerprint 0x0000000000001111 differs from the parameter server's 0x1234ABCD5678EF01 "
            "(compile both from the same model.def and unetc)");
  EXPECT_THAT(o.worker_error, HasSubstr("refused: plan fingerprint 0x0000000000001111 differs"));
}

TEST(Handshake, WrongConfigDigestRefused) {
  Outcome o = run_handshake(worker_hello(1, kFingerprint, 7), "t", "t", "t");
  EXPECT_THAT(o.ps_error, StartsWith("training configuration differs (--batch_size"));
  EXPECT_THAT(o.worker_error, HasSubstr("refused: training configuration differs"));
}

TEST(Handshake, ImpostorParameterServerDetected) {
  Outcome o = run_handshake(worker_hello(1), "s3cret", "s3cret", "not the token");
  EXPECT_EQ(o.ps_error, "");
  EXPECT_THAT(o.worker_error, StartsWith("the parameter server at 127.0.0.1:"));
  EXPECT_THAT(o.worker_error, HasSubstr("does not know the cluster token"));
}

TEST(Handshake, RefusedAfterAuthenticationByTheCaller) {
  Listener listener(kAnyLoopbackPort);
  std::string worker_error;
  std::thread worker([&] {
    try {
      Connection c = Connection::connect({"127.0.0.1", listener.port()}, 2s);
      client_handshake(c, worker_hello(1), "t", kIdle);
    } catch (const HandshakeRefused& e) {
      worker_error = e.what();
    }
  });
  auto c = listener.accept(2s);
  ASSERT_TRUE(c);
  Hello h = server_authenticate(*c, kFingerprint, kDigest, "t", kIdle);
  server_refuse(*c, "worker index " + std::to_string(h.task_index) + " is already connected");
  worker.join();
  EXPECT_THAT(worker_error, HasSubstr("refused: worker index 1 is already connected"));
}

TEST(Handshake, OtherProtocolVersionGetsARefuseFrame) {
  RawPair r;
  // A hello as a version-2 build would send it.
  std::vector<std::byte> payload(56);
  const std::span<const std::byte> parts[] = {payload};
  FrameHeader h;
  h.type = FrameType::hello;
  h.length = payload.size();
  HeaderBytes bytes = encode_header(h, parts);
  bytes[4] = std::byte{2};
  r.raw.write(bytes);
  r.raw.write(payload);

  std::string ps_error;
  try {
    server_authenticate(r.conn, kFingerprint, kDigest, "t", kIdle);
  } catch (const HandshakeRefused& e) {
    ps_error = e.what();
  }
  EXPECT_EQ(ps_error, "protocol version 2, this parameter server speaks 1");

  auto raw_header = r.raw.read_exactly(kFrameHeaderBytes);
  FrameHeader got = decode_header(std::span<const std::byte, kFrameHeaderBytes>(raw_header.data(), kFrameHeaderBytes));
  EXPECT_EQ(got.type, FrameType::refuse);
  auto reason = r.raw.read_exactly(got.length);
  EXPECT_TRUE(frame_crc_ok(std::span<const std::byte, kFrameHeaderBytes>(raw_header.data(), kFrameHeaderBytes), got,
                           reason));
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(reason.data()), reason.size()), ps_error);
}

TEST(Handshake, SomethingElseThanHelloFirst) {
  Pair p = connected_pair();
  p.client.send(FrameType::gradient, 0, 0, pattern(8, 1));
  try {
    server_authenticate(p.server, kFingerprint, kDigest, "t", kIdle);
    FAIL() << "no error";
  } catch (const FrameError& e) {
    EXPECT_THAT(e.what(), HasSubstr("expected a hello frame, got gradient"));
  }
}

TEST(Handshake, HelloOfTheWrongSize) {
  Pair p = connected_pair();
  p.client.send(FrameType::hello, 0, 0, pattern(20, 1));
  try {
    server_authenticate(p.server, kFingerprint, kDigest, "t", kIdle);
    FAIL() << "no error";
  } catch (const FrameError& e) {
    EXPECT_THAT(e.what(), HasSubstr("hello frame of 20 bytes, expected 56"));
  }
}

TEST(Handshake, SilentWorkerTimesOut) {
  Pair p = connected_pair();
  try {
    server_authenticate(p.server, kFingerprint, kDigest, "t", 200ms);
    FAIL() << "no error";
  } catch (const NetError& e) {
    EXPECT_THAT(e.what(), HasSubstr("sent nothing for 200 ms"));
  }
}

}  // namespace
}  // namespace unet::net
