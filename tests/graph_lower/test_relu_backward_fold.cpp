// The fusion pass that folds each ReLU backward into its gradient's last writer
// (graph/relu_backward_fold.h): which relu_bwd ops go, what the writers take instead, that the
// folded plan is still sound, and that the validator refuses a relu_y a kernel cannot honour.
#include <gtest/gtest.h>

#include <string>

#include "graph/lower.h"
#include "kernels/family_signature.h"
#include "kernels/isa_tier.h"
#include "kernels/kernel_registry.h"
#include "lower_fixtures.h"
#include "plan/plan_validate.h"
#include "plan_checker.h"

namespace unet::test {
namespace {

using kernels::Family;

// Every kind of last writer of a ReLU's gradient: a 3x3 conv's backward-data (c2 -> c1,
// accumulating after c3's contribution through the concat), max-pool (p1 -> c0), dropout
// (d2 -> c2), a transposed conv (t3 -> d2 -> c2 is dropout's; t3's input c2b), and the 1x1
// prediction conv (pred -> c4).
const std::string kModel = std::string(kHeader) + R"(
c0 = conv(images, filters=16, kernel=3, activation=relu)
p1 = maxpool(c0, size=2)
c1 = conv(p1, filters=32, kernel=3, activation=relu)
c2 = conv(c1, filters=32, kernel=3, activation=relu)
d2 = dropout(c2, rate=0.2)
c2b = conv(d2, filters=32, kernel=3, activation=relu)
t3 = conv_transpose(c2b, filters=16, kernel=2, stride=2)
u3 = concat(t3, c0)
c4 = conv(u3, filters=16, kernel=3, activation=relu)
pred = conv(c4, filters=1, kernel=1, activation=sigmoid)
loss = dice_loss(pred, masks)
)";

TEST(ReluBackwardFold, ScalarPlanFoldsEveryReluBackwardIntoItsLastWriter) {
  const plan::Plan unfolded = compile(kModel, true, 2, false);
  const plan::Plan folded = compile(kModel, true, 2, true);
  const int relus = count_family(unfolded.backward, Family::relu_bwd);
  ASSERT_GE(relus, 5);
  // Reference kernels honour relu_y in every family that has it: nothing is left.
  EXPECT_EQ(count_family(folded.backward, Family::relu_bwd), 0);
  EXPECT_EQ(folded.backward.size(), unfolded.backward.size() - relus);
  for (const plan::Op& relu : unfolded.backward) {
    if (relu.family != Family::relu_bwd) continue;
    // The op before it in the unfolded list now carries the ReLU's output as relu_y.
    const plan::Op* writer = &relu - 1;
    const plan::Op* fused = find_op(folded.backward, writer->label + "+" + relu.label);
    ASSERT_NE(fused, nullptr) << writer->label << " + " << relu.label;
    const int slot = kernels::relu_mask_slot(fused->family);
    ASSERT_GE(slot, 0) << fused->label;
    EXPECT_EQ(fused->tensors[slot], relu.tensors[0]) << fused->label;
    EXPECT_EQ(fused->tensors[slot - 1], relu.tensors[1]) << fused->label;
  }
  // Each kind of writer took part.
  for (const char* label : {"c2.bwd_data+c1.relu_bwd", "p1.bwd+c0.relu_bwd", "d2.bwd+c2.relu_bwd",
                            "t3.bwd_data+c2b.relu_bwd", "pred.bwd_data+c4.relu_bwd"})
    EXPECT_NE(find_op(folded.backward, label), nullptr) << label;
  EXPECT_NO_THROW(plan::validate_plan(folded, "folded", kernels::find_kernel));
  EXPECT_TRUE(check_order(folded).empty()) << first_problems(check_order(folded));
  EXPECT_TRUE(check_memory(folded).empty()) << first_problems(check_memory(folded));
}

TEST(ReluBackwardFold, OnlyKernelsThatHonourReluYTakeIt) {
  const kernels::Tier tier = kernels::best_host_tier();  // scalar: every writer honours it
  const graph::Graph g = graph::parse_model(kModel, "test.def");
  graph::LowerOptions o{2, tier, true};
  const plan::Plan p = graph::lower_to_plan(g, o);
  for (const plan::Op& op : p.backward) {
    const int slot = kernels::relu_mask_slot(op.family);
    if (slot >= 0 && op.tensors[slot] >= 0) {
      EXPECT_TRUE(kernels::find_kernel(op.kernel)->relu_mask) << op.label << " " << op.kernel;
    }
    if (op.family == Family::relu_bwd) {  // kept: its writer's kernel could not take it
      const plan::Op& writer = (&op)[-1];
      const kernels::KernelInfo* k = kernels::find_kernel(writer.kernel);
      EXPECT_TRUE(kernels::relu_mask_slot(writer.family) < 0 || !k->relu_mask) << writer.label;
    }
  }
  EXPECT_TRUE(check_order(p).empty()) << first_problems(check_order(p));
}

TEST(ReluBackwardFold, ValidatorRefusesReluYForAKernelThatIgnoresIt) {
  plan::Plan p = compile(kModel, true, 2, false);
  plan::Op* bwd = nullptr;
  for (plan::Op& op : p.backward)
    if (op.label == "c2.bwd_data") bwd = &op;
  ASSERT_NE(bwd, nullptr);
  bwd->tensors[kernels::relu_mask_slot(bwd->family)] = tensor_id(p, "c1");
  EXPECT_NO_THROW(plan::validate_plan(p, "ok", kernels::find_kernel));  // the reference honours it
  // A lookup that knows the same kernel without the capability.
  const std::string error = validation_error_without(p, bwd->kernel, &kernels::KernelInfo::relu_mask);
  EXPECT_NE(error.find("does not fold a ReLU backward"), std::string::npos) << error;
  EXPECT_NE(error.find("c2.bwd_data"), std::string::npos) << error;
  // relu_y must have dx's dims.
  bwd->tensors[kernels::relu_mask_slot(bwd->family)] = tensor_id(p, "c0");
  EXPECT_THROW(plan::validate_plan(p, "plan.bin", kernels::find_kernel), plan::PlanError);
}

}  // namespace
}  // namespace unet::test
