// The checkers used by the other tests must reject broken plans, or their silence means nothing.
#include <gtest/gtest.h>

#include "lower_fixtures.h"
#include "plan_checker.h"

namespace unet::test {
namespace {

const std::string kModel = std::string(kHeader) + R"(
a = conv(images, filters=16, kernel=3, activation=relu)
b1 = conv(a, filters=16, kernel=3, activation=relu)
b2 = conv(a, filters=16, kernel=3, activation=relu)
cat = concat(b1, b2)
pred = conv(cat, filters=1, kernel=1, activation=sigmoid)
loss = dice_loss(pred, masks)
)";

TEST(PlanChecker, CatchesLiveTensorsSharingMemory) {
  plan::Plan p = compile(kModel);
  ASSERT_TRUE(check_memory(p).empty());
  // a is read by b2's forward op while cat is live: put them on top of each other.
  p.tensors[tensor_id(p, "a")].offset = p.tensors[tensor_id(p, "cat")].offset;
  EXPECT_FALSE(check_memory(p).empty());
}

TEST(PlanChecker, CatchesWrongAccumulateFlags) {
  plan::Plan p = compile(kModel);
  ASSERT_TRUE(check_order(p).empty());
  for (auto& op : p.backward)
    if (op.label == "b1.bwd_data") op.i[kernels::kAttrAccumulate] = 0;
  EXPECT_FALSE(check_order(p).empty());
  p = compile(kModel);
  for (auto& op : p.backward)
    if (op.label == "b2.bwd_data") op.i[kernels::kAttrAccumulate] = 1;
  EXPECT_FALSE(check_order(p).empty());
}

TEST(PlanChecker, CatchesGradientReadBeforeComplete) {
  plan::Plan p = compile(kModel);
  // Move a's ReLU backward before b1's contribution to a's gradient.
  auto& ops = p.backward;
  const auto relu = std::find_if(ops.begin(), ops.end(), [](const plan::Op& o) { return o.label == "a.relu_bwd"; });
  const auto b1 = std::find_if(ops.begin(), ops.end(), [](const plan::Op& o) { return o.label == "b1.bwd_data"; });
  ASSERT_TRUE(relu != ops.end() && b1 != ops.end());
  ASSERT_LT(b1, relu);
  std::iter_swap(relu, b1);
  EXPECT_FALSE(check_order(p).empty());
}

}  // namespace
}  // namespace unet::test
