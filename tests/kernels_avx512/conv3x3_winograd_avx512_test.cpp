// The Winograd F(2x2,3x3) forward and backward-data kernels against the reference kernels on
// the shapes they take (batch sizes, channel counts at the edges of their range, small and
// odd-multiple-of-2 images, ReLU or none, accumulation, the folded ReLU backward, sliced
// views, a folded max-pool and dropout, item ranges split and run concurrently), and
// supports() declining the shapes they leave to the direct kernels.
#include <gtest/gtest.h>

#include <cmath>
#include <initializer_list>

#include "kernels/isa_tier.h"
#include "kernels/kernel_registry.h"
#include "tests/kernels/kernel_tester.h"

namespace unet::kernels {
namespace {

using testing::Shape;

// A kernel under test and its tolerance: as the direct kernel's tests
// (conv3x3_fwd_avx512_test.cpp), relative `rel`, absolute rel * sqrt(terms) / 3 for outputs
// that cancel to near zero, terms = 9 x the channels each sum runs over. Winograd's transforms
// add a few roundings per output (the bench measures its max error 0.6-0.8x the direct
// kernel's at 32-128 channels), and it passes the same bounds.
struct Kernel {
  const char* name;
  Family family;
  double rel;
  const KernelInfo* info() const { return find_kernel(name); }
  // The channels each output sums over: the forward's input, the backward-data's dy (a
  // Shape's c_out). A Shape's c is the forward conv's input channels, dx's for backward-data.
  int summed_channels(const Shape& s) const { return family == Family::conv2d_fwd ? s.c : s.c_out; }
};

constexpr Kernel kForward{"conv2d_fwd_f32_3x3_wino2x2_oc32_avx512", Family::conv2d_fwd, 1e-5};
constexpr Kernel kBwdData{"conv2d_bwd_data_f32_3x3_wino2x2_ic32_avx512", Family::conv2d_bwd_data, 1e-4};

// The call supports() sees: dims and attributes of the shape's fixture.
bool supports(const Kernel& k, const Shape& s) {
  testing::Fixture fx(k.family, s);
  return k.info()->supports(fx.call());
}

// Against the reference, item ranges run in 1, 2 and 3 pieces, and 2 and 3 concurrently.
// `expect_supported`: false for the shapes that run the direct kernel through it.
void expect_matches(const Kernel& kernel, const Shape& s, bool expect_supported = true) {
  const testing::Tolerance tol{kernel.rel, kernel.rel * std::sqrt(9.0 * kernel.summed_channels(s)) / 3};
  const KernelInfo& k = *kernel.info();
  const KernelInfo& ref = *reference_kernel(kernel.family);
  ASSERT_TRUE(k.supports != nullptr);
  EXPECT_EQ(supports(kernel, s), expect_supported) << testing::describe(s);
  for (int pieces : {1, 2, 3}) {
    const auto r = testing::compare_kernels(ref, k, kernel.family, s, tol, pieces);
    EXPECT_TRUE(r.ok) << "pieces=" << pieces << " " << testing::describe(s) << r.report;
  }
  for (int pieces : {2, 3}) {
    const auto r = testing::compare_kernels(ref, k, kernel.family, s, tol, pieces, 1, /*concurrent=*/true);
    EXPECT_TRUE(r.ok) << "concurrent pieces=" << pieces << " " << testing::describe(s) << r.report;
  }
}

// supports() takes `base` and declines each edit of it, and each of the geometries that are
// not a 3x3 stride-1 "same" conv on even sizes.
struct Decline {
  const char* what;
  void (*edit)(Shape&);
};
void expect_declines(const Kernel& k, const Shape& base, std::initializer_list<Decline> edits) {
  const Decline geometry[] = {
      {"odd height", [](Shape& s) { s.h = 7; }},
      {"odd width", [](Shape& s) { s.w = 9; }},
      {"stride 2", [](Shape& s) { s.stride = 2; s.pad_top = s.pad_left = 0; s.out_h = s.out_w = 3; }},
      {"1x1", [](Shape& s) { s.kh = s.kw = 1; s.pad_top = s.pad_left = 0; }},
      {"valid padding", [](Shape& s) { s.pad_top = s.pad_left = 0; }}};
  EXPECT_TRUE(supports(k, base)) << testing::describe(base);
  auto check = [&](const Decline& d) {
    Shape s = base;
    d.edit(s);
    EXPECT_FALSE(supports(k, s)) << d.what;
  };
  for (const Decline& d : geometry) check(d);
  for (const Decline& d : edits) check(d);
}

Shape shape_of(int n, int c, int c_out, int h, int w) {
  Shape s;
  s.n = n;
  s.c = c;
  s.c_out = c_out;
  s.h = h;
  s.w = w;
  return s;
}

// Image sizes: one tile (2x2), and rows / columns of an odd number of tiles, so that items of
// 14 tiles start and end mid-row and mid-image; batch 1 and 3; each (c, c_out) of `channels`;
// sliced views every third case. vary(s, case, variant) sets the rest, `variants` times a shape.
template <typename Vary>
void expect_matches_across_sizes(const Kernel& k, std::initializer_list<std::pair<int, int>> channels, int variants,
                                 Vary&& vary) {
  int cases = 0;
  for (const auto& [h, w] : {std::pair{2, 2}, std::pair{6, 10}, std::pair{14, 6}, std::pair{10, 30}})
    for (const auto& [c, c_out] : channels)
      for (int n : {1, 3})
        for (int v = 0; v < variants; ++v) {
          Shape s = shape_of(n, c, c_out, h, w);
          s.extra_blocks = cases % 3 == 1 ? 1 : 0;
          vary(s, cases, v);
          expect_matches(k, s);
          ++cases;
        }
}

class WinogradTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The AVX-512 tests need an AVX-512 host (as the direct kernels' do): fail, not skip.
    ASSERT_EQ(missing_features(Tier::avx512), "") << "the AVX-512 tests need an AVX-512 host";
    ASSERT_NE(kForward.info(), nullptr);
    ASSERT_NE(kBwdData.info(), nullptr);
  }
};
using WinogradFwd = WinogradTest;
using WinogradBwdData = WinogradTest;

// Channels at the edges of the range, ReLU or none, a folded pool. 128 and 256 input
// channels run on the two scratch sizes; 240 is a 256-channel frame part used.
TEST_F(WinogradFwd, MatchesTheReferenceAcrossTheRange) {
  expect_matches_across_sizes(kForward,
                              {{16, 32}, {128, 32}, {48, 96}, {32, 256}, {128, 256}, {144, 32}, {240, 64}, {256, 256}},
                              1,
                              [](Shape& s, int cases, int) {
                                s.act = (cases % 2) ? Activation::relu : Activation::none;
                                s.pool = cases % 4 == 2;
                              });
}

// The folded max-pool: each 2x2 output tile is one pool window.
TEST_F(WinogradFwd, FoldedPoolMatchesTheReference) {
  ASSERT_TRUE(kForward.info()->pool_epilogue);
  for (int extra : {0, 2}) {
    Shape s = shape_of(2, 64, 64, 18, 14);
    s.act = Activation::relu;
    s.pool = true;
    s.extra_blocks = extra;
    expect_matches(kForward, s);
  }
}

// A larger batch: items of one output group span many images.
TEST_F(WinogradFwd, ManyImages) {
  Shape s = shape_of(9, 32, 64, 4, 6);
  s.act = Activation::relu;
  expect_matches(kForward, s);
}

TEST_F(WinogradFwd, DeclinesWhatTheDirectKernelKeeps) {
  expect_declines(kForward, shape_of(2, 32, 32, 8, 8),
                  {{"sigmoid", [](Shape& s) { s.act = Activation::sigmoid; }},
                   {"input channels not a multiple of 16", [](Shape& s) { s.c = 20; }},
                   {"one input channel", [](Shape& s) { s.c = 1; }},
                   {"input channels over 256", [](Shape& s) { s.c = 272; }},
                   {"512 input channels", [](Shape& s) { s.c = 512; }},
                   {"output channels not a multiple of 32", [](Shape& s) { s.c_out = 48; }},
                   {"16 output channels", [](Shape& s) { s.c_out = 16; }},
                   {"output channels over 256", [](Shape& s) { s.c_out = 512; }}});
}

// The folded dropout (the mask per output pixel of a tile), alone and before a folded pool,
// and the identity when evaluating.
TEST_F(WinogradFwd, FoldedDropoutMatchesTheReference) {
  ASSERT_TRUE(kForward.info()->dropout_epilogue);
  for (bool pool : {false, true}) {
    Shape s = shape_of(3, 32, 64, 6, 10);
    s.act = Activation::relu;
    s.dropout = true;
    s.rate = 0.4f;
    s.pool = pool;
    s.extra_blocks = pool ? 1 : 0;
    expect_matches(kForward, s);
  }
}

// ---------------------------------------------------------------------------------------------
// Backward-data. In a Shape, c is dx's channel count (the forward conv's input) and c_out
// dy's.

// Channels (dx, dy) at the edges of the range, each with every combination of accumulate
// and relu_y. 128 and 256 dy channels run on the two scratch sizes; 144 and 240 part-use them.
// 256 into 256 (the UNet's conv4b) has a test of its own, on fewer sizes: the scalar reference
// is slow there.
TEST_F(WinogradBwdData, MatchesTheReferenceAcrossTheRange) {
  ASSERT_TRUE(kBwdData.info()->relu_mask);  // else compare_kernels would leave relu_y out
  expect_matches_across_sizes(kBwdData,
                              {{32, 16}, {32, 128}, {96, 48}, {256, 32}, {256, 128}, {64, 144}, {32, 240}, {32, 256}},
                              4,
                              [](Shape& s, int, int variant) {
                                s.accumulate = variant & 1;
                                s.relu_mask = variant & 2;
                              });
}

// The whole range at once, 256 dy channels into 256 dx: 8 groups of U at the largest K.
TEST_F(WinogradBwdData, MatchesTheReferenceAtTheLargestChannels) {
  for (int mode = 0; mode < 4; ++mode) {
    Shape s = shape_of(mode < 2 ? 1 : 2, 256, 256, 6, 10);
    s.accumulate = mode & 1;
    s.relu_mask = mode & 2;
    s.extra_blocks = mode == 1 ? 1 : 0;
    expect_matches(kBwdData, s);
  }
}

// A larger batch: items of one dx group span many images.
TEST_F(WinogradBwdData, ManyImages) {
  for (int mode = 0; mode < 4; ++mode) {
    Shape s = shape_of(9, 64, 32, 4, 6);
    s.accumulate = mode & 1;
    s.relu_mask = mode & 2;
    s.extra_blocks = mode == 3 ? 2 : 0;
    expect_matches(kBwdData, s);
  }
}

TEST_F(WinogradBwdData, DeclinesWhatTheDirectKernelKeeps) {
  Shape with_both = shape_of(2, 32, 16, 8, 8);
  with_both.accumulate = true;
  with_both.relu_mask = true;
  EXPECT_TRUE(supports(kBwdData, with_both)) << "accumulate and relu_y";
  expect_declines(kBwdData, shape_of(2, 32, 16, 8, 8),
                  {{"dy channels not a multiple of 16", [](Shape& s) { s.c_out = 20; }},
                   {"one dy channel", [](Shape& s) { s.c_out = 1; }},
                   {"dy channels over 256", [](Shape& s) { s.c_out = 272; }},
                   {"512 dy channels", [](Shape& s) { s.c_out = 512; }},
                   {"dx channels not a multiple of 32", [](Shape& s) { s.c = 48; }},
                   {"16 dx channels", [](Shape& s) { s.c = 16; }},
                   {"one dx channel", [](Shape& s) { s.c = 1; }},
                   {"dx channels over 256", [](Shape& s) { s.c = 512; }}});
}

// Declined shapes still compute: work() and run() hand them to the direct kernel.
TEST_F(WinogradBwdData, DeclinedShapesRunTheDirectKernel) {
  Shape s = shape_of(2, 48, 20, 7, 5);
  s.accumulate = true;
  s.relu_mask = true;
  expect_matches(kBwdData, s, /*expect_supported=*/false);
}

}  // namespace
}  // namespace unet::kernels
