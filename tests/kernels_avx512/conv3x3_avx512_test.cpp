// The AVX-512 conv kernels against the reference kernels, in every tier the host supports:
// odd shapes (channel counts below, at and across a block; narrow, wide and tiny images),
// channel-slice views, accumulate on/off, every activation, shapes the fast path hands to the
// reference, and results independent of how the work is split into ranges.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "kernels/isa_tier.h"
#include "kernels/kernel_registry.h"
#include "tests/kernels/kernel_tester.h"

namespace unet::kernels {
namespace {

using testing::Shape;

std::vector<const KernelInfo*> avx512_kernels_of(Family family) {
  std::vector<const KernelInfo*> out;
  for (const KernelInfo& k : avx512_kernels())
    if (k.family == family && missing_features(k.tier).empty()) out.push_back(&k);
  return out;
}

// Terms in one output sum, to scale the absolute tolerance to the size of the sums: inputs
// are uniform in [-1, 1] and weights in [-0.5, 0.5], so a sum of k terms is about sqrt(k)/3.
double sum_scale(Family f, const Shape& s) {
  double terms = 1;
  switch (f) {
    case Family::conv2d_fwd: terms = double(s.kh) * s.kw * s.c; break;
    case Family::conv2d_bwd_data: terms = double(s.kh) * s.kw * s.c_out; break;
    default: terms = double(s.n) * s.h * s.w; break;
  }
  return std::sqrt(terms) / 3;
}

std::vector<Shape> conv_shapes() {
  std::vector<Shape> out = testing::standard_shapes(Family::conv2d_fwd);
  struct Dims {
    int c, c_out, h, w;
  };
  const Dims dims[] = {{16, 16, 7, 5},  {32, 48, 16, 16}, {48, 32, 9, 33}, {3, 20, 128, 8},
                       {20, 3, 1, 1},   {16, 32, 2, 3},   {33, 17, 8, 1},  {64, 64, 8, 8},
                       {16, 16, 3, 29}, {32, 16, 5, 15}, {16, 32, 3, 150}};
  int variant = 0;
  for (const Dims& d : dims)
    for (int v = 0; v < 2; ++v, ++variant) {
      Shape s;
      s.n = 2;
      s.c = d.c;
      s.c_out = d.c_out;
      s.h = d.h;
      s.w = d.w;
      s.act = static_cast<Activation>(variant % 3);
      s.accumulate = v == 1;
      s.extra_blocks = (variant / 3) % 2;
      s.relu_mask = variant % 4 < 2;  // backward-data: the folded ReLU backward
      out.push_back(s);
    }
  return out;
}

void check_family(Family family, double rel) {
  const auto kernels = avx512_kernels_of(family);
  ASSERT_FALSE(kernels.empty()) << "no " << family_name(family) << " kernel runs on this host";
  const KernelInfo* ref = reference_kernel(family);
  ASSERT_NE(ref, nullptr);
  for (const KernelInfo* k : kernels)
    for (const Shape& s : conv_shapes()) {
      const testing::Tolerance tol{rel, rel * sum_scale(family, s)};
      for (int pieces : {1, 4}) {
        const auto r = testing::compare_kernels(*ref, *k, family, s, tol, pieces);
        EXPECT_TRUE(r.ok) << k->name << " pieces=" << pieces << " " << testing::describe(s)
                          << r.report;
      }
    }
}

TEST(Conv3x3Avx512, ForwardMatchesReference) { check_family(Family::conv2d_fwd, 1e-5); }
TEST(Conv3x3Avx512, BackwardDataMatchesReference) { check_family(Family::conv2d_bwd_data, 1e-4); }
TEST(Conv3x3Avx512, BackwardWeightsMatchesReference) {
  check_family(Family::conv2d_bwd_weights, 1e-4);
}

// Every split of the work gives bit-identical results (no item depends on another's range).
TEST(Conv3x3Avx512, ResultsIndependentOfSplit) {
  Shape s;
  s.n = 3;
  s.c = 32;
  s.c_out = 48;
  s.h = 20;
  s.w = 19;
  s.accumulate = true;
  for (Family f : {Family::conv2d_fwd, Family::conv2d_bwd_data, Family::conv2d_bwd_weights})
    for (const KernelInfo* k : avx512_kernels_of(f)) {
      const testing::Tolerance exact{0, 0};
      for (int pieces : {2, 5, 16}) {
        testing::Fixture one(f, s), many(f, s);
        testing::run_split(*k, one.call(), 1);
        testing::run_split(*k, many.call(), pieces);
        for (int role : one.outputs()) {
          const auto r = testing::compare_tensors(one.tensor(role), many.tensor(role), exact, "t");
          EXPECT_TRUE(r.ok) << k->name << " pieces=" << pieces << "\n" << r.report;
        }
      }
    }
}

// Every family has its direct 3x3 kernel in both AVX-512 tiers, taking a plain 3x3 "same"
// convolution; every kernel states the shapes it takes (supports(): none hands a shape on to
// another kernel by itself), is findable by name and preferred over the reference.
TEST(Conv3x3Avx512, RegisteredForBothTiers) {
  for (Family f : {Family::conv2d_fwd, Family::conv2d_bwd_data, Family::conv2d_bwd_weights})
    for (Tier t : {Tier::avx512f, Tier::avx512}) {
      testing::Shape plain;
      plain.c = plain.c_out = 32;
      plain.h = plain.w = 8;
      testing::Fixture fx(f, plain);
      int found = 0;
      for (const KernelInfo& k : avx512_kernels()) {
        if (k.family != f || k.tier != t) continue;
        ASSERT_NE(k.supports, nullptr) << k.name << " states no shapes";
        found += k.supports(fx.call());
        const KernelInfo* by_name = find_kernel(k.name);
        ASSERT_NE(by_name, nullptr) << k.name;
        EXPECT_EQ(by_name->run, k.run) << k.name;
        EXPECT_GT(k.priority, reference_kernel(f)->priority) << k.name;
        EXPECT_NE(k.name.find(tier_name(t)), std::string_view::npos) << k.name;
      }
      EXPECT_GE(found, 1) << family_name(f) << " " << tier_name(t) << ": kernels taking " << testing::describe(plain);
    }
}

}  // namespace
}  // namespace unet::kernels
