// The handshake, and the frame reader under it, against a hostile peer on a real loopback
// TCP connection. The input is a script for the peer; its first byte picks the side:
//   0  the peer is a worker; the library runs server_authenticate (+ server_welcome)
//   1  the peer is a parameter server; the library runs client_handshake
//   2  the peer sends raw bytes; the library reads frames (read_header / read_payload) with
//      fuzzed length bounds until the stream ends or breaks
// The peer's frames are well formed unless the script says otherwise, and where the protocol
// needs a MAC it can compute the right one (it knows the token and reads the other side's
// nonce), so a script gets past the checks into the later steps. Every choice reads "false"
// or zero as the well-behaved peer, so one mode byte followed by zeros is a handshake that
// succeeds (the seed corpus starts there). Every outcome must be a success or one of the
// documented errors (HandshakeRefused, NetError, FrameError): never a crash, another
// exception, or a hang.
#include <fuzzer/FuzzedDataProvider.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string_view>
#include <thread>
#include <vector>

#include "net/connection.h"
#include "net/frame.h"
#include "net/handshake.h"
#include "tests/fuzz/fuzz_support.h"

using namespace unet::net;
using namespace std::chrono_literals;

namespace {

constexpr uint64_t kPlanFp = 0x0123456789ABCDEFull;
constexpr uint64_t kDigest = 0xFEDCBA9876543210ull;
constexpr std::string_view kToken = "fuzz-cluster-token";
// No wait in a working script reaches this: it only bounds a bug (then -timeout reports it).
constexpr Millis kIdle = 2000ms;
constexpr size_t kHelloBytes = 56;

using Bytes = std::vector<std::byte>;

std::span<const std::byte> as_bytes(std::string_view s) { return std::as_bytes(std::span(s.data(), s.size())); }

// The peer's end: a plain socket, so it can send what the library never would.
class RawSocket {
 public:
  explicit RawSocket(int fd) : fd_(fd) {}
  ~RawSocket() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;
  int fd() const { return fd_; }

  bool write_all(std::span<const std::byte> b) {
    while (!b.empty()) {
      const ssize_t n = ::send(fd_, b.data(), b.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;  // the library hung up: the script ends
      b = b.subspan(static_cast<size_t>(n));
    }
    return true;
  }
  // Exactly n bytes, or nullopt at EOF, on error or after kIdle of silence.
  std::optional<Bytes> read_exactly(size_t n) {
    Bytes out(n);
    size_t have = 0;
    while (have < n) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(kIdle.count())) <= 0) return std::nullopt;
      const ssize_t got = ::recv(fd_, out.data() + have, n - have, 0);
      if (got <= 0) return std::nullopt;
      have += static_cast<size_t>(got);
    }
    return out;
  }
  // One frame from the library: header fields we need, and the payload.
  struct Frame {
    uint16_t type = 0;
    Bytes payload;
  };
  std::optional<Frame> read_frame() {
    auto h = read_exactly(kFrameHeaderBytes);
    if (!h) return std::nullopt;
    Frame f;
    std::memcpy(&f.type, h->data() + 6, 2);
    uint64_t length = 0;
    std::memcpy(&length, h->data() + 32, 8);
    if (length > 65536 + 64) return std::nullopt;  // the library sends nothing larger here
    auto p = read_exactly(static_cast<size_t>(length));
    if (!p) return std::nullopt;
    f.payload = std::move(*p);
    return f;
  }
  // Ends the script: no more bytes from us (the library sees EOF), then waits for the library
  // to close its end, so every byte it sent was taken (closing with unread bytes would send
  // a reset that could destroy bytes the library has not read yet).
  void finish() {
    ::shutdown(fd_, SHUT_WR);
    std::byte sink[4096];
    for (;;) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(kIdle.count())) <= 0) break;
      if (::recv(fd_, sink, sizeof sink, 0) <= 0) break;
    }
  }

 private:
  int fd_;
};

int connect_loopback(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) std::abort();
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) std::abort();
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

// A listening socket for the client side (the library connects to the peer).
struct RawListener {
  int fd = -1;
  uint16_t port = 0;
  RawListener() {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 16) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      std::abort();
    port = ntohs(a.sin_port);
  }
};

template <typename T>
void put(Bytes& b, T v) {
  for (size_t i = 0; i < sizeof(T); ++i) b.push_back(static_cast<std::byte>((v >> (8 * i)) & 0xFF));
}

// One frame of the script: well formed around the given payload, unless the script damages
// one header byte (which may change the length the header claims: the frame is then no
// longer "consistent", and the peer must not wait for an answer the library cannot give).
struct ScriptWriter {
  FuzzedDataProvider& in;
  RawSocket& sock;
  bool consistent = true;
  size_t sent = 0;

