// The 3x3 backward-weights kernels (every AVX-512 tier the host runs) against the reference on
// the shapes that steer its pass loop: rows of 2 and 3 pixels (no pixel pair, an odd interior
// pixel), rows cut into column pieces (pieces without a left or right image edge, odd and even
// interiors), single-row images (only the centre vertical tap), 1 input channel (its own pass),
// and 1 to 5 dy blocks (item groups of 4 and their remainders; passes of 2 blocks and a lone
// block).
#include <gtest/gtest.h>

#include <cmath>
#include <string_view>
#include <vector>

#include "kernels/isa_tier.h"
#include "kernels/kernel_registry.h"
#include "tests/kernels/kernel_tester.h"

namespace unet::kernels {
namespace {

using testing::Shape;

std::vector<const KernelInfo*> bwd_weights_kernels() {
  std::vector<const KernelInfo*> out;
  for (const KernelInfo& k : avx512_kernels())
    if (k.family == Family::conv2d_bwd_weights && missing_features(k.tier).empty() &&
        k.name.find("3x3") != std::string_view::npos)
      out.push_back(&k);
  return out;
}

void expect_matches(const Shape& s) {
  const KernelInfo* ref = reference_kernel(Family::conv2d_bwd_weights);
  ASSERT_NE(ref, nullptr);
  const auto kernels = bwd_weights_kernels();
  ASSERT_FALSE(kernels.empty()) << "no 3x3 backward-weights kernel runs on this host";
  // A dw element sums n * h * w products of inputs in [-1, 1]: about sqrt(terms) / 3.
  const double rel = 1e-4;
  const testing::Tolerance tol{rel, rel * std::sqrt(double(s.n) * s.h * s.w) / 3};
  for (const KernelInfo* k : kernels)
    for (int pieces : {1, 3}) {
      const auto r = testing::compare_kernels(*ref, *k, Family::conv2d_bwd_weights, s, tol, pieces);
      EXPECT_TRUE(r.ok) << k->name << " pieces=" << pieces << " " << testing::describe(s) << r.report;
    }
}

Shape shape(int c, int c_out, int h, int w, bool accumulate) {
  Shape s;
  s.n = 2;
  s.c = c;
  s.c_out = c_out;
  s.h = h;
  s.w = w;
  s.accumulate = accumulate;
  return s;
}

TEST(Conv3x3BwdWeightsAvx512, NarrowRows) {
  for (int w : {1, 2, 3, 4, 5, 6})
    for (int h : {1, 2, 5}) expect_matches(shape(20, 40, h, w, w % 2 == 1));
}

TEST(Conv3x3BwdWeightsAvx512, RowsCutIntoColumnPieces) {
  // 2 pieces of 150 (odd interiors), 3 of 171 (a middle piece with no image edge), 2 of 260.
  for (int w : {300, 513, 520}) expect_matches(shape(16, 32, 3, w, w == 513));
}

TEST(Conv3x3BwdWeightsAvx512, EveryDyBlockCount) {
  for (int c_out : {16, 32, 40, 64, 80}) expect_matches(shape(33, c_out, 6, 10, c_out == 40));
}

// One-channel images take the 9-tap pass for their inner rows (in table loads of 64 rows:
// h = 70 needs two) and the 3-tap pass for the top and bottom rows.
TEST(Conv3x3BwdWeightsAvx512, OneInputChannel) {
  for (int c_out : {16, 32, 48}) expect_matches(shape(1, c_out, 9, 12, c_out == 32));
  const int hw[][2] = {{1, 2}, {2, 3}, {3, 5}, {5, 300}, {70, 4}, {4, 7}};
  for (const auto& d : hw) expect_matches(shape(1, 32, d[0], d[1], d[1] % 2 == 1));
}

}  // namespace
}  // namespace unet::kernels
