// The 2x2 stride-2 transposed conv kernels against the reference on shapes that reach the
// edges of their tiling, which the odd sizes of shapes.h (at most 48 channels, one work range
// per image) do not: several forward passes over the input blocks (bias at the first, the
// activation at the last), a last dx group of fewer than four blocks after a full one, pixel
// tiles that cross rows and images split into several ranges, and backward-weights panels
// that span output blocks and follow one another. Every tier the host supports, one range,
// uneven ranges, two threads.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kernels/isa_tier.h"
#include "kernels/kernel_registry.h"
#include "tests/kernels/kernel_tester.h"
#include "tests/kernels_avx512_more/shapes.h"

namespace unet::kernels {
namespace {

using avx512_more_test::tolerance;
using testing::Shape;

std::vector<Shape> tiling_edge_shapes() {
  std::vector<Shape> out;
  auto add = [&](int n, int ci, int co, int h, int w, Activation act, bool accumulate, int extra_blocks) {
    Shape s;
    s.n = n;
    s.c = ci;
    s.c_out = co;
    s.h = h;
    s.w = w;
    s.kh = s.kw = 2;
    s.stride = 2;
    s.pad_top = s.pad_left = 0;
    s.act = act;
    s.accumulate = accumulate;
    s.extra_blocks = extra_blocks;
    out.push_back(s);
  };
  // 5 input blocks: forward passes of 4 + 1 blocks; dx groups of 4 + 1 blocks; 15 (ob, ib)
  // items: panels of 8 + 7 that cross output blocks. 17 x 19 = 323 pixels: two ranges.
  add(2, 80, 40, 17, 19, Activation::sigmoid, false, 0);
  add(2, 80, 40, 17, 19, Activation::relu, true, 1);
  // 9 input blocks, 3 lanes in the last (passes 4 + 4 + 1; groups 4 + 4 + 1); 1 output lane.
  add(1, 131, 1, 5, 7, Activation::none, true, 0);
  // 8-pixel rows as in the UNet's deepest transposed conv: tiles of 6 cross rows.
  add(3, 64, 33, 8, 8, Activation::relu, false, 2);
  // One pixel wide and one tall.
  add(2, 36, 18, 1, 13, Activation::none, false, 0);
  add(2, 36, 18, 11, 1, Activation::sigmoid, true, 0);
  // dy wider than the backward-data kernel's stack buffer (34 blocks): the reference path.
  add(1, 20, 530, 3, 2, Activation::relu, true, 0);
  return out;
}

void check(Family family) {
  int kernels = 0;
  for (const KernelInfo& k : avx512_more_kernels()) {
    if (k.family != family || !missing_features(k.tier).empty()) continue;
    ++kernels;
    int case_no = 0;
    for (const Shape& s : tiling_edge_shapes()) {
      const auto tol = tolerance(family, s);
      for (int pieces : {1, 5}) {
        const auto r = testing::compare_kernels(*reference_kernel(family), k, family, s, tol, pieces, 11 + case_no);
        EXPECT_TRUE(r.ok) << k.name << " pieces=" << pieces << " " << testing::describe(s) << r.report;
      }
      const auto r = testing::compare_kernels(*reference_kernel(family), k, family, s, tol, 2, 17 + case_no, true);
      EXPECT_TRUE(r.ok) << k.name << " on 2 threads " << testing::describe(s) << r.report;
      ++case_no;
    }
  }
  EXPECT_GT(kernels, 0) << "this host runs no AVX-512 tier";
}

TEST(Tconv2dAvx512, ForwardTilingEdgesMatchReference) { check(Family::tconv2d_fwd); }
TEST(Tconv2dAvx512, BackwardDataTilingEdgesMatchReference) { check(Family::tconv2d_bwd_data); }
TEST(Tconv2dAvx512, BackwardWeightsTilingEdgesMatchReference) { check(Family::tconv2d_bwd_weights); }

}  // namespace
}  // namespace unet::kernels
