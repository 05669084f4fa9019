#include "net/connection.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <mutex>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <vector>

#include <asio.hpp>
#include <fmt/format.h>

#include "base/crc32c.h"

namespace unet::net {
namespace {

using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

// Large enough for a few MiB of gradient in flight per connection; set before connect and
// listen so the window scale negotiated at SYN time can use it.
constexpr int kSocketBufferBytes = 4 << 20;
constexpr Millis kRetryEvery{75};
// A connect attempt gets at least this long even when the patience is (nearly) spent, so a
// patience of zero still means one real try.
constexpr Millis kMinConnectWait{250};

// Every socket is used synchronously, so one context serves the whole process.
asio::io_context& io() {
  static asio::io_context context;
  return context;
}

Clock::time_point deadline_after(Millis d) {
  constexpr Millis kFar = std::chrono::hours(24 * 365);  // keeps now() + d from overflowing
  return Clock::now() + std::clamp(d, Millis::zero(), kFar);
}

int poll_ms(Clock::time_point deadline) {
  auto left = deadline - Clock::now();
  if (left <= Clock::duration::zero()) return 0;
  auto ms = std::chrono::ceil<Millis>(left).count();
  return ms > INT_MAX ? INT_MAX : static_cast<int>(ms);
}

std::string duration_text(Millis d) {
  if (d.count() % 1000 == 0) return fmt::format("{} s", d.count() / 1000);
  return fmt::format("{} ms", d.count());
}

std::string errno_text(int e) { return std::system_category().message(e); }

std::string endpoint_text(const tcp::endpoint& e) {
  asio::ip::address a = e.address();
  if (a.is_v6() && a.to_v6().is_v4_mapped()) a = asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
  return Endpoint{a.to_string(), e.port()}.str();
}

template <typename Socket>
void set_buffer_sizes(Socket& s) {
  asio::error_code ignored;
  s.set_option(asio::socket_base::send_buffer_size(kSocketBufferBytes), ignored);
  s.set_option(asio::socket_base::receive_buffer_size(kSocketBufferBytes), ignored);
}

void set_no_delay(tcp::socket& s) {
  asio::error_code ignored;
  s.set_option(tcp::no_delay(true), ignored);
}

// One attempt, bounded by `wait` (a blocking connect to a host that drops SYNs would hang for
// minutes). On failure `why` says what happened and the socket is closed.
bool try_connect(tcp::socket& sock, const tcp::endpoint& to, Millis wait, std::string& why) {
  asio::error_code ec;
  auto fail = [&](std::string reason) {
    why = std::move(reason);
    asio::error_code ignored;
    sock.close(ignored);
    return false;
  };
  sock.open(to.protocol(), ec);
  if (ec) return fail(ec.message());
  set_buffer_sizes(sock);
  sock.non_blocking(true, ec);
  if (ec) return fail(ec.message());
  int fd = sock.native_handle();
  if (::connect(fd, to.data(), static_cast<socklen_t>(to.size())) != 0) {
    if (errno != EINPROGRESS && errno != EINTR) return fail(errno_text(errno));
    auto deadline = deadline_after(wait);
    pollfd p{fd, POLLOUT, 0};
    int r;
    while ((r = ::poll(&p, 1, poll_ms(deadline))) < 0 && errno == EINTR) {
    }
    if (r < 0) return fail(errno_text(errno));
    if (r == 0) return fail("connection timed out");
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err != 0) return fail(errno_text(err));
  }
  // Retrying a local port in the ephemeral range can make the kernel pick that very port as
  // our source and "connect" the socket to itself.
  auto local = sock.local_endpoint(ec);
  if (!ec && local == to) return fail("connection refused");
  sock.non_blocking(false, ec);
  if (ec) return fail(ec.message());
  set_no_delay(sock);
  return true;
}

}  // namespace

struct Connection::State {
  State(tcp::socket s, std::string name) : socket(std::move(s)), fd(socket.native_handle()), peer(std::move(name)) {}
  ~State() {
    // Closing with unread bytes queued makes the kernel answer with a reset, which can destroy
    // a reply (a refuse frame) the peer has not read yet; so swallow what is already here.
    std::byte sink[4096];
    for (int i = 0; i < 256; ++i)
      if (::recv(fd, sink, sizeof sink, MSG_DONTWAIT) <= 0) break;
  }

