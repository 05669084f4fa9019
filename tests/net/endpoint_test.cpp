#include "net/endpoint.h"

#include <gtest/gtest.h>

namespace unet::net {
namespace {

std::string error_of(const std::string& list) {
  try {
    parse_host_list(list, "--ps_hosts");
  } catch (const NetError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Endpoint, ParsesAList) {
  auto v = parse_host_list("h0:2222,10.0.0.7:2224, [::1]:9 ,[fe80::1%eth0]:65535", "--ps_hosts");
  ASSERT_EQ(v.size(), 4u);
  EXPECT_EQ(v[0].host, "h0");
  EXPECT_EQ(v[0].port, 2222);
  EXPECT_EQ(v[1].host, "10.0.0.7");
  EXPECT_EQ(v[1].port, 2224);
  EXPECT_EQ(v[2].host, "::1");
  EXPECT_EQ(v[2].port, 9);
  EXPECT_EQ(v[3].host, "fe80::1%eth0");
  EXPECT_EQ(v[3].port, 65535);
}

TEST(Endpoint, Str) {
  EXPECT_EQ((Endpoint{"h0", 2222}).str(), "h0:2222");
  EXPECT_EQ((Endpoint{"::1", 2222}).str(), "[::1]:2222");
  auto v = parse_host_list("[::1]:2222", "--ps_hosts");
  EXPECT_EQ(v[0].str(), "[::1]:2222");
}

TEST(Endpoint, Errors) {
  EXPECT_EQ(error_of("h0:2222,h1"), "--ps_hosts: item 2 'h1': no port");
  EXPECT_EQ(error_of("h0:70000"), "--ps_hosts: item 1 'h0:70000': port 70000 out of range (1..65535)");
  EXPECT_EQ(error_of("h0:0"), "--ps_hosts: item 1 'h0:0': port 0 out of range (1..65535)");
  EXPECT_EQ(error_of("h0:99999999999999999999999"),
            "--ps_hosts: item 1 'h0:99999999999999999999999': port 99999999999999999999999 out of range (1..65535)");
  EXPECT_EQ(error_of("h0:22a"), "--ps_hosts: item 1 'h0:22a': port '22a' is not a number");
  EXPECT_EQ(error_of("h0:"), "--ps_hosts: item 1 'h0:': no port");
  EXPECT_EQ(error_of(":2222"), "--ps_hosts: item 1 ':2222': no host");
  EXPECT_EQ(error_of("h0:1,,h1:2"), "--ps_hosts: item 2: empty item");
  EXPECT_EQ(error_of("h0:1,"), "--ps_hosts: item 2: empty item");
  EXPECT_EQ(error_of(""), "--ps_hosts: empty list");
  EXPECT_EQ(error_of("[::1]"), "--ps_hosts: item 1 '[::1]': no port");
  EXPECT_EQ(error_of("[::1:2222"), "--ps_hosts: item 1 '[::1:2222': no closing ']'");
  EXPECT_EQ(error_of("::1:2222"), "--ps_hosts: item 1 '::1:2222': an IPv6 address needs brackets, as in [::1]:2222");
}

TEST(Endpoint, Loopback) {
  for (const char* h : {"localhost", "LocalHost", "127.0.0.1", "127.5.6.7", "::1", "::ffff:127.0.0.1"})
    EXPECT_TRUE(is_loopback_host(h)) << h;
  for (const char* h : {"", "0.0.0.0", "::", "10.0.0.1", "8.8.8.8", "::ffff:10.0.0.1", "fe80::1"})
    EXPECT_FALSE(is_loopback_host(h)) << h;
}

}  // namespace
}  // namespace unet::net
