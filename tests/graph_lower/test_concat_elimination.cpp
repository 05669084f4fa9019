// Concat elimination: producers write into slices of the concat, copies where they cannot.
#include <gtest/gtest.h>

#include "graph/lower.h"
#include "lower_fixtures.h"
#include "plan/plan_validate.h"
#include "plan_checker.h"

namespace unet::test {
namespace {

const std::string kSkipModel = std::string(kHeader) + R"(
a = conv(images, filters=16, kernel=3, activation=relu)
b = conv(a, filters=32, kernel=3, activation=relu)
p = maxpool(b, size=2)
c = conv(p, filters=16, kernel=3, activation=relu)
u = upsample(c, factor=2)
cat = concat(u, b)
d = conv(cat, filters=16, kernel=3, activation=relu)
pred = conv(d, filters=1, kernel=1, activation=sigmoid)
loss = dice_loss(pred, masks)
)";

TEST(ConcatElimination, ProducersBecomeViewsAtTheirChannelOffsets) {
  const plan::Plan p = compile(kSkipModel);
  const int32_t cat = tensor_id(p, "cat");
  const plan::Tensor& u = tensor(p, "u");
  const plan::Tensor& b = tensor(p, "b");
  EXPECT_EQ(u.view_of, cat);
  EXPECT_EQ(u.channel_offset, 0u);
  EXPECT_EQ(b.view_of, cat);
  EXPECT_EQ(b.channel_offset, 16u);
  // One channel block of a 16x16 image further on: 16 * 16 * 16 floats.
  EXPECT_EQ(b.offset, p.tensors[cat].offset + 16 * 16 * 16 * 4);
  EXPECT_EQ(u.offset, p.tensors[cat].offset);
  for (const auto& op : p.forward) EXPECT_NE(op.family, kernels::Family::copy_channels) << op.label;
  for (const auto& op : p.backward) EXPECT_NE(op.family, kernels::Family::copy_channels) << op.label;
  // Gradients mirror the forward views.
  const int32_t cat_grad = tensor_id(p, "cat/grad");
  EXPECT_EQ(tensor(p, "b/grad").view_of, cat_grad);
  EXPECT_EQ(tensor(p, "b/grad").channel_offset, 16u);
  EXPECT_EQ(tensor(p, "u/grad").view_of, cat_grad);
  EXPECT_EQ(tensor(p, "b/grad").offset, p.tensors[cat_grad].offset + 16 * 16 * 16 * 4);
  // b's other consumer (the pool) adds to the slice the concat's consumer wrote whole.
  ASSERT_NE(find_op(p.backward, "d.bwd_data"), nullptr);
  EXPECT_EQ(find_op(p.backward, "d.bwd_data")->i[kernels::kAttrAccumulate], 0);
  ASSERT_NE(find_op(p.backward, "p.bwd"), nullptr);
  EXPECT_EQ(find_op(p.backward, "p.bwd")->i[kernels::kAttrAccumulate], 1);
  EXPECT_EQ(first_problems(check_memory(p)), "");
  EXPECT_EQ(first_problems(check_order(p)), "");
  EXPECT_NO_THROW(plan::validate_plan(p, "test.def"));
}

TEST(ConcatElimination, NetworkInputIsCopiedIntoItsSlice) {
  const plan::Plan p = compile(std::string(kHeader) + R"(
a = conv(images, filters=16, kernel=3, activation=relu)
cat = concat(a, images)
pred = conv(cat, filters=1, kernel=1, activation=sigmoid)
loss = dice_loss(pred, masks)
)");
  EXPECT_EQ(tensor(p, "a").view_of, tensor_id(p, "cat"));
  EXPECT_EQ(tensor(p, "images").view_of, -1);
  const plan::Op* copy = find_op(p.forward, "cat.copy1");
  ASSERT_NE(copy, nullptr);
  EXPECT_EQ(copy->family, kernels::Family::copy_channels);
  EXPECT_EQ(copy->tensors[0], p.input);
  const plan::Tensor& slice = p.tensors[copy->tensors[1]];
  EXPECT_EQ(slice.view_of, tensor_id(p, "cat"));
  EXPECT_EQ(slice.channel_offset, 16u);
  EXPECT_EQ(slice.c, 1u);
  // The images need no gradient, so nothing copies the slice's gradient back.
  EXPECT_EQ(find_op(p.backward, "cat.copy1.bwd"), nullptr);
  EXPECT_EQ(first_problems(check_memory(p)), "");
  EXPECT_EQ(first_problems(check_order(p)), "");
  EXPECT_NO_THROW(plan::validate_plan(p, "test.def"));
}

// `a` feeds two concats. In x it cannot be a view: its later consumer y would then add to
// x's gradient slice before x's consumer d has written it. So a is copied into x and aliased
// into y, and every gradient contribution after the first accumulates.
TEST(ConcatElimination, TensorInTwoConcatsIsViewOfOneAndCopiedIntoTheOther) {
  const plan::Plan p = compile(std::string(kHeader) + R"(
a = conv(images, filters=16, kernel=3, activation=relu)
b = conv(a, filters=16, kernel=3, activation=relu)
x = concat(b, a)
d = conv(x, filters=16, kernel=3, activation=relu)
y = concat(d, a)
pred = conv(y, filters=1, kernel=1, activation=sigmoid)
loss = dice_loss(pred, masks)
)");
  EXPECT_EQ(tensor(p, "a").view_of, tensor_id(p, "y"));
  EXPECT_EQ(tensor(p, "a").channel_offset, 16u);
  EXPECT_EQ(tensor(p, "b").view_of, tensor_id(p, "x"));
  EXPECT_EQ(tensor(p, "d").view_of, tensor_id(p, "y"));
  ASSERT_NE(find_op(p.forward, "x.copy1"), nullptr);
  const plan::Op* copy_back = find_op(p.backward, "x.copy1.bwd");
  ASSERT_NE(copy_back, nullptr);
  EXPECT_EQ(copy_back->tensors[1], tensor_id(p, "a/grad"));
  EXPECT_EQ(p.tensors[copy_back->tensors[0]].name, "x/grad[16:32]");
  EXPECT_EQ(copy_back->i[kernels::kAttrAccumulate], 1);
  EXPECT_EQ(find_op(p.backward, "pred.bwd_data")->i[kernels::kAttrAccumulate], 0);
  EXPECT_EQ(find_op(p.backward, "d.bwd_data")->i[kernels::kAttrAccumulate], 0);
  EXPECT_EQ(find_op(p.backward, "b.bwd_data")->i[kernels::kAttrAccumulate], 1);
  EXPECT_EQ(first_problems(check_memory(p)), "");
  EXPECT_EQ(first_problems(check_order(p)), "");
  EXPECT_NO_THROW(plan::validate_plan(p, "test.def"));
}

TEST(ConcatElimination, SliceNotOnABlockBoundaryIsAnError) {
  try {
    compile(std::string(kHeader) + R"(
a = conv(images, filters=8, kernel=3, activation=relu)
b = conv(images, filters=16, kernel=3, activation=relu)
cat = concat(a, b)
pred = conv(cat, filters=1, kernel=1, activation=sigmoid)
loss = dice_loss(pred, masks)
)");
    FAIL() << "expected a LowerError";
  } catch (const graph::LowerError& e) {
    EXPECT_STREQ(e.what(),
                 "model 't': node 'cat' (line 8:1): input 'b' starts at channel 8; concat inputs "
                 "must start at multiples of 16 channels");
  }
}

}  // namespace
}  // namespace unet::test
