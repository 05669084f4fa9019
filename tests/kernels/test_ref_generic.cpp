// Family-generic properties: the registry holds one reference kernel per family; every
// reference kernel gives bit-identical results however [0, work) is split, writes padding
// lanes as zero and nothing outside its views; and every registered kernel the host can run
// matches the reference on the standard shapes.
#include <gtest/gtest.h>

#include <string>

#include "kernels/family_signature.h"
#include "kernels/isa_tier.h"
#include "kernels/kernel_registry.h"
#include "tests/kernels/kernel_tester.h"

namespace unet::kernels {
namespace {

using testing::compare_kernels;
using testing::describe;
using testing::standard_shapes;
using testing::Tolerance;

std::vector<Family> all_families() {
  std::vector<Family> out;
  for (int f = 0; f < static_cast<int>(Family::count); ++f) out.push_back(static_cast<Family>(f));
  return out;
}

TEST(ReferenceRegistry, OneScalarReferencePerFamilyNamedAfterIt) {
  ASSERT_EQ(reference_kernels().size(), static_cast<size_t>(Family::count));
  for (Family f : all_families()) {
    const KernelInfo* k = reference_kernel(f);
    ASSERT_NE(k, nullptr) << family_name(f);
    EXPECT_EQ(k->family, f);
    EXPECT_EQ(k->name, std::string(family_name(f)) + "_f32_ref");
    EXPECT_EQ(k->tier, Tier::scalar);
    EXPECT_EQ(k->priority, 0);
    const KernelInfo* found = find_kernel(k->name);
    ASSERT_NE(found, nullptr) << k->name;
    EXPECT_EQ(found->run, k->run);
    EXPECT_NE(best_kernel(f, Tier::scalar), nullptr);
  }
}

class EveryFamily : public ::testing::TestWithParam<Family> {};

TEST_P(EveryFamily, ReferenceIsIndependentOfTheSplitAndKeepsPaddingZero) {
  const KernelInfo& ref = *reference_kernel(GetParam());
  for (const auto& shape : standard_shapes(GetParam()))
    for (int pieces : {2, 5}) {
      // Exact: a reference item's result must not depend on which range it ran in.
      const auto r = compare_kernels(ref, ref, GetParam(), shape, Tolerance{0, 0}, pieces);
      EXPECT_TRUE(r.ok) << describe(shape) << r.report;
    }
}

TEST_P(EveryFamily, ReferenceRangesRunConcurrentlyGiveTheSameResult) {
  const KernelInfo& ref = *reference_kernel(GetParam());
  for (const auto& shape : standard_shapes(GetParam())) {
    const auto r = compare_kernels(ref, ref, GetParam(), shape, Tolerance{0, 0}, 3, 1, true);
    EXPECT_TRUE(r.ok) << describe(shape) << r.report;
  }
}

TEST_P(EveryFamily, EveryRegisteredKernelTheHostRunsMatchesTheReference) {
  const KernelInfo& ref = *reference_kernel(GetParam());
  const Tier host = best_host_tier();
  int compared = 0;
  for (const KernelInfo& k : all_kernels()) {
    if (k.family != GetParam() || !tier_includes(host, k.tier)) continue;
    ++compared;
    for (const auto& shape : standard_shapes(GetParam())) {
      const auto r = compare_kernels(ref, k, GetParam(), shape, Tolerance{1e-4, 1e-4}, 3);
      EXPECT_TRUE(r.ok) << k.name << " on " << describe(shape) << r.report;
      const auto c = compare_kernels(ref, k, GetParam(), shape, Tolerance{1e-4, 1e-4}, 2, 1, true);
      EXPECT_TRUE(c.ok) << k.name << " (ranges on two threads) on " << describe(shape) << c.report;
    }
  }
  EXPECT_GE(compared, 1);  // the reference itself, at least
}

// The folded ReLU backward (kernel_family.h, relu_mask_slot): the op given relu_y leaves dx
// exactly as the op without it followed by relu_bwd(relu_y, dx).
TEST_P(EveryFamily, ReferenceWithReluYEqualsTheOpThenReluBackward) {
  const int slot = relu_mask_slot(GetParam());
  const KernelInfo& ref = *reference_kernel(GetParam());
  EXPECT_EQ(ref.relu_mask, slot >= 0);
  if (slot < 0) return;  // the family has no relu_y: nothing to fold
  int masked = 0;
  for (auto shape : standard_shapes(GetParam())) {
    if (!shape.relu_mask) continue;
    ++masked;
    testing::Fixture folded(GetParam(), shape);
    shape.relu_mask = false;
    testing::Fixture plain(GetParam(), shape);
    testing::run_split(ref, folded.call(), 3);
    testing::run_split(ref, plain.call(), 3);
    const testing::OwnedTensor unmasked = plain.tensor(slot - 1).clone();
    KernelCall relu{};
    relu.t[0] = folded.call().t[slot];
    relu.t[1] = plain.call().t[slot - 1];
    const KernelInfo& relu_bwd = *reference_kernel(Family::relu_bwd);
    testing::run_split(relu_bwd, relu, 1);
    const auto r = testing::compare_tensors(plain.tensor(slot - 1), folded.tensor(slot - 1), Tolerance{0, 0}, "dx");
    EXPECT_TRUE(r.ok) << describe(shape) << r.report;
    size_t zeroed = 0, kept = 0;  // the mask bites, and not everywhere
    testing::for_each_real(unmasked, [&](size_t k) {
      if (unmasked.storage[k] == 0.f) return;
      (folded.tensor(slot - 1).storage[k] == 0.f ? zeroed : kept) += 1;
    });
    EXPECT_GT(zeroed, 0u) << describe(shape);
    EXPECT_GT(kept, 0u) << describe(shape);
  }
  EXPECT_GE(masked, 1) << "standard_shapes gives " << family_name(GetParam()) << " no relu_y case";
}

// The folded max-pool (kernel_family.h, pool_epilogue_slot): the op given pool_y writes y as
// without it, and pool_y exactly as maxpool2d_fwd (2x2, stride 2) run on that y.
TEST_P(EveryFamily, ReferenceWithPoolYEqualsTheOpThenMaxPool) {
  const int slot = pool_epilogue_slot(GetParam());
  const KernelInfo& ref = *reference_kernel(GetParam());
  EXPECT_EQ(ref.pool_epilogue, slot >= 0);
  if (slot < 0) return;  // the family has no pool_y: nothing to fold
  int pooled = 0;
  for (auto shape : standard_shapes(GetParam())) {
    if (!shape.pool) continue;
    ++pooled;
    testing::Fixture folded(GetParam(), shape);
    shape.pool = false;
    testing::Fixture plain(GetParam(), shape);
    testing::run_split(ref, folded.call(), 3);
    testing::run_split(ref, plain.call(), 3);
    auto r = testing::compare_tensors(plain.tensor(slot - 1), folded.tensor(slot - 1), Tolerance{0, 0}, "y");
    EXPECT_TRUE(r.ok) << describe(shape) << r.report;
    testing::OwnedTensor pool_y = folded.tensor(slot).clone();
    testing::fill_view(pool_y, testing::kStaleOutput);
    KernelCall pool{};
    pool.t[0] = plain.call().t[slot - 1];
    pool.t[1] = pool_y.view;
    pool.i[kAttrStride] = pool.i[kAttrWindow] = kFoldedPoolWindow;
    testing::run_split(*reference_kernel(Family::maxpool2d_fwd), pool, 1);
    r = testing::compare_tensors(pool_y, folded.tensor(slot), Tolerance{0, 0}, "pool_y");
    EXPECT_TRUE(r.ok) << describe(shape) << r.report;
  }
  EXPECT_GE(pooled, 1) << "standard_shapes gives " << family_name(GetParam()) << " no pool_y case";
}

// The folded dropout (kernel_family.h, has_dropout_epilogue): the op asked for it writes y
// exactly as the op without it followed by dropout_fwd (same rate, seed and step) on y.
TEST_P(EveryFamily, ReferenceWithFoldedDropoutEqualsTheOpThenDropout) {
  const KernelInfo& ref = *reference_kernel(GetParam());
  EXPECT_EQ(ref.dropout_epilogue, has_dropout_epilogue(GetParam()));
  if (!has_dropout_epilogue(GetParam())) return;
  int dropped = 0;
  for (auto shape : standard_shapes(GetParam())) {
    if (!shape.dropout) continue;
    ++dropped;
    shape.pool = false;  // the pool of a dropped y: ReferenceWithPoolY... covers pool_y
    testing::Fixture folded(GetParam(), shape);
    shape.dropout = false;
    testing::Fixture plain(GetParam(), shape);
    testing::run_split(ref, folded.call(), 3);
    testing::run_split(ref, plain.call(), 3);
    const int y = 3;  // conv2d_fwd's y
    testing::OwnedTensor expected = plain.tensor(y).clone();
    KernelCall drop = plain.call();  // rate, seeds and step as the folded call's
    drop.t[0] = plain.call().t[y];
    drop.t[1] = expected.view;
    for (int k = 2; k < kMaxTensors; ++k) drop.t[k] = TensorArg{};
    testing::run_split(*reference_kernel(Family::dropout_fwd), drop, 1);
    const auto r = testing::compare_tensors(expected, folded.tensor(y), Tolerance{0, 0}, "y");
    EXPECT_TRUE(r.ok) << describe(shape) << r.report;
    size_t zeroed = 0, kept = 0;  // the mask bites, and not everywhere
    testing::for_each_real(plain.tensor(y), [&](size_t k) {
      if (plain.tensor(y).storage[k] == 0.f) return;
      (folded.tensor(y).storage[k] == 0.f ? zeroed : kept) += 1;
    });
    EXPECT_GT(zeroed, 0u) << describe(shape);
    EXPECT_GT(kept, 0u) << describe(shape);
  }
  EXPECT_GE(dropped, 1) << "standard_shapes gives " << family_name(GetParam()) << " no dropout case";
}

TEST_P(EveryFamily, WorkIsZeroForAnEmptyBatch) {
  auto shape = standard_shapes(GetParam()).front();
  if (GetParam() == Family::adam_update) {
    shape.elements = 0;
  } else {
    shape.n = 0;
  }
  testing::Fixture fx(GetParam(), shape);
  const KernelInfo& ref = *reference_kernel(GetParam());
  // bwd_weights items cover channel blocks, not images: they exist but must add nothing.
  if (GetParam() == Family::conv2d_bwd_weights || GetParam() == Family::tconv2d_bwd_weights) {
    const auto before = fx.tensor(2).clone();
    testing::run_split(ref, fx.call(), 2);
    EXPECT_TRUE(testing::compare_tensors(before, fx.tensor(2), Tolerance{0, 0}, "dw").ok);
  } else {
    EXPECT_EQ(ref.work(fx.call()), 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(Kernels, EveryFamily, ::testing::ValuesIn(all_families()),
                         [](const auto& info) { return std::string(family_name(info.param)); });

}  // namespace
}  // namespace unet::kernels
