// The 3x3 backward-weights kernels (every AVX-512 tier the host runs) against the reference on
// the shapes that steer its pass loop: rows of 2 and 3 pixels (no pixel pair, an odd interior
// pixel), rows cut into column pieces (pieces without a left or right image edge, odd and even
// interiors), single-row images (only the centre vertical tap), 1 input channel (its own pass),
// and 1 to 5 dy blocks (item groups of 4 and their remainders; passes of 2 blocks and a lone
// block). Its work items are half passes: dw and db must not depend on how [0, work) is split
// into ranges (a range may hold a unit's items whole, in part, or one alone), and the UNet's
// layers must make enough items for 16 threads.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
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

// dw and db of the kernel run in `pieces` ranges, bit for bit those of one range.
void expect_split_invariant(const KernelInfo& chosen, const Shape& s) {
  const Family f = Family::conv2d_bwd_weights;
  testing::Fixture whole(f, s);
  const KernelInfo& k = testing::kernel_running(chosen, whole.call());
  testing::run_split(k, whole.call(), 1);
  const size_t work = k.work(whole.call());
  auto expect_same = [&](testing::Fixture& split, const std::string& how) {
    for (int role : whole.outputs()) {
      const auto r = testing::compare_tensors(whole.tensor(role), split.tensor(role), testing::Tolerance{0, 0},
                                              "t" + std::to_string(role));
      EXPECT_TRUE(r.ok) << k.name << " " << how << " (work " << work << ") " << testing::describe(s) << r.report;
    }
  };
  for (int pieces : {2, 3, 7, 16, int(work)}) {
    testing::Fixture split(f, s);
    testing::run_split(k, split.call(), pieces);
    expect_same(split, "pieces=" + std::to_string(pieces));
  }
  {  // Every item a range of its own, the last first.
    testing::Fixture split(f, s);
    for (size_t i = work; i-- > 0;) k.run(split.call(), i, i + 1);
    expect_same(split, "one item a range");
  }
  {  // 7 ranges at once: items that shared a dw or db element would race.
    testing::Fixture split(f, s);
    testing::run_concurrently(k, split.call(), 7);
    expect_same(split, "7 concurrent ranges");
  }
}

// The UNet's 3x3 layers (input channels, output channels) on small images; rows of 7 pixels
// (an odd interior pixel) and of 300 (two column pieces).
TEST(Conv3x3BwdWeightsAvx512, UNetLayersSplitWithoutChangingResults) {
  const int layers[][2] = {{1, 32}, {32, 32}, {32, 64}, {64, 64}, {64, 128}, {128, 128}, {64, 32}, {128, 64}};
  for (const KernelInfo* k : bwd_weights_kernels())
    for (const auto& l : layers) expect_split_invariant(*k, shape(l[0], l[1], 4, 7, false));
  for (const KernelInfo* k : bwd_weights_kernels()) expect_split_invariant(*k, shape(32, 32, 3, 300, false));
  for (const auto& l : layers) expect_matches(shape(l[0], l[1], 4, 7, false));
}

// Input blocks of 1, 4 and 6 real lanes (a unit with one item per pair and tap; a pass whose
// upper half holds no lane; an odd count of half passes) and groups ending in a lone dy block.
TEST(Conv3x3BwdWeightsAvx512, OddChannelCountsSplitWithoutChangingResults) {
  const int layers[][2] = {{17, 48}, {20, 40}, {22, 40}, {3, 16}, {33, 80}, {16, 16}};
  for (const KernelInfo* k : bwd_weights_kernels())
    for (const auto& l : layers) expect_split_invariant(*k, shape(l[0], l[1], 3, 6, false));
  for (const auto& l : layers) expect_matches(shape(l[0], l[1], 3, 6, false));
}

// Every UNet 3x3 layer of more than one input channel, at batch 16, gives 16 threads at least
// two items each (the first layer, 1 input channel, has one item per dy block).
TEST(Conv3x3BwdWeightsAvx512, UNetLayersMakeItemsForSixteenThreads) {
  struct Layer {
    const char* name;
    int c, c_out, hw;
  };
  const Layer layers[] = {{"conv1b", 32, 32, 128},  {"conv2a", 32, 64, 64},   {"conv2b", 64, 64, 64},
                          {"conv3a", 64, 128, 32},  {"conv3b", 128, 128, 32}, {"conv4a", 128, 256, 16},
                          {"conv4b", 256, 256, 16}, {"conv5a", 256, 512, 8},  {"conv5b", 512, 512, 8},
                          {"conv6a", 512, 256, 16}, {"conv6b", 256, 256, 16}, {"conv7a", 256, 128, 32},
                          {"conv7b", 128, 128, 32}, {"conv8a", 128, 64, 64},  {"conv8b", 64, 64, 64},
                          {"conv9a", 64, 32, 128},  {"conv9b", 32, 32, 128}};
  for (const KernelInfo* k : bwd_weights_kernels())
    for (const Layer& l : layers) {
      // One image's tensors; the call is told of 16 (the item count needs no data).
      Shape s = shape(l.c, l.c_out, l.hw, l.hw, false);
      s.n = 1;
      testing::Fixture f(Family::conv2d_bwd_weights, s);
      f.call().t[0].n = f.call().t[1].n = 16;
      EXPECT_GE(k->work(f.call()), 32u) << k->name << " " << l.name;
    }
}

}  // namespace
}  // namespace unet::kernels
