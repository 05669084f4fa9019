// Shapes and tolerances the AVX-512 kernel suites share: the tester's standard shapes of a
// family plus the odd sizes of issue 3 (C = 16, 32, 48, 3, 20; H x W = 7x5, 16x16, 9x33,
// 8x8; sliced views; accumulate on and off).
#pragma once
#include <cmath>
#include <vector>

#include "kernels/kernel_family.h"
#include "tests/kernels/kernel_tester.h"

namespace unet::kernels::avx512_more_test {

using testing::Shape;

struct Dims {
  int c, c_out, h, w;
};

inline constexpr Dims kOddDims[] = {{16, 32, 7, 5}, {32, 16, 16, 16}, {48, 20, 9, 33},
                                    {3, 48, 8, 8},  {20, 3, 7, 5},    {32, 1, 9, 33}};

// The standard shapes of `family` and every odd size with the given kernel geometry, the
// variants cycling through accumulate, sliced views and activations.
inline std::vector<Shape> shapes_for(Family family, int k, int stride, int pad) {
  std::vector<Shape> out = testing::standard_shapes(family);
  int variant = 0;
  for (const Dims& d : kOddDims)
    for (int v = 0; v < 2; ++v, ++variant) {
      Shape s;
      s.n = 2;
      s.c = d.c;
      s.c_out = d.c_out;
      s.h = d.h;
      s.w = d.w;
      s.kh = s.kw = k;
      s.stride = stride;
      s.pad_top = s.pad_left = pad;
      s.act = static_cast<Activation>(variant % 3);
      s.accumulate = v == 1;
      s.extra_blocks = (variant / 2) % 2;
      s.rate = v == 0 ? 0.2f : 0.5f;
      out.push_back(s);
    }
  return out;
}

// Terms in one output sum, to scale the absolute tolerance to the size of the sums: inputs
// are uniform in [-1, 1] and weights in [-0.5, 0.5], so a sum of k terms is about sqrt(k)/3.
inline double sum_scale(Family f, const Shape& s) {
  double terms = 1;
  switch (f) {
    case Family::conv2d_fwd:
    case Family::tconv2d_fwd: terms = double(s.kh) * s.kw * s.c; break;
    case Family::conv2d_bwd_data:
    case Family::tconv2d_bwd_data: terms = double(s.kh) * s.kw * s.c_out; break;
    case Family::conv2d_bwd_weights:
    case Family::tconv2d_bwd_weights: terms = double(s.n) * s.h * s.w; break;
    default: break;
  }
  return std::max(1.0, std::sqrt(terms) / 3);
}

inline bool is_forward(Family f) {
  switch (f) {
    case Family::conv2d_fwd:
    case Family::tconv2d_fwd:
    case Family::maxpool2d_fwd:
    case Family::upsample2d_fwd:
    case Family::dropout_fwd:
    case Family::copy_channels:
    case Family::sigmoid_dice_fwd:
    case Family::adam_update: return true;
    default: return false;
  }
}

inline testing::Tolerance tolerance(Family f, const Shape& s) {
  const double rel = is_forward(f) ? 1e-5 : 1e-4;
  return {rel, rel * sum_scale(f, s)};
}

}  // namespace unet::kernels::avx512_more_test
