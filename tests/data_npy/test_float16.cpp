#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>

#include "data/npy.h"
#include "numpy_oracle.h"

namespace unet::data {
namespace {

class NpyFloat16VsNumpy : public testing::NumpyTest {};

using testing::NumpyTest;

TEST(NpyFloat16, SpecialValuesToFloat) {
  EXPECT_EQ(f16_to_f32(0x3c00), 1.0f);
  EXPECT_EQ(f16_to_f32(0xc000), -2.0f);
  EXPECT_EQ(f16_to_f32(0x7bff), 65504.0f);
  EXPECT_EQ(f16_to_f32(0x7c00), std::numeric_limits<float>::infinity());
  EXPECT_EQ(f16_to_f32(0xfc00), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(f16_to_f32(0x7e00)));
  EXPECT_TRUE(std::isnan(f16_to_f32(0x7c01)));  // signalling pattern stays a nan
  EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(f16_to_f32(0x03ff), std::ldexp(1023.0f, -24));  // largest subnormal
  EXPECT_EQ(f16_to_f32(0x0400), std::ldexp(1.0f, -14));  // smallest normal
  EXPECT_EQ(f16_to_f32(0x8000), 0.0f);
  EXPECT_TRUE(std::signbit(f16_to_f32(0x8000)));
  EXPECT_EQ(f16_to_f32(0x8001), -std::ldexp(1.0f, -24));
}

TEST(NpyFloat16, RoundsToNearestEven) {
  EXPECT_EQ(f32_to_f16(1.0f), 0x3c00);
  EXPECT_EQ(f32_to_f16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);       // halfway, down to even
  EXPECT_EQ(f32_to_f16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);   // halfway, up to even
  EXPECT_EQ(f32_to_f16(1.0f + std::ldexp(1.0f, -11) + std::ldexp(1.0f, -20)), 0x3c01);
  EXPECT_EQ(f32_to_f16(65504.0f), 0x7bff);
  EXPECT_EQ(f32_to_f16(65519.996f), 0x7bff);
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7c00);  // halfway to 2^16 rounds to even: overflow
  EXPECT_EQ(f32_to_f16(1e10f), 0x7c00);
  EXPECT_EQ(f32_to_f16(-std::numeric_limits<float>::infinity()), 0xfc00);
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -25)), 0x0000);  // half the smallest subnormal: even is 0
  EXPECT_EQ(f32_to_f16(std::nextafter(std::ldexp(1.0f, -25), 1.0f)), 0x0001);
  EXPECT_EQ(f32_to_f16(3 * std::ldexp(1.0f, -25)), 0x0002);  // 1.5 subnormal units: to even 2
  EXPECT_EQ(f32_to_f16(std::ldexp(1023.5f, -24)), 0x0400);  // rounds up into the normals
  EXPECT_EQ(f32_to_f16(-0.0f), 0x8000);
  EXPECT_EQ(f32_to_f16(1e-30f), 0x0000);
  uint16_t nan = f32_to_f16(std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(nan & 0x7c00, 0x7c00);
  EXPECT_NE(nan & 0x03ff, 0);
  EXPECT_TRUE(std::isnan(f16_to_f32(f32_to_f16(std::bit_cast<float>(0x7f800001u)))));  // tiny payload
}

TEST_F(NpyFloat16VsNumpy, EveryHalfMatchesNumpy) {
  expect_python_ok(R"(
h = np.arange(65536, dtype=np.uint32).astype(np.uint16).view('<f2')
h.astype('<f4').tofile('expected.f32')
np.arange(65536, dtype=np.uint32).astype('<u2').tofile('bits.u16')
)");
  std::vector<float> expected = testing::read_raw_f32(file("expected.f32"));
  ASSERT_EQ(expected.size(), 65536u);
  for (uint32_t bits = 0; bits < 65536; ++bits) {
    float got = f16_to_f32(static_cast<uint16_t>(bits));
    ASSERT_EQ(std::bit_cast<uint32_t>(got), std::bit_cast<uint32_t>(expected[bits])) << "half bits " << bits;
  }
}

TEST_F(NpyFloat16VsNumpy, FloatToHalfMatchesNumpy) {
  // Random bit patterns over the whole float range, plus every halfway point near the edges.
  expect_python_ok(R"(
rng = np.random.default_rng(7)
bits = rng.integers(0, 2**32, size=200000, dtype=np.uint64).astype(np.uint32)
narrow = rng.integers(0x33000000 - 1000, 0x47800000 + 1000, size=200000, dtype=np.uint64).astype(np.uint32)
halves = np.arange(0, 0x7c00, dtype=np.uint32).astype(np.uint16).view('<f2').astype('<f8')
mid = ((halves[:-1] + halves[1:]) / 2).astype('<f4')
x = np.concatenate([bits.view('<f4'), narrow.view('<f4'), mid, -mid])
x.astype('<f4').tofile('input.f32')
with np.errstate(all='ignore'):
    x.astype('<f2').tofile('expected.f16')
)");
  std::vector<float> input = testing::read_raw_f32(file("input.f32"));
  std::string expected = testing::read_file(file("expected.f16"));
  ASSERT_GT(input.size(), 400000u);
  ASSERT_EQ(expected.size(), input.size() * 2);
  size_t mismatches = 0;
  for (size_t i = 0; i < input.size(); ++i) {
    uint16_t want = static_cast<uint16_t>(static_cast<uint8_t>(expected[2 * i]) |
                                          (static_cast<uint8_t>(expected[2 * i + 1]) << 8));
    uint16_t got = f32_to_f16(input[i]);
    bool both_nan = std::isnan(input[i]) && (got & 0x7c00) == 0x7c00 && (got & 0x3ff) && (want & 0x3ff);
    if (got != want && !both_nan && ++mismatches < 10)
      ADD_FAILURE() << "float bits 0x" << std::hex << std::bit_cast<uint32_t>(input[i]) << ": got 0x" << got
                    << ", numpy 0x" << want;
  }
  EXPECT_EQ(mismatches, 0u);
}

}  // namespace
}  // namespace unet::data
