// Host lists as users write them (--ps_hosts h0:2222,h0:2224) and what we need to know of an
// address before serving on it.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace unet::net {

// Anything the network layer refuses or fails at: unreachable peer, closed connection, a
// read that timed out, a malformed host list. what() is one line naming the peer or item.
class NetError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Endpoint {
  std::string host;  // name or address; "[::1]" is written without brackets here
  uint16_t port = 0;
  std::string str() const;  // "h0:2222", "[::1]:2222"
};

// "h0:2222,h1:2223" -> endpoints, in order. `flag` names the list in errors:
// "--ps_hosts: item 2 'h1': no port". Ports 1..65535; empty items are refused.
std::vector<Endpoint> parse_host_list(const std::string& list, const std::string& flag);

// True when `host` is a loopback address or resolves only to loopback addresses
// ("localhost", 127.0.0.0/8, ::1). A PS bound elsewhere needs a token (or --insecure).
bool is_loopback_host(const std::string& host);

}  // namespace unet::net