  tcp::socket socket;
  int fd;
  std::string peer;

  std::mutex send_mutex;
  bool send_failed = false;  // under send_mutex: a half-written frame leaves the stream unusable
  std::atomic<bool> shut{false};

  // The reading thread's own state.
  bool read_broken = false;  // an error mid-frame: the next byte is not a frame boundary
  bool payload_pending = false;
  FrameHeader pending{};
  HeaderBytes header{};

  // Waits up to `idle` for bytes and reads what is there into `into`; 0 at EOF.
  size_t wait_and_read(std::span<std::byte> into, Millis idle, bool mid_frame) {
    auto deadline = deadline_after(idle);
    for (;;) {
      if (shut) throw NetError(fmt::format("peer {}: connection shut down", peer));
      pollfd p{fd, POLLIN, 0};
      int r = ::poll(&p, 1, poll_ms(deadline));
      if (r < 0) {
        if (errno == EINTR) continue;
        throw NetError(fmt::format("peer {}: poll failed: {}", peer, errno_text(errno)));
      }
      if (r == 0) {
        if (Clock::now() < deadline) continue;
        throw NetError(fmt::format("peer {} sent nothing for {}{}", peer, duration_text(idle),
                                   mid_frame ? " in the middle of a frame" : ""));
      }
      if (shut) throw NetError(fmt::format("peer {}: connection shut down", peer));
      asio::error_code ec;
      size_t got = socket.read_some(asio::buffer(into.data(), into.size()), ec);
      if (ec == asio::error::eof) {
        if (shut) throw NetError(fmt::format("peer {}: connection shut down", peer));
        return 0;
      }
      if (ec == asio::error::would_block || ec == asio::error::try_again || ec == asio::error::interrupted)
        continue;
      if (ec) throw NetError(fmt::format("peer {}: read failed: {}", peer, ec.message()));
      return got;
    }
  }

  [[noreturn]] void bad_frame(const std::string& what) {
    read_broken = true;
    throw FrameError(fmt::format("frame from {}: {}", peer, what));
  }
};

Connection::Connection(std::unique_ptr<State> s) : s_(std::move(s)) {}
Connection::Connection(Connection&&) noexcept = default;
Connection& Connection::operator=(Connection&&) noexcept = default;

Connection::~Connection() = default;

Connection Connection::connect(const Endpoint& to, Millis patience) {
  auto deadline = deadline_after(patience);
  std::string why = "no answer";
  for (;;) {
    asio::error_code ec;
    tcp::resolver resolver(io());
    auto found = resolver.resolve(to.host, std::to_string(to.port), tcp::resolver::numeric_service, ec);
    if (ec) {
      why = fmt::format("cannot resolve '{}': {}", to.host, ec.message());
    } else {
      for (const auto& entry : found) {
        tcp::socket sock(io());
        Millis wait = std::max(kMinConnectWait, std::chrono::ceil<Millis>(deadline - Clock::now()));
        if (try_connect(sock, entry.endpoint(), wait, why))
          return Connection(std::make_unique<State>(std::move(sock), to.str()));
      }
    }
    auto left = deadline - Clock::now();
    if (left <= Clock::duration::zero()) throw NetError(fmt::format("cannot reach {}: {}", to.str(), why));
    std::this_thread::sleep_for(std::min<Clock::duration>(kRetryEvery, left));
  }
}

void Connection::send(const FrameHeader& h, std::span<const std::span<const std::byte>> payload) {
  State& s = *s_;
  FrameHeader framed = h;
  framed.length = 0;
  for (auto part : payload) framed.length += part.size();
  if (framed.length > kMaxPayloadBytes)
    throw FrameError(fmt::format("frame to {}: {} frame for tensor {} has {} payload bytes, over the limit of {}",
                                 s.peer, frame_type_name(h.type), h.tensor, framed.length, kMaxPayloadBytes));
  HeaderBytes header = encode_header(framed, payload);

  std::vector<asio::const_buffer> buffers;
  buffers.reserve(1 + payload.size());
  buffers.emplace_back(header.data(), header.size());
  for (auto part : payload)
    if (!part.empty()) buffers.emplace_back(part.data(), part.size());

  std::lock_guard lock(s.send_mutex);
  if (s.shut) throw NetError(fmt::format("peer {}: send failed: connection shut down", s.peer));
  if (s.send_failed) throw NetError(fmt::format("peer {}: send failed: an earlier send failed", s.peer));
  asio::error_code ec;
  asio::write(s.socket, buffers, ec);
  if (ec) {
    s.send_failed = true;
    throw NetError(fmt::format("peer {}: send failed: {}", s.peer,
                               s.shut ? std::string("connection shut down") : ec.message()));
  }
}

