// Loopback plumbing shared by the net tests: a connected pair of Connections, and a raw asio
// socket for sending bytes the library would never produce. 127.0.0.1 only.
#pragma once
#include <asio.hpp>

#include <chrono>
#include <span>
#include <vector>

#include "net/connection.h"

namespace unet::net::nettest {

using namespace std::chrono_literals;

inline const Endpoint kAnyLoopbackPort{"127.0.0.1", 0};

struct Pair {
  Connection server;  // the accepted end
  Connection client;  // the connecting end
};

inline Pair connected_pair() {
  Listener listener(kAnyLoopbackPort);
  Connection client = Connection::connect({"127.0.0.1", listener.port()}, 2s);
  std::optional<Connection> server = listener.accept(2s);
  if (!server) throw NetError("test: accept timed out");
  return Pair{std::move(*server), std::move(client)};
}

// A peer that writes whatever bytes a test hands it.
class RawPeer {
 public:
  explicit RawPeer(uint16_t port) : socket_(io_) {
    socket_.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  }
  void write(std::span<const std::byte> bytes) { asio::write(socket_, asio::buffer(bytes.data(), bytes.size())); }
  std::vector<std::byte> read_exactly(size_t n) {
    std::vector<std::byte> v(n);
    asio::read(socket_, asio::buffer(v.data(), v.size()));
    return v;
  }
  void close() { socket_.close(); }

 private:
  asio::io_context io_;
  asio::ip::tcp::socket socket_;
};

// A raw peer and the library's end of its connection.
struct RawPair {
  Listener listener{kAnyLoopbackPort};
  RawPeer raw{listener.port()};
  Connection conn = take(listener);

  static Connection take(Listener& l) {
    auto c = l.accept(2s);
    if (!c) throw NetError("test: accept timed out");
    return std::move(*c);
  }
};

inline std::vector<std::byte> pattern(size_t n, unsigned seed) {
  std::vector<std::byte> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>((i * 131 + seed * 7 + (i >> 8)) & 0xFF);
  return v;
}

}  // namespace unet::net::nettest