  bool send(uint16_t type, std::span<const std::byte> payload) {
    FrameHeader h;
    h.type = static_cast<FrameType>(type);
    h.step = in.ConsumeBool() ? in.ConsumeIntegral<uint64_t>() : 0;
    h.tensor = in.ConsumeBool() ? in.ConsumeIntegral<uint32_t>() : 0;
    h.offset = in.ConsumeBool() ? in.ConsumeIntegral<uint64_t>() : 0;
    h.length = payload.size();
    const std::span<const std::byte> parts[] = {payload};
    HeaderBytes header = encode_header(h, parts);
    std::memcpy(header.data() + 6, &type, 2);  // any value, not only those FrameType names
    if (in.ConsumeBool()) {
      const size_t at = in.ConsumeIntegralInRange<size_t>(0, kFrameHeaderBytes - 1);
      header[at] = static_cast<std::byte>(in.ConsumeIntegral<uint8_t>());
      consistent = false;
    }
    ++sent;
    // Header and payload in separate writes now and then: the reader must not assume a
    // frame arrives in one piece.
    if (in.ConsumeBool()) return sock.write_all(header) && sock.write_all(payload);
    Bytes whole(header.begin(), header.end());
    whole.insert(whole.end(), payload.begin(), payload.end());
    return sock.write_all(whole);
  }
  // The library answers only a complete, well-formed frame; waiting is safe then alone.
  bool may_wait() const { return consistent && sent > 0; }
};

Bytes consume_payload(FuzzedDataProvider& in, size_t most) {
  return in.ConsumeBytes<std::byte>(in.ConsumeIntegralInRange<size_t>(0, most));
}

uint16_t consume_type(FuzzedDataProvider& in, FrameType usual) {
  return in.ConsumeBool() ? in.ConsumeIntegralInRange<uint16_t>(0, kMaxFrameType + 2) : static_cast<uint16_t>(usual);
}

// The worker's script against server_authenticate: hello, proof, then anything.
void worker_script(FuzzedDataProvider& in, RawSocket& sock) {
  ScriptWriter w{in, sock};
  Bytes hello;
  if (in.ConsumeBool()) {
    hello = consume_payload(in, 80);
  } else {
    put<uint32_t>(hello, in.ConsumeIntegral<uint32_t>());
    put<uint32_t>(hello, in.ConsumeIntegral<uint32_t>());
    put<uint64_t>(hello, in.ConsumeBool() ? in.ConsumeIntegral<uint64_t>() : kPlanFp);
    put<uint64_t>(hello, in.ConsumeBool() ? in.ConsumeIntegral<uint64_t>() : kDigest);
    Bytes nonce = in.ConsumeBytes<std::byte>(kNonceBytes);
    nonce.resize(kNonceBytes);
    hello.insert(hello.end(), nonce.begin(), nonce.end());
  }
  if (!w.send(consume_type(in, FrameType::hello), hello)) return;

  Bytes proof;
  if (in.ConsumeBool()) {
    proof = consume_payload(in, 64);
  } else {
    std::array<std::byte, kNonceBytes> server_nonce{};
    if (w.may_wait()) {
      const auto f = sock.read_frame();
      if (!f) return;
      if (f->type == static_cast<uint16_t>(FrameType::challenge) && f->payload.size() == kNonceBytes)
        std::memcpy(server_nonce.data(), f->payload.data(), kNonceBytes);
    }
    // The worker's proof as handshake.h defines it; the hello may be damaged, then it is wrong.
    Bytes client_nonce(kNonceBytes);
    if (hello.size() >= 24 + kNonceBytes) std::memcpy(client_nonce.data(), hello.data() + 24, kNonceBytes);
    const std::span<const std::byte> parts[] = {as_bytes("unet-worker"), server_nonce, client_nonce, hello};
    const auto mac = hmac_sha256(kToken, parts);
    proof.assign(mac.begin(), mac.end());
  }
  if (!w.send(consume_type(in, FrameType::proof), proof)) return;
  for (int extra = in.ConsumeIntegralInRange(0, 2); extra > 0; --extra)
    if (!w.send(consume_type(in, FrameType::heartbeat), consume_payload(in, 64))) return;
}

