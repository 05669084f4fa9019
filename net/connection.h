// One TCP connection of the protocol over asio (standalone): blocking sockets, TCP_NODELAY,
// large socket buffers, frames written with one gather write straight from the caller's
// memory (a gradient is never copied into a send buffer), reads with an idle timeout (a peer
// that stops sending is noticed), and a shutdown() that another thread may call to wake a
// blocked reader.
//
// Threads: one thread may read while others send; send() calls are serialised inside.
#pragma once
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "base/limits.h"
#include "net/endpoint.h"
#include "net/frame.h"

namespace unet::net {

using Millis = std::chrono::milliseconds;

// No frame's payload is ever larger than this, whatever a caller's own bound says.
inline constexpr uint64_t kMaxPayloadBytes = limits::kMaxFramePayloadBytes;

class Connection {
 public:
  // Connects to `to`, retrying refused or unreachable attempts for up to `patience` (a PS may
  // start after its workers). NetError naming the endpoint when it never answers.
  static Connection connect(const Endpoint& to, Millis patience);

  Connection(Connection&&) noexcept;
  Connection& operator=(Connection&&) noexcept;
  ~Connection();

  // Sends one frame: header (its CRC computed over the parts) and the payload parts in one
  // gather write. Safe to call from several threads. NetError when the peer is gone.
  // The length sent is the parts' total, whatever h.length says.
  void send(const FrameHeader& h, std::span<const std::span<const std::byte>> payload = {});
  // One-part convenience.
  void send(FrameType type, uint64_t step, uint32_t tensor, std::span<const std::byte> payload = {});

  // Waits up to `idle` for the next frame's header (NetError "... sent nothing for N s" when
  // none comes, "... closed the connection" at EOF), then checks its format and that its
  // length is at most `max_length` (and kMaxPayloadBytes): FrameError otherwise. A frame with
  // no payload has its CRC checked here. A quiet peer between frames leaves the connection
  // usable (wait again); any error mid-frame makes later reads fail.
  FrameHeader read_header(Millis idle, uint64_t max_length);
  // Reads the payload of the frame read_header just returned into `into` (exactly
  // h.length bytes), each wait at most `idle`, and checks the frame's CRC (FrameError).
  void read_payload(const FrameHeader& h, std::span<std::byte> into, Millis idle);
  // Reads a payload into a fresh buffer (small control payloads: reasons, handshake bytes).
  std::vector<std::byte> read_payload(const FrameHeader& h, Millis idle);

  // Closes both directions: a thread blocked in read_header / read_payload returns with
  // NetError, later sends fail. Safe from any thread, idempotent.
  void shutdown();

  std::string peer() const;  // "127.0.0.1:40312"

 private:
  struct State;
  explicit Connection(std::unique_ptr<State> s);
  friend class Listener;
  std::unique_ptr<State> s_;
};

class Listener {
 public:
  // Binds and listens on `at` (port 0: any free port; see port()). NetError when the address
  // is in use or cannot be bound, naming it.
  explicit Listener(const Endpoint& at);
  Listener(Listener&&) noexcept;
  ~Listener();
  uint16_t port() const;
  // Waits up to `wait` for the next connection; nullopt when none came.
  std::optional<Connection> accept(Millis wait);

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace unet::net