void Connection::send(FrameType type, uint64_t step, uint32_t tensor, std::span<const std::byte> payload) {
  FrameHeader h;
  h.type = type;
  h.step = step;
  h.tensor = tensor;
  h.length = payload.size();
  const std::span<const std::byte> parts[] = {payload};
  send(h, parts);
}

FrameHeader Connection::read_header(Millis idle, uint64_t max_length) {
  State& s = *s_;
  if (s.read_broken)
    throw NetError(fmt::format("peer {}: connection unusable after an earlier error", s.peer));
  if (s.payload_pending) throw std::logic_error("Connection::read_header: the previous frame's payload is unread");

  size_t have = 0;
  while (have < kFrameHeaderBytes) {
    size_t got;
    try {
      got = s.wait_and_read(std::span(s.header).subspan(have), idle, have != 0);
    } catch (const NetError&) {
      // A quiet peer between frames leaves the stream intact: the caller may wait again.
      if (have != 0) s.read_broken = true;
      throw;
    }
    if (got == 0) {
      s.read_broken = true;
      if (have == 0) throw NetError(fmt::format("peer {} closed the connection", s.peer));
      throw FrameError(fmt::format("frame from {}: truncated header ({} of {} bytes), then the connection closed",
                                   s.peer, have, kFrameHeaderBytes));
    }
    have += got;
  }

  FrameHeader h;
  try {
    h = decode_header(s.header);
  } catch (const FrameError& e) {
    s.read_broken = true;
    std::string what = e.what();
    constexpr std::string_view kPrefix = "frame header: ";
    if (what.starts_with(kPrefix)) what = fmt::format("frame header from {}: {}", s.peer, what.substr(kPrefix.size()));
    if (const auto* v = dynamic_cast<const FrameVersionError*>(&e)) throw FrameVersionError(what, v->version());
    throw FrameError(what);
  }

  uint64_t bound = std::min(max_length, kMaxPayloadBytes);
  if (h.length > bound)
    s.bad_frame(fmt::format("{} frame for tensor {} has {} payload bytes, over the bound of {}",
                            frame_type_name(h.type), h.tensor, h.length, bound));
  if (h.length == 0) {
    // Nothing more to read, so check the CRC now: a caller need not read an empty payload.
    if (!frame_crc_ok(s.header, h, {}))
      s.bad_frame(fmt::format("bad CRC (type {}, tensor {}, 0 bytes)", frame_type_name(h.type), h.tensor));
  } else {
    s.payload_pending = true;
    s.pending = h;
  }
  return h;
}

void Connection::read_payload(const FrameHeader& h, std::span<std::byte> into, Millis idle) {
  State& s = *s_;
  if (!s.payload_pending && h.length == 0 && into.empty()) return;  // checked by read_header
  if (s.read_broken)
    throw NetError(fmt::format("peer {}: connection unusable after an earlier error", s.peer));
  if (!s.payload_pending || h.length != s.pending.length || h.crc != s.pending.crc)
    throw std::logic_error("Connection::read_payload: not the header read_header just returned");
  if (into.size() != h.length)
    throw std::logic_error(fmt::format("Connection::read_payload: buffer of {} bytes for a {} byte payload",
                                       into.size(), h.length));
  s.payload_pending = false;

  uint32_t crc = base::crc32c(s.header.data(), 40);
  size_t have = 0;
  while (have < into.size()) {
    size_t got;
    try {
      // At most 256 KiB a read: the CRC then runs over bytes the kernel has just copied, still
      // in this core's cache, instead of coming back for them from memory.
      got = s.wait_and_read(into.subspan(have, std::min<size_t>(into.size() - have, size_t{256} << 10)), idle, true);
    } catch (const NetError&) {
      s.read_broken = true;
      throw;
    }
    if (got == 0)
      s.bad_frame(fmt::format("truncated {} frame (tensor {}): {} of {} payload bytes, then the connection closed",
                              frame_type_name(h.type), h.tensor, have, h.length));
    crc = base::crc32c(into.data() + have, got, crc);
    have += got;
  }
  if (crc != h.crc)
    s.bad_frame(fmt::format("bad CRC (type {}, tensor {}, {} bytes)", frame_type_name(h.type), h.tensor, h.length));
}

