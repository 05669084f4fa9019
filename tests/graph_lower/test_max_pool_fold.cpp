// The fusion pass that folds a max-pool into the epilogue of the conv producing its input
// (graph/max_pool_fold.h): which pools go, what the convs write instead, that the folded plan
// is still sound, and that the validator refuses a pool_y a kernel cannot honour.
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

// p1 folds into c0 (2x2, stride 2, input a conv's y); p2 reads a dropout's output and p3 has
// a 3x3 window: both stay.
const std::string kModel = std::string(kHeader) + R"(
c0 = conv(images, filters=16, kernel=3, activation=relu)
p1 = maxpool(c0, size=2)
c1 = conv(p1, filters=32, kernel=3, activation=relu)
d1 = dropout(c1, rate=0.2)
p2 = maxpool(d1, size=2)
c2 = conv(p2, filters=32, kernel=3, activation=relu)
p3 = maxpool(c2, size=3, stride=1)
t3 = conv_transpose(p3, filters=32, kernel=2, stride=2)
t4 = conv_transpose(t3, filters=16, kernel=2, stride=2)
u4 = concat(t4, p1)
c4 = conv(u4, filters=16, kernel=3, activation=relu)
t5 = conv_transpose(c4, filters=16, kernel=2, stride=2)
pred = conv(t5, filters=1, kernel=1, activation=sigmoid)
loss = dice_loss(pred, masks)
)";

TEST(MaxPoolFold, FoldsATwoByTwoPoolOfAConvOutputIntoThatConv) {
  for (bool training : {true, false}) {
    const plan::Plan unfolded = compile(kModel, training, 2, false, false);
    const plan::Plan folded = compile(kModel, training, 2, false, true);
    // Inference drops the dropout: p2 then reads c1 and folds too.
    const int expected = training ? 1 : 2;
    EXPECT_EQ(count_family(folded.forward, Family::maxpool2d_fwd),
              count_family(unfolded.forward, Family::maxpool2d_fwd) - expected) << training;
    EXPECT_EQ(folded.forward.size(), unfolded.forward.size() - expected);
    const plan::Op* fused = find_op(folded.forward, "c0+p1");
    ASSERT_NE(fused, nullptr);
    const int slot = kernels::pool_epilogue_slot(fused->family);
    EXPECT_EQ(fused->tensors[slot], tensor_id(folded, "p1"));
    EXPECT_EQ(fused->tensors[slot - 1], tensor_id(folded, "c0"));
    EXPECT_EQ(find_op(folded.forward, "p2") == nullptr, !training);
    EXPECT_NE(find_op(folded.forward, "p3"), nullptr);  // 3x3 window
    // The backward still pools through x = c0 and y = p1.
    if (training) EXPECT_NE(find_op(folded.backward, "p1.bwd"), nullptr);
    EXPECT_NO_THROW(plan::validate_plan(folded, "folded", kernels::find_kernel));
    EXPECT_TRUE(check_order(folded).empty()) << first_problems(check_order(folded));
    EXPECT_TRUE(check_memory(folded).empty()) << first_problems(check_memory(folded));
  }
}

TEST(MaxPoolFold, ValidatorRefusesPoolYForAKernelThatIgnoresItOrOfTheWrongSize) {
  plan::Plan p = compile(kModel, true, 2, false, true);
  plan::Op* conv = nullptr;
  for (plan::Op& op : p.forward)
    if (op.label == "c0+p1") conv = &op;
  ASSERT_NE(conv, nullptr);
  EXPECT_NO_THROW(plan::validate_plan(p, "ok", kernels::find_kernel));  // the reference honours it
  const std::string error = validation_error_without(p, conv->kernel, &kernels::KernelInfo::pool_epilogue);
  EXPECT_NE(error.find("does not fold a max-pool"), std::string::npos) << error;
  EXPECT_NE(error.find("c0+p1"), std::string::npos) << error;
  // pool_y must be y pooled 2x2 with stride 2: c0 itself is not.
  conv->tensors[kernels::pool_epilogue_slot(conv->family)] = tensor_id(p, "c0");
  EXPECT_THROW(plan::validate_plan(p, "plan.bin", kernels::find_kernel), plan::PlanError);
}

}  // namespace
}  // namespace unet::test
