// The fusion pass that folds a dropout into the epilogue of the conv producing its input
// (graph/dropout_fold.h): which dropouts go, what the convs and the ReLU backwards take
// instead, that the conv's own output leaves the plan, that the folded plan is still sound,
// and that the validator refuses a folded dropout a kernel cannot apply.
#include <gtest/gtest.h>

#include <string>

#include "graph/lower.h"
#include "kernels/family_signature.h"
#include "kernels/kernel_registry.h"
#include "lower_fixtures.h"
#include "plan/plan_validate.h"
#include "plan_checker.h"

namespace unet::test {
namespace {

using kernels::Family;

// d0 folds into c0. d1 does not: c1 is also a slice of the concat u4 (its memory is read
// through u4). d2 does not either: p2, its input, is a pool's output.
const std::string kModel = std::string(kHeader) + R"(
c0 = conv(images, filters=16, kernel=3, activation=relu)
d0 = dropout(c0, rate=0.3)
c1 = conv(d0, filters=16, kernel=3, activation=relu)
d1 = dropout(c1, rate=0.2)
p2 = maxpool(d1, size=2)
d2 = dropout(p2, rate=0.2)
c3 = conv(d2, filters=32, kernel=3, activation=relu)
t4 = conv_transpose(c3, filters=16, kernel=2, stride=2)
u4 = concat(t4, c1)
c4 = conv(u4, filters=16, kernel=3, activation=relu)
pred = conv(c4, filters=1, kernel=1, activation=sigmoid)
loss = dice_loss(pred, masks)
)";

bool has_tensor(const plan::Plan& p, const std::string& name) {
  for (const plan::Tensor& t : p.tensors)
    if (t.name == name) return true;
  return false;
}

TEST(DropoutFold, FoldsADropoutOfAConvOutputIntoThatConv) {
  const plan::Plan unfolded = compile(kModel, true, 2, false, false, false);
  const plan::Plan folded = compile(kModel, true, 2, false, false, true);
  EXPECT_EQ(folded.forward.size(), unfolded.forward.size() - 1);
  EXPECT_EQ(folded.tensors.size(), unfolded.tensors.size() - 1);
  const plan::Op* fused = find_op(folded.forward, "c0+d0");
  const plan::Op* dropout = find_op(unfolded.forward, "d0");
  ASSERT_TRUE(fused && dropout);
  EXPECT_EQ(fused->tensors[3], tensor_id(folded, "d0"));
  EXPECT_EQ(fused->i[kernels::kAttrFoldedDropout], 1);
  EXPECT_EQ(fused->i[kernels::kAttrSeedLo], dropout->i[kernels::kAttrSeedLo]);
  EXPECT_EQ(fused->i[kernels::kAttrSeedHi], dropout->i[kernels::kAttrSeedHi]);
  EXPECT_EQ(fused->f[0], 0.3f);
  EXPECT_FALSE(has_tensor(folded, "c0"));  // written by nothing now: gone
  for (const char* kept : {"d1", "d2"}) EXPECT_NE(find_op(folded.forward, kept), nullptr) << kept;
  // c0's ReLU backward masks by d0: > 0 exactly where c0 was and the unit was kept.
  const plan::Op* relu = find_op(folded.backward, "c0.relu_bwd");
  ASSERT_NE(relu, nullptr);
  EXPECT_EQ(relu->tensors[0], tensor_id(folded, "d0"));
  // The backward of the dropout itself is unchanged (it regenerates the mask).
  EXPECT_NE(find_op(folded.backward, "d0.bwd"), nullptr);
  EXPECT_NO_THROW(plan::validate_plan(folded, "folded", kernels::find_kernel));
  EXPECT_TRUE(check_order(folded).empty()) << first_problems(check_order(folded));
  EXPECT_TRUE(check_memory(folded).empty()) << first_problems(check_memory(folded));
  // With the ReLU fold too, the dropout backward takes d0 as relu_y.
  const plan::Plan both = compile(kModel, true, 2, true, false, true);
  const plan::Op* masked = find_op(both.backward, "d0.bwd+c0.relu_bwd");
  ASSERT_NE(masked, nullptr);
  EXPECT_EQ(masked->tensors[kernels::relu_mask_slot(masked->family)], tensor_id(both, "d0"));
  EXPECT_NO_THROW(plan::validate_plan(both, "both", kernels::find_kernel));
}

TEST(DropoutFold, ValidatorRefusesAFoldedDropoutAKernelCannotApply) {
  plan::Plan p = compile(kModel, true, 2, false, false, true);
  plan::Op* conv = nullptr;
  for (plan::Op& op : p.forward)
    if (op.label == "c0+d0") conv = &op;
  ASSERT_NE(conv, nullptr);
  const std::string error = validation_error_without(p, conv->kernel, &kernels::KernelInfo::dropout_epilogue);
  EXPECT_NE(error.find("does not fold a dropout"), std::string::npos) << error;
  EXPECT_NE(error.find("c0+d0"), std::string::npos) << error;
  conv->f[0] = 1.5f;  // a rate outside [0, 1)
  EXPECT_THROW(plan::validate_plan(p, "plan.bin", kernels::find_kernel), plan::PlanError);
  conv->f[0] = 0.3f;
  conv->i[kernels::kAttrFoldedDropout] = 2;
  EXPECT_THROW(plan::validate_plan(p, "plan.bin", kernels::find_kernel), plan::PlanError);
}

}  // namespace
}  // namespace unet::test