std::vector<std::byte> Connection::read_payload(const FrameHeader& h, Millis idle) {
  std::vector<std::byte> bytes(h.length);
  read_payload(h, bytes, idle);
  return bytes;
}

void Connection::shutdown() {
  if (!s_) return;
  s_->shut = true;
  // Not through asio: this may run while another thread is inside a read or write on the
  // socket, and shutdown(2) on the descriptor is what wakes it.
  ::shutdown(s_->fd, SHUT_RDWR);
}

std::string Connection::peer() const { return s_ ? s_->peer : std::string("(moved-from connection)"); }

struct Listener::State {
  explicit State(tcp::acceptor a) : acceptor(std::move(a)) {}
  tcp::acceptor acceptor;
  uint16_t port = 0;
};

Listener::Listener(const Endpoint& at) {
  asio::error_code ec;
  tcp::resolver resolver(io());
  auto found = resolver.resolve(at.host, std::to_string(at.port),
                                tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec) throw NetError(fmt::format("cannot listen on {}: cannot resolve '{}': {}", at.str(), at.host, ec.message()));
  std::string why = "no address";
  for (const auto& entry : found) {
    tcp::acceptor a(io());
    auto attempt = [&]() -> bool {
      a.open(entry.endpoint().protocol(), ec);
      if (ec) return false;
      a.set_option(tcp::acceptor::reuse_address(true), ec);
      if (ec) return false;
      set_buffer_sizes(a);  // accepted sockets inherit them
      a.bind(entry.endpoint(), ec);
      if (ec) return false;
      a.listen(asio::socket_base::max_listen_connections, ec);
      if (ec) return false;
      // Non-blocking, so a connection that is reset between poll and accept cannot hang accept.
      a.non_blocking(true, ec);
      return !ec;
    };
    if (!attempt()) {
      why = ec.message();
      continue;
    }
    s_ = std::make_unique<State>(std::move(a));
    s_->port = s_->acceptor.local_endpoint(ec).port();
    if (ec) throw NetError(fmt::format("cannot listen on {}: {}", at.str(), ec.message()));
    return;
  }
  throw NetError(fmt::format("cannot listen on {}: {}", at.str(), why));
}

Listener::Listener(Listener&&) noexcept = default;
Listener::~Listener() = default;

uint16_t Listener::port() const { return s_->port; }

std::optional<Connection> Listener::accept(Millis wait) {
  auto deadline = deadline_after(wait);
  for (;;) {
    pollfd p{s_->acceptor.native_handle(), POLLIN, 0};
    int r = ::poll(&p, 1, poll_ms(deadline));
    if (r < 0 && errno != EINTR)
      throw NetError(fmt::format("accept on port {} failed: {}", s_->port, errno_text(errno)));
    if (r > 0) {
      tcp::socket sock(io());
      asio::error_code ec;
      s_->acceptor.accept(sock, ec);
      if (!ec) {
        set_no_delay(sock);
        asio::error_code ignored;
        sock.non_blocking(false, ignored);
        auto remote = sock.remote_endpoint(ec);
        std::string name = ec ? std::string("unknown peer") : endpoint_text(remote);
        return Connection(std::make_unique<Connection::State>(std::move(sock), std::move(name)));
      }
      // The connection went away before we took it: wait for the next one.
      bool transient = ec == asio::error::would_block || ec == asio::error::try_again ||
                       ec == asio::error::connection_aborted || ec == asio::error::interrupted ||
                       ec.value() == EPROTO;
      if (!transient) throw NetError(fmt::format("accept on port {} failed: {}", s_->port, ec.message()));
    }
    if (Clock::now() >= deadline) return std::nullopt;
  }
}

}  // namespace unet::net
