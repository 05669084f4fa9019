#include "net/crc32c.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string_view>
#include <vector>

namespace unet::net {
namespace {

std::vector<unsigned char> random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<unsigned char> v(n);
  for (auto& b : v) b = static_cast<unsigned char>(rng());
  return v;
}

TEST(Crc32c, CheckValue) {
  constexpr std::string_view kCheck = "123456789";
  EXPECT_EQ(crc32c(kCheck.data(), kCheck.size()), 0xE3069283u);
  EXPECT_EQ(crc32c_portable(kCheck.data(), kCheck.size()), 0xE3069283u);
  EXPECT_EQ(crc32c(nullptr, 0), 0u);
}

// RFC 3720 (iSCSI), appendix B.4.
TEST(Crc32c, IscsiVectors) {
  unsigned char zeros[32] = {}, ones[32], up[32], down[32];
  std::memset(ones, 0xFF, sizeof ones);
  for (int i = 0; i < 32; ++i) {
    up[i] = static_cast<unsigned char>(i);
    down[i] = static_cast<unsigned char>(31 - i);
  }
  EXPECT_EQ(crc32c(zeros, 32), 0x8A9136AAu);
  EXPECT_EQ(crc32c(ones, 32), 0x62A8AB43u);
  EXPECT_EQ(crc32c(up, 32), 0x46DD794Eu);
  EXPECT_EQ(crc32c(down, 32), 0x113FDB5Cu);
}

TEST(Crc32c, MatchesPortableOnEveryShortLengthAndAlignment) {
  auto buf = random_bytes(1024, 1);
  for (size_t align = 0; align < 16; ++align)
    for (size_t n = 0; n <= 600; ++n)
      ASSERT_EQ(crc32c(buf.data() + align, n), crc32c_portable(buf.data() + align, n))
          << "align " << align << " length " << n;
}

TEST(Crc32c, MatchesPortableOnLongBuffers) {
  auto buf = random_bytes(200000, 2);
  // Around the three-stream block boundaries and well past them.
  for (size_t n : {4095u, 4096u, 12287u, 12288u, 12289u, 12295u, 24576u, 24583u, 36863u, 65536u, 199990u})
    for (size_t align : {0u, 1u, 3u, 7u})
      ASSERT_EQ(crc32c(buf.data() + align, n), crc32c_portable(buf.data() + align, n))
          << "align " << align << " length " << n;
}

TEST(Crc32c, Chains) {
  auto buf = random_bytes(50000, 3);
  uint32_t whole = crc32c_portable(buf.data(), buf.size());
  for (size_t cut : {0u, 1u, 7u, 100u, 4096u, 12289u, 30000u, 49999u, 50000u}) {
    uint32_t a = crc32c(buf.data(), cut);
    EXPECT_EQ(crc32c(buf.data() + cut, buf.size() - cut, a), whole) << "cut " << cut;
    uint32_t p = crc32c_portable(buf.data(), cut);
    EXPECT_EQ(crc32c_portable(buf.data() + cut, buf.size() - cut, p), whole) << "cut " << cut;
  }
  // Many small pieces of random sizes.
  std::mt19937 rng(4);
  uint32_t crc = 0;
  for (size_t at = 0; at < buf.size();) {
    size_t n = std::min<size_t>(rng() % 20000, buf.size() - at);
    crc = crc32c(buf.data() + at, n, crc);
    at += n;
  }
  EXPECT_EQ(crc, whole);
}

}  // namespace
}  // namespace unet::net
