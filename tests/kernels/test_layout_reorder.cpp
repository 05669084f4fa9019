// The reorders between the outside world's layouts and ours: round trips, element positions,
// zeroed padding, untouched neighbours of a slice; and a packed Keras kernel run by the
// reference conv / tconv gives what Keras' definitions give on NHWC data.
#include <gtest/gtest.h>

#include "kernels/kernel_registry.h"
#include "kernels/layout_reorder.h"
#include "tests/kernels/kernel_tester.h"

namespace unet::kernels {
namespace {

using namespace testing;

std::vector<float> random_vector(size_t count, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> v(count);
  for (float& x : v) x = static_cast<float>(rng.uniform(-1, 1));
  return v;
}

class ChannelCount : public ::testing::TestWithParam<int> {};

TEST_P(ChannelCount, NhwcToBlockedAndBackIsTheIdentity) {
  const int n = 2, c = GetParam(), h = 3, w = 5;
  const std::vector<float> nhwc = random_vector(size_t(n) * h * w * c, c);
  for (int extra_blocks : {0, 1}) {
    OwnedTensor blocked = make_blocked(n, c, h, w, extra_blocks);
    fill_view(blocked, kStaleOutput);  // stale padding must be overwritten with zeros
    nhwc_to_blocked(nhwc.data(), blocked.view);
    for (int i = 0; i < n; ++i)
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
          for (int ch = 0; ch < c; ++ch)
            ASSERT_EQ(blocked.view.at(i, ch, y, x), nhwc[((size_t(i) * h + y) * w + x) * c + ch]);
    const auto pads = check_padding(blocked, "blocked");
    EXPECT_TRUE(pads.ok) << pads.report;
    std::vector<float> back(nhwc.size(), kStaleOutput);
    blocked_to_nhwc(blocked.view, back.data());
    EXPECT_EQ(back, nhwc);
  }
}

INSTANTIATE_TEST_SUITE_P(Layout, ChannelCount, ::testing::Values(1, 3, 16, 20, 33));

TEST(KernelPacking, ConvKernelRoundTripAndPositions) {
  for (auto [kh, kw, ci, co] : {std::array{3, 3, 3, 20}, std::array{1, 1, 33, 16}, std::array{3, 2, 17, 1}}) {
    const std::vector<float> keras = random_vector(size_t(kh) * kw * ci * co, ci * 100 + co);
    std::vector<float> packed(blocked_weight_floats(kh, kw, ci, co), kStaleOutput);
    pack_conv_kernel(keras.data(), kh, kw, ci, co, packed.data());
    OwnedTensor view = make_weights(co, ci, kh, kw);
    view.storage = packed;
    view.view.data = view.storage.data();
    EXPECT_TRUE(check_padding(view, "packed").ok);
    for (int ky = 0; ky < kh; ++ky)
      for (int kx = 0; kx < kw; ++kx)
        for (int i = 0; i < ci; ++i)
          for (int o = 0; o < co; ++o)
            ASSERT_EQ(packed[weight_index(co, ci, kh, kw, o, i, ky, kx)],
                      keras[((size_t(ky) * kw + kx) * ci + i) * co + o]);
    std::vector<float> back(keras.size(), kStaleOutput);
    unpack_conv_kernel(packed.data(), kh, kw, ci, co, back.data());
    EXPECT_EQ(back, keras);
  }
}

TEST(KernelPacking, TconvKernelRoundTripAndPositions) {
  for (auto [kh, kw, ci, co] : {std::array{2, 2, 20, 3}, std::array{2, 2, 32, 16}, std::array{3, 1, 5, 17}}) {
    const std::vector<float> keras = random_vector(size_t(kh) * kw * ci * co, ci * 100 + co + 7);
    std::vector<float> packed(blocked_weight_floats(kh, kw, ci, co), kStaleOutput);
    pack_tconv_kernel(keras.data(), kh, kw, ci, co, packed.data());
    OwnedTensor view = make_weights(co, ci, kh, kw);
    view.storage = packed;
    view.view.data = view.storage.data();
    EXPECT_TRUE(check_padding(view, "packed").ok);
    for (int ky = 0; ky < kh; ++ky)
      for (int kx = 0; kx < kw; ++kx)
        for (int o = 0; o < co; ++o)
          for (int i = 0; i < ci; ++i)
            ASSERT_EQ(packed[weight_index(co, ci, kh, kw, o, i, ky, kx)],
                      keras[((size_t(ky) * kw + kx) * co + o) * ci + i]);
    std::vector<float> back(keras.size(), kStaleOutput);
    unpack_tconv_kernel(packed.data(), kh, kw, ci, co, back.data());
    EXPECT_EQ(back, keras);
  }
}

// Keras Conv2D, padding 'same', stride 1, straight from its definition on NHWC data.
std::vector<double> keras_conv_same(const std::vector<float>& x, const std::vector<float>& k, int n,
                                    int h, int w, int ci, int co, int kh, int kw) {
  std::vector<double> y(size_t(n) * h * w * co, 0.0);
  for (int i = 0; i < n; ++i)
    for (int oy = 0; oy < h; ++oy)
      for (int ox = 0; ox < w; ++ox)
        for (int o = 0; o < co; ++o) {
          double s = 0;
          for (int ky = 0; ky < kh; ++ky)
            for (int kx = 0; kx < kw; ++kx) {
              const int iy = oy + ky - (kh - 1) / 2, ix = ox + kx - (kw - 1) / 2;
              if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
              for (int c = 0; c < ci; ++c)
                s += double(x[((size_t(i) * h + iy) * w + ix) * ci + c]) *
                     k[((size_t(ky) * kw + kx) * ci + c) * co + o];
            }
          y[((size_t(i) * h + oy) * w + ox) * co + o] = s;
        }
  return y;
}

class KerasConvInputs : public ::testing::TestWithParam<int> {};

TEST_P(KerasConvInputs, PackedConvKernelComputesKerasConv2D) {
  const int n = 2, h = 5, w = 4, ci = GetParam(), co = 18, kh = 3, kw = 3;
  const std::vector<float> x = random_vector(size_t(n) * h * w * ci, 1);
  const std::vector<float> k = random_vector(size_t(kh) * kw * ci * co, 2);
  OwnedTensor xb = make_blocked(n, ci, h, w), yb = make_blocked(n, co, h, w);
  OwnedTensor wb = make_weights(co, ci, kh, kw), b = make_bias(co);
  nhwc_to_blocked(x.data(), xb.view);
  pack_conv_kernel(k.data(), kh, kw, ci, co, wb.storage.data());
  KernelCall call;
  call.t[0] = xb.view;
  call.t[1] = wb.view;
  call.t[2] = b.view;
  call.t[3] = yb.view;
  call.i[kAttrStride] = 1;
  call.i[kAttrPadTop] = call.i[kAttrPadLeft] = 1;
  run_split(*reference_kernel(Family::conv2d_fwd), call, 2);
  std::vector<float> y(size_t(n) * h * w * co);
  blocked_to_nhwc(yb.view, y.data());
  const std::vector<double> expected = keras_conv_same(x, k, n, h, w, ci, co, kh, kw);
  for (size_t j = 0; j < y.size(); ++j) ASSERT_NEAR(y[j], expected[j], 1e-5) << j;
}

INSTANTIATE_TEST_SUITE_P(Layout, KerasConvInputs, ::testing::Values(3, 16, 20));

TEST(KernelPacking, PackedTconvKernelComputesKerasConv2DTransposeK2S2) {
  // Keras Conv2DTranspose, kernel 2, stride 2, 'same': y[2iy+ky, 2ix+kx, o] = sum_c x[iy, ix, c] *
  // k[ky, kx, o, c].
  const int n = 1, h = 3, w = 2, ci = 17, co = 4, kh = 2, kw = 2;
  const std::vector<float> x = random_vector(size_t(n) * h * w * ci, 3);
  const std::vector<float> k = random_vector(size_t(kh) * kw * co * ci, 4);
  OwnedTensor xb = make_blocked(n, ci, h, w), yb = make_blocked(n, co, 2 * h, 2 * w);
  OwnedTensor wb = make_weights(co, ci, kh, kw), b = make_bias(co);
  nhwc_to_blocked(x.data(), xb.view);
  pack_tconv_kernel(k.data(), kh, kw, ci, co, wb.storage.data());
  KernelCall call;
  call.t[0] = xb.view;
  call.t[1] = wb.view;
  call.t[2] = b.view;
  call.t[3] = yb.view;
  call.i[kAttrStride] = 2;
  run_split(*reference_kernel(Family::tconv2d_fwd), call, 1);
  for (int iy = 0; iy < h; ++iy)
    for (int ix = 0; ix < w; ++ix)
      for (int ky = 0; ky < kh; ++ky)
        for (int kx = 0; kx < kw; ++kx)
          for (int o = 0; o < co; ++o) {
            double s = 0;
            for (int c = 0; c < ci; ++c)
              s += double(x[(size_t(iy) * w + ix) * ci + c]) * k[((size_t(ky) * kw + kx) * co + o) * ci + c];
            ASSERT_NEAR(yb.view.at(0, o, 2 * iy + ky, 2 * ix + kx), s, 1e-5);
          }
}

}  // namespace
}  // namespace unet::kernels
