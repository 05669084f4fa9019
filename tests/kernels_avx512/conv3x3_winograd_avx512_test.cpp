// The Winograd F(2x2,3x3) forward kernel against the reference kernel on the shapes it takes
// (batch sizes, channel counts at the edges of its range, small and odd-multiple-of-2 images,
// ReLU or none, sliced views, a folded max-pool and dropout, item ranges split and run
// concurrently), and
// supports() declining the shapes it leaves to the direct kernel.
#include <gtest/gtest.h>

#include <cmath>

#include "kernels/isa_tier.h"
#include "kernels/kernel_registry.h"
#include "tests/kernels/kernel_tester.h"

namespace unet::kernels {
namespace {

using testing::Shape;

constexpr const char* kName = "conv2d_fwd_f32_3x3_wino2x2_oc32_avx512";

const KernelInfo* winograd() { return find_kernel(kName); }

// The call supports() sees: dims and attributes of the shape's fixture.
bool supports(const Shape& s) {
  testing::Fixture fx(Family::conv2d_fwd, s);
  return winograd()->supports(fx.call());
}

// As the direct kernel's test (conv3x3_fwd_avx512_test.cpp): relative 1e-5, absolute
// rel * sqrt(9 C_in) / 3 for outputs that cancel to near zero. Winograd's transforms add a
// few roundings per output (the bench measures its max error 0.8x the direct kernel's at
// 32-128 channels), and it passes the same bound.
void expect_matches(const Shape& s) {
  const double rel = 1e-5;
  const testing::Tolerance tol{rel, rel * std::sqrt(9.0 * s.c) / 3};
  const KernelInfo& k = *winograd();
  ASSERT_TRUE(k.supports != nullptr);
  EXPECT_TRUE(supports(s)) << testing::describe(s);
  for (int pieces : {1, 2, 3}) {
    const auto r = testing::compare_kernels(*reference_kernel(Family::conv2d_fwd), k, Family::conv2d_fwd, s, tol, pieces);
    EXPECT_TRUE(r.ok) << "pieces=" << pieces << " " << testing::describe(s) << r.report;
  }
  for (int pieces : {2, 3}) {
    const auto r = testing::compare_kernels(*reference_kernel(Family::conv2d_fwd), k, Family::conv2d_fwd, s, tol,
                                            pieces, 1, /*concurrent=*/true);
    EXPECT_TRUE(r.ok) << "concurrent pieces=" << pieces << " " << testing::describe(s) << r.report;
  }
}

class WinogradFwd : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!missing_features(Tier::avx512).empty()) GTEST_SKIP() << "host lacks " << missing_features(Tier::avx512);
    ASSERT_NE(winograd(), nullptr);
  }
};

// Image sizes: one tile (2x2), and rows / columns of an odd number of tiles, so that items of
// 14 tiles start and end mid-row and mid-image; channels at the edges of the range.
TEST_F(WinogradFwd, MatchesTheReferenceAcrossTheRange) {
  struct Dims {
    int h, w;
  };
  struct Channels {
    int c, c_out;
  };
  int cases = 0;
  for (const Dims d : {Dims{2, 2}, Dims{6, 10}, Dims{14, 6}, Dims{10, 30}})
    for (const Channels ch : {Channels{16, 32}, Channels{128, 32}, Channels{48, 96}, Channels{32, 256}, Channels{128, 256}})
      for (int n : {1, 3}) {
        Shape s;
        s.n = n;
        s.c = ch.c;
        s.c_out = ch.c_out;
        s.h = d.h;
        s.w = d.w;
        s.act = (cases % 2) ? Activation::relu : Activation::none;
        s.extra_blocks = cases % 3 == 1 ? 1 : 0;  // sliced x and y views
        s.pool = cases % 4 == 2;
        expect_matches(s);
        ++cases;
      }
}

// The folded max-pool: each 2x2 output tile is one pool window.
TEST_F(WinogradFwd, FoldedPoolMatchesTheReference) {
  ASSERT_TRUE(winograd()->pool_epilogue);
  for (int extra : {0, 2}) {
    Shape s;
    s.n = 2;
    s.c = 64;
    s.c_out = 64;
    s.h = 18;
    s.w = 14;
    s.act = Activation::relu;
    s.pool = true;
    s.extra_blocks = extra;
    expect_matches(s);
  }
}

// A larger batch: items of one output group span many images.
TEST_F(WinogradFwd, ManyImages) {
  Shape s;
  s.n = 9;
  s.c = 32;
  s.c_out = 64;
  s.h = 4;
  s.w = 6;
  s.act = Activation::relu;
  expect_matches(s);
}

TEST_F(WinogradFwd, DeclinesWhatTheDirectKernelKeeps) {
  auto base = [] {
    Shape s;
    s.n = 2;
    s.c = 32;
    s.c_out = 32;
    s.h = 8;
    s.w = 8;
    return s;
  };
  EXPECT_TRUE(supports(base()));
  auto declines = [&](auto&& edit, const char* what) {
    Shape s = base();
    edit(s);
    EXPECT_FALSE(supports(s)) << what;
  };
  declines([](Shape& s) { s.h = 7; }, "odd height");
  declines([](Shape& s) { s.w = 9; }, "odd width");
  declines([](Shape& s) { s.stride = 2; s.pad_top = s.pad_left = 0; s.out_h = s.out_w = 3; }, "stride 2");
  declines([](Shape& s) { s.kh = s.kw = 1; s.pad_top = s.pad_left = 0; }, "1x1");
  declines([](Shape& s) { s.pad_top = s.pad_left = 0; }, "valid padding");
  declines([](Shape& s) { s.act = Activation::sigmoid; }, "sigmoid");
  declines([](Shape& s) { s.c = 20; }, "input channels not a multiple of 16");
  declines([](Shape& s) { s.c = 1; }, "one input channel");
  declines([](Shape& s) { s.c = 256; }, "input channels over 128");
  declines([](Shape& s) { s.c_out = 48; }, "output channels not a multiple of 32");
  declines([](Shape& s) { s.c_out = 16; }, "16 output channels");
  declines([](Shape& s) { s.c_out = 512; }, "output channels over 256");
}

// The folded dropout (the mask per output pixel of a tile), alone and before a folded pool,
// and the identity when evaluating.
TEST_F(WinogradFwd, FoldedDropoutMatchesTheReference) {
  ASSERT_TRUE(winograd()->dropout_epilogue);
  for (bool pool : {false, true}) {
    Shape s;
    s.n = 3;
    s.c = 32;
    s.c_out = 64;
    s.h = 6;
    s.w = 10;
    s.act = Activation::relu;
    s.dropout = true;
    s.rate = 0.4f;
    s.pool = pool;
    s.extra_blocks = pool ? 1 : 0;
    expect_matches(s);
  }
}

}  // namespace
}  // namespace unet::kernels