// The parameter server's script against client_handshake: read the hello, challenge,
// welcome (the right MAC, or not) with application bytes, then anything.
void ps_script(FuzzedDataProvider& in, RawSocket& sock) {
  const auto hello = sock.read_frame();  // the library always speaks first
  if (!hello || hello->payload.size() != kHelloBytes) return;
  ScriptWriter w{in, sock};
  if (in.ConsumeBool()) {  // refuse, with a reason (any bytes)
    w.send(consume_type(in, FrameType::refuse), consume_payload(in, 128));
    return;
  }
  Bytes server_nonce = in.ConsumeBool() ? consume_payload(in, 40) : in.ConsumeBytes<std::byte>(kNonceBytes);
  if (!w.send(consume_type(in, FrameType::challenge), server_nonce)) return;
  Bytes welcome;
  if (in.ConsumeBool()) {
    welcome = consume_payload(in, 96);
  } else {
    server_nonce.resize(kNonceBytes);  // what the library took, if the challenge got through
    const std::span<const std::byte> client_nonce = std::span(hello->payload).subspan(24, kNonceBytes);
    const std::span<const std::byte> parts[] = {as_bytes("unet-ps"), client_nonce, server_nonce};
    const auto mac = hmac_sha256(kToken, parts);
    welcome.assign(mac.begin(), mac.end());
    const Bytes app = consume_payload(in, 64);
    welcome.insert(welcome.end(), app.begin(), app.end());
  }
  if (!w.send(consume_type(in, in.ConsumeBool() ? FrameType::refuse : FrameType::welcome), welcome)) return;
  for (int extra = in.ConsumeIntegralInRange(0, 2); extra > 0; --extra)
    if (!w.send(consume_type(in, FrameType::heartbeat), consume_payload(in, 64))) return;
}

void expected_error() {
  try {
    throw;
  } catch (const HandshakeRefused&) {
  } catch (const FrameError&) {
  } catch (const NetError&) {
  }
}

void run_server_side(FuzzedDataProvider& in) {
  static Listener listener({"127.0.0.1", 0});
  RawSocket peer_sock(connect_loopback(listener.port()));
  std::optional<Connection> conn = listener.accept(kIdle);
  if (!conn) std::abort();
  std::thread peer([&] {
    worker_script(in, peer_sock);
    peer_sock.finish();
  });
  try {
    const Hello h = server_authenticate(*conn, kPlanFp, kDigest, kToken, kIdle);
    UNET_FUZZ_CHECK(h.plan_fingerprint == kPlanFp && h.config_digest == kDigest, "accepted a wrong hello");
    const std::byte app[] = {std::byte{1}, std::byte{2}};
    server_welcome(*conn, h, kToken, app);
  } catch (...) {
    expected_error();
  }
  conn.reset();
  peer.join();
}

void run_client_side(FuzzedDataProvider& in) {
  static RawListener listener;
  std::optional<RawSocket> peer_sock;
  std::thread peer([&] {
    const int fd = ::accept4(listener.fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) std::abort();
    peer_sock.emplace(fd);
    ps_script(in, *peer_sock);
    peer_sock->finish();
  });
  {
    Connection conn = Connection::connect({"127.0.0.1", listener.port}, kIdle);
    try {
      Hello hello;
      hello.plan_fingerprint = kPlanFp;
      hello.config_digest = kDigest;
      const std::vector<std::byte> app = client_handshake(conn, hello, kToken, kIdle);
      UNET_FUZZ_CHECK(app.size() <= 96, "more application bytes than the peer sent");
    } catch (...) {
      expected_error();
    }
  }
  peer.join();
}

void run_stream(FuzzedDataProvider& in) {
  static Listener listener({"127.0.0.1", 0});
  RawSocket peer_sock(connect_loopback(listener.port()));
  std::optional<Connection> conn = listener.accept(kIdle);
  if (!conn) std::abort();
  const uint64_t bound = in.ConsumeBool() ? in.ConsumeIntegralInRange<uint64_t>(0, 1 << 12) : 1 << 12;
  const Bytes raw = in.ConsumeRemainingBytes<std::byte>();
  std::thread peer([&] {
    peer_sock.write_all(raw);
    peer_sock.finish();
  });
  try {
    for (int frames = 0; frames < 64; ++frames) {
      const FrameHeader h = conn->read_header(kIdle, bound);
      UNET_FUZZ_CHECK(h.length <= bound, "a frame over the bound was let through");
      Bytes payload = conn->read_payload(h, kIdle);
      UNET_FUZZ_CHECK(payload.size() == h.length, "payload size");
    }
  } catch (...) {
    expected_error();
  }
  conn.reset();
  peer.join();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // The library sends to a peer that may have hung up; that must be an error, not a signal.
  ::signal(SIGPIPE, SIG_IGN);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  FuzzedDataProvider in(data + 1, size - 1);
  switch (data[0] % 3) {
    case 0: run_server_side(in); break;
    case 1: run_client_side(in); break;
    default: run_stream(in); break;
  }
  return 0;
}
