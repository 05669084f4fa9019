// The 3x3 forward and backward-data kernels' register tile (2 output blocks x up to 12 pixels
// of a row, its first / last pixel at the image border or not) and their prefetch of the next
// unit of work, against the reference kernels in every AVX-512 tier the host supports.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "kernels/isa_tier.h"
#include "kernels/kernel_registry.h"
#include "tests/kernels/kernel_tester.h"

namespace unet::kernels {
namespace {

using testing::Shape;

std::vector<const KernelInfo*> conv3x3_kernels(Family family) {
  std::vector<const KernelInfo*> out;
  for (const KernelInfo& k : avx512_kernels())
    if (k.family == family && missing_features(k.tier).empty()) out.push_back(&k);
  return out;
}

void expect_matches(Family family, const Shape& s, double rel, int pieces) {
  const double terms = 9.0 * (family == Family::conv2d_fwd ? s.c : s.c_out);
  const testing::Tolerance tol{rel, rel * std::sqrt(terms) / 3};
  for (const KernelInfo* k : conv3x3_kernels(family)) {
    const auto r = testing::compare_kernels(*reference_kernel(family), *k, family, s, tol, pieces);
    EXPECT_TRUE(r.ok) << k->name << " pieces=" << pieces << " " << testing::describe(s) << r.report;
  }
}

// Widths 1..26 cut rows into every tile width from 1 to 12, alone (left and right border),
// first, inner and last in a row; 48 channels give one group of 2 output blocks and one of 1.
TEST(Conv3x3FwdAvx512, EveryTileWidthAndBorder) {
  for (Family f : {Family::conv2d_fwd, Family::conv2d_bwd_data}) {
    ASSERT_FALSE(conv3x3_kernels(f).empty());
    for (int w = 1; w <= 26; ++w) {
      Shape s;
      s.n = 2;
      s.c = 32;
      s.c_out = 48;
      s.h = 4;
      s.w = w;
      s.act = w % 2 ? Activation::relu : Activation::none;
      s.relu_mask = w % 3 == 0;
      expect_matches(f, s, f == Family::conv2d_fwd ? 1e-5 : 1e-4, 1 + w % 3);
    }
  }
}

// Items of several input passes, of whole images and of bands of rows, split into ranges
// that end mid-item: each unit prefetches the next one's rows, weights and outputs (a
// prefetch reads nothing the kernel uses, so results must not depend on it).
TEST(Conv3x3FwdAvx512, PassesAndItemsAcrossRanges) {
  struct Dims {
    int c, c_out, h, w;
  };
  for (const Dims d : {Dims{80, 48, 3, 40}, Dims{48, 80, 9, 9}, Dims{96, 32, 70, 3}, Dims{17, 33, 5, 130}})
    for (Family f : {Family::conv2d_fwd, Family::conv2d_bwd_data})
      for (bool accumulate : {false, true}) {
        Shape s;
        s.n = 3;
        s.c = d.c;
        s.c_out = d.c_out;
        s.h = d.h;
        s.w = d.w;
        s.accumulate = accumulate;
        s.relu_mask = !accumulate;
        s.extra_blocks = accumulate ? 1 : 0;
        expect_matches(f, s, f == Family::conv2d_fwd ? 1e-5 : 1e-4, 7);
      }
}

}  // namespace
}  // namespace unet::kernels
