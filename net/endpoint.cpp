#include "net/endpoint.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <strings.h>
#include <sys/socket.h>

#include <cstring>
#include <string_view>

#include <fmt/format.h>

namespace unet::net {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

Endpoint parse_item(std::string_view item, size_t index, const std::string& flag) {
  auto fail = [&](const std::string& why) {
    return NetError(fmt::format("{}: item {} '{}': {}", flag, index, item, why));
  };
  std::string_view host, port;
  if (item.front() == '[') {
    size_t close = item.find(']');
    if (close == std::string_view::npos) throw fail("no closing ']'");
    host = item.substr(1, close - 1);
    std::string_view rest = item.substr(close + 1);
    if (rest.empty()) throw fail("no port");
    if (rest.front() != ':') throw fail("expected ':' after ']'");
    port = rest.substr(1);
  } else {
    size_t colon = item.rfind(':');
    if (colon == std::string_view::npos) throw fail("no port");
    if (item.find(':') != colon) throw fail("an IPv6 address needs brackets, as in [::1]:2222");
    host = item.substr(0, colon);
    port = item.substr(colon + 1);
  }
  if (host.empty()) throw fail("no host");
  if (port.empty()) throw fail("no port");
  uint64_t value = 0;
  for (char ch : port) {
    if (ch < '0' || ch > '9') throw fail(fmt::format("port '{}' is not a number", port));
    value = value * 10 + static_cast<uint64_t>(ch - '0');
    if (value > 1'000'000) break;  // already out of range; keeps the number from overflowing
  }
  if (value < 1 || value > 65535)
    throw fail(fmt::format("port {} out of range (1..65535)", port));
  return Endpoint{std::string(host), static_cast<uint16_t>(value)};
}

bool loopback_address(const sockaddr* a) {
  if (a->sa_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(a);
    return (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
  }
  if (a->sa_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(a);
    if (IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr)) return true;
    // ::ffff:127.x.y.z is the IPv4 loopback seen through a dual-stack socket.
    return IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr) && v6->sin6_addr.s6_addr[12] == 127;
  }
  return false;
}

}  // namespace

std::string Endpoint::str() const {
  if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

std::vector<Endpoint> parse_host_list(const std::string& list, const std::string& flag) {
  if (trim(list).empty()) throw NetError(fmt::format("{}: empty list", flag));
  std::vector<Endpoint> out;
  std::string_view rest = list;
  for (size_t index = 1;; ++index) {
    size_t comma = rest.find(',');
    std::string_view item = trim(rest.substr(0, comma));
    if (item.empty()) throw NetError(fmt::format("{}: item {}: empty item", flag, index));
    out.push_back(parse_item(item, index, flag));
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return out;
}

bool is_loopback_host(const std::string& host) {
  if (host.empty()) return false;  // an empty bind address means every interface
  if (strcasecmp(host.c_str(), "localhost") == 0) return true;
  sockaddr_in v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4.sin_addr) == 1) {
    v4.sin_family = AF_INET;
    return loopback_address(reinterpret_cast<const sockaddr*>(&v4));
  }
  sockaddr_in6 v6{};
  if (inet_pton(AF_INET6, host.c_str(), &v6.sin6_addr) == 1) {
    v6.sin6_family = AF_INET6;
    return loopback_address(reinterpret_cast<const sockaddr*>(&v6));
  }
  // A name: every address it resolves to must be loopback, or a peer elsewhere could reach
  // a PS that skipped the token.
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &found) != 0 || found == nullptr) return false;
  bool all = true;
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) all = all && loopback_address(a->ai_addr);
  freeaddrinfo(found);
  return all;
}

}  // namespace unet::net
