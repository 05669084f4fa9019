// Inference plans, and the memory planner on the shipped UNet.
#include <gtest/gtest.h>

#include <algorithm>

#include "graph/kernel_choice.h"
#include "graph/lower.h"
#include "kernels/kernel_registry.h"
#include "lower_fixtures.h"
#include "plan/plan_validate.h"
#include "plan_checker.h"

namespace unet::test {
namespace {

using plan::TensorRole;

const std::string kDropoutModel = std::string(kHeader) + R"(
a = conv(images, filters=16, kernel=3, activation=relu)
d = dropout(a, rate=0.2)
b = conv(d, filters=16, kernel=3, activation=relu)
pred = conv(b, filters=1, kernel=1, activation=sigmoid)
loss = dice_loss(pred, masks)
)";

TEST(InferencePlan, ForwardOnlyAndDropoutIsTheIdentity) {
  const plan::Plan p = compile(kDropoutModel, /*training=*/false);
  EXPECT_FALSE(p.training);
  EXPECT_TRUE(p.backward.empty());
  EXPECT_TRUE(p.update.empty());
  for (const auto& op : p.forward) EXPECT_NE(op.family, kernels::Family::dropout_fwd) << op.label;
  // b reads a's tensor directly: the dropout node has no tensor of its own.
  const plan::Op* b = find_op(p.forward, "b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->tensors[0], tensor_id(p, "a"));
  for (const auto& t : p.tensors) {
    EXPECT_NE(t.name, "d");
    EXPECT_TRUE(t.role != TensorRole::gradient && t.role != TensorRole::param_grad &&
                t.role != TensorRole::adam_m && t.role != TensorRole::adam_v &&
                t.role != TensorRole::region)
        << t.name;
  }
  for (const auto& param : p.params) {
    EXPECT_GE(param.value, 0);
    EXPECT_EQ(param.grad, -1);
    EXPECT_EQ(param.adam_m, -1);
  }
  EXPECT_GT(p.params_region.bytes, 0u);
  EXPECT_EQ(p.grads_region.bytes, 0u);
  EXPECT_EQ(p.adam_v_region.bytes, 0u);
  EXPECT_EQ(first_problems(check_memory(p)), "");
  EXPECT_EQ(first_problems(check_order(p)), "");
  EXPECT_NO_THROW(plan::validate_plan(p, "test.def"));

  const plan::Plan t = compile(kDropoutModel, /*training=*/true);
  EXPECT_NE(find_op(t.forward, "d"), nullptr);
  EXPECT_LT(p.arena_bytes, t.arena_bytes);
}

TEST(PersistentRegions, SameRelativeOffsetsAndOneAdamOpOverThem) {
  const plan::Plan p = compile(kDropoutModel);
  const uint64_t region = p.params_region.bytes;
  EXPECT_EQ(p.grads_region.bytes, region);
  EXPECT_EQ(p.adam_m_region.bytes, region);
  EXPECT_EQ(p.adam_v_region.bytes, region);
  uint64_t expected = 0;
  for (const auto& param : p.params) {
    const plan::Tensor& v = p.tensors[param.value];
    EXPECT_EQ(v.offset, p.params_region.offset + expected) << param.name;
    expected += (v.bytes + 63) / 64 * 64;
    EXPECT_EQ(p.tensors[param.grad].offset - p.grads_region.offset, v.offset - p.params_region.offset);
    EXPECT_EQ(p.tensors[param.adam_m].offset - p.adam_m_region.offset, v.offset - p.params_region.offset);
    EXPECT_EQ(p.tensors[param.adam_v].offset - p.adam_v_region.offset, v.offset - p.params_region.offset);
    EXPECT_EQ(p.tensors[param.grad].name, param.name + "/grad");
    EXPECT_EQ(p.tensors[param.adam_m].name, param.name + "/adam_m");
  }
  EXPECT_EQ(expected, region);
  ASSERT_EQ(p.update.size(), 1u);
  const plan::Region* regions[] = {&p.params_region, &p.grads_region, &p.adam_m_region, &p.adam_v_region};
  const char* names[] = {"params", "grads", "adam_m", "adam_v"};
  for (int k = 0; k < 4; ++k) {
    const plan::Tensor& t = p.tensors[p.update[0].tensors[k]];
    EXPECT_EQ(t.name, names[k]);
    EXPECT_EQ(t.role, TensorRole::region);
    EXPECT_EQ(t.offset, regions[k]->offset);
    EXPECT_EQ(uint64_t{t.w} * 4, regions[k]->bytes);
  }
  // Bias tensors hold padded channels; kernels are blocked.
  EXPECT_EQ(tensor(p, "pred/bias").w, 16u);
  EXPECT_EQ(tensor(p, "a/kernel").bytes, 16u * 16 * 3 * 3 * 4);
}

class ShippedModel : public ::testing::TestWithParam<const char*> {};

TEST_P(ShippedModel, MemoryPlanNeverOverlapsLiveTensorsAndSavesSpace) {
  const graph::Graph g =
      graph::parse_model_file(std::string(UNET_SOURCE_DIR) + "/models/" + GetParam());
  for (bool training : {true, false}) {
    const plan::Plan p = graph::lower_to_plan(g, {2, kernels::Tier::scalar, training});
    EXPECT_EQ(first_problems(check_memory(p)), "") << "training " << training;
    EXPECT_EQ(first_problems(check_order(p)), "") << "training " << training;
    EXPECT_LT(p.arena_bytes, p.naive_bytes) << "training " << training;
    EXPECT_NO_THROW(plan::validate_plan(p, GetParam()));
    // Every skip connection is written in place: no copies.
    for (const auto& op : p.forward) EXPECT_NE(op.family, kernels::Family::copy_channels) << op.label;
  }
}

// At every AVX-512 tier every op of the shipped models gets an optimised kernel that takes
// its shape (benchdnn's --skip-impl idea: nothing falls to the scalar reference unseen). The
// list of ops allowed the reference is empty today; an op added to it needs its reason.
TEST_P(ShippedModel, EveryOpGetsAnOptimisedKernelAtTheAvx512Tiers) {
  const graph::Graph g =
      graph::parse_model_file(std::string(UNET_SOURCE_DIR) + "/models/" + GetParam());
  const std::vector<std::string> allowed_reference = {};
  for (kernels::Tier tier : {kernels::Tier::avx512f, kernels::Tier::avx512, kernels::Tier::avx512_bf16})
    for (uint32_t batch : {1u, 2u, 8u})
      for (bool training : {true, false}) {
        const plan::Plan p = graph::lower_to_plan(g, {batch, tier, training});
        for (const auto* list : {&p.forward, &p.backward, &p.update})
          for (const plan::Op& op : *list) {
            const kernels::KernelInfo* k = kernels::find_kernel(op.kernel);
            ASSERT_NE(k, nullptr) << op.kernel;
            const bool allowed =
                std::find(allowed_reference.begin(), allowed_reference.end(), op.label) != allowed_reference.end();
            EXPECT_TRUE(k->tier != kernels::Tier::scalar || allowed)
                << GetParam() << " tier " << kernels::tier_name(tier) << " batch " << batch << ": " << op.label
                << " runs " << op.kernel;
          }
      }
}

INSTANTIATE_TEST_SUITE_P(Models, ShippedModel,
                         ::testing::Values("unet_brats.def", "unet_brats_upsampling.def"));

TEST(Lowering, BadOptionsAndGraphsAreOneLineErrors) {
  const graph::Graph g = graph::parse_model(kDropoutModel, "test.def");
  EXPECT_THROW(graph::lower_to_plan(g, {0, kernels::Tier::scalar, true}), graph::LowerError);
  graph::Graph two_channels = g;
  for (auto& node : two_channels.nodes)
    if (node.name == "pred") node.c = 2;
  try {
    graph::lower_to_plan(two_channels, {1, kernels::Tier::scalar, true});
    FAIL() << "expected a LowerError";
  } catch (const graph::LowerError& e) {
    EXPECT_STREQ(e.what(), "model 't': node 'pred' (line 9:1): the prediction has 2 channels, needs 1");
  }
}

TEST(KernelChoice, EveryOpGetsTheRegistrysKernelOrANamedError) {
  plan::Plan p = compile(kDropoutModel);
  for (const auto* ops : {&p.forward, &p.backward, &p.update})
    for (const auto& op : *ops) {
      const kernels::KernelInfo* k = kernels::best_kernel(op.family, p.tier);
      ASSERT_NE(k, nullptr);
      EXPECT_EQ(op.kernel, k->name);
    }
  // A family no kernel implements (here the out-of-range sentinel) is refused by name.
  p.forward[0].family = kernels::Family::count;
  try {
    graph::choose_kernels(p);
    FAIL() << "expected a LowerError";
  } catch (const graph::LowerError& e) {
    EXPECT_STREQ(e.what(), "no kernel for ? at tier scalar");
  }
}

}  // namespace
}  // namespace unet::test
