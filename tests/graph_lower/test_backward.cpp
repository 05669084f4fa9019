// The backward list: order, accumulate flags, which ops exist; and Keras padding attributes.
#include <gtest/gtest.h>

#include "graph/keras_padding.h"
#include "lower_fixtures.h"
#include "plan/plan_validate.h"
#include "plan_checker.h"

namespace unet::test {
namespace {

using kernels::Family;

// `a` feeds two convs: the later one (b2) contributes first in backward and overwrites a's
// gradient, the earlier one adds.
TEST(Backward, ForkedTensorFirstContributionOverwritesLaterOnesAdd) {
  const plan::Plan p = compile(std::string(kHeader) + R"(
a = conv(images, filters=16, kernel=3, activation=relu)
b1 = conv(a, filters=16, kernel=3, activation=relu)
b2 = conv(a, filters=16, kernel=3, activation=sigmoid)
cat = concat(b1, b2)
pred = conv(cat, filters=1, kernel=1, activation=sigmoid)
loss = dice_loss(pred, masks)
)");
  const plan::Op* first = find_op(p.backward, "b2.bwd_data");
  const plan::Op* second = find_op(p.backward, "b1.bwd_data");
  ASSERT_TRUE(first && second);
  EXPECT_LT(first, second);
  EXPECT_EQ(first->tensors[2], tensor_id(p, "a/grad"));
  EXPECT_EQ(first->i[kernels::kAttrAccumulate], 0);
  EXPECT_EQ(second->i[kernels::kAttrAccumulate], 1);
  // Activations: relu_bwd / sigmoid_bwd in place on the gradient, before the conv's grads.
  const plan::Op* sig = find_op(p.backward, "b2.sigmoid_bwd");
  ASSERT_NE(sig, nullptr);
  EXPECT_EQ(sig->family, Family::sigmoid_bwd);
  EXPECT_EQ(sig->tensors[0], tensor_id(p, "b2"));
  EXPECT_EQ(sig->tensors[1], tensor_id(p, "b2/grad"));
  EXPECT_LT(sig, find_op(p.backward, "b2.bwd_weights"));
  // The first conv reads the network input: weights gradient only, no data gradient.
  EXPECT_NE(find_op(p.backward, "a.bwd_weights"), nullptr);
  EXPECT_EQ(find_op(p.backward, "a.bwd_data"), nullptr);
  EXPECT_EQ(first_problems(check_order(p)), "");
  EXPECT_EQ(first_problems(check_memory(p)), "");
}

TEST(Backward, LossGradientComesFirstAndPredictionConvEmitsLogits) {
  const plan::Plan p = compile(std::string(kHeader) + R"(
a = conv(images, filters=16, kernel=3, activation=relu)
pred = conv(a, filters=1, kernel=1, activation=sigmoid)
loss = dice_loss(pred, masks, smooth=2.5)
)");
  EXPECT_EQ(p.dice_smooth, 2.5f);
  const plan::Op* fwd = find_op(p.forward, "pred");
  ASSERT_NE(fwd, nullptr);
  EXPECT_EQ(fwd->i[kernels::kAttrActivation], static_cast<int>(kernels::Activation::none));
  const plan::Op& dice = p.forward.back();
  EXPECT_EQ(dice.family, Family::sigmoid_dice_fwd);
  EXPECT_EQ(dice.tensors[0], tensor_id(p, "pred"));
  EXPECT_EQ(dice.tensors[1], p.target);
  EXPECT_EQ(dice.tensors[2], p.prediction);
  EXPECT_EQ(dice.tensors[3], p.loss_partials);
  EXPECT_EQ(p.tensors[p.prediction].name, "pred/prob");
  EXPECT_EQ(p.tensors[p.prediction].layout, plan::Layout::nhw);
  EXPECT_EQ(p.tensors[p.loss_partials].w, 3u * p.batch);
  const plan::Op& first = p.backward.front();
  EXPECT_EQ(first.family, Family::sigmoid_dice_bwd);
  EXPECT_EQ(first.tensors[2], tensor_id(p, "pred/grad"));
  EXPECT_EQ(tensor(p, "pred/grad").c, 1u);
  EXPECT_EQ(find_op(p.backward, "pred.sigmoid_bwd"), nullptr);
  ASSERT_EQ(p.update.size(), 1u);
  EXPECT_EQ(p.update[0].family, Family::adam_update);
  EXPECT_EQ(p.update[0].f[0], 0.9f);
}

TEST(Backward, DropoutMaskSeedsMatchForwardAndDifferByLayer) {
  const plan::Plan p = compile(std::string(kHeader) + R"(
a = conv(images, filters=16, kernel=3, activation=relu)
d1 = dropout(a, rate=0.25)
b = conv(d1, filters=16, kernel=3, activation=relu)
d2 = dropout(b, rate=0.5)
pred = conv(d2, filters=1, kernel=1, activation=sigmoid)
loss = dice_loss(pred, masks)
)");
  for (const char* name : {"d1", "d2"}) {
    const plan::Op* f = find_op(p.forward, name);
    const plan::Op* b = find_op(p.backward, std::string(name) + ".bwd");
    ASSERT_TRUE(f && b) << name;
    EXPECT_EQ(f->i[kernels::kAttrSeedLo], b->i[kernels::kAttrSeedLo]);
    EXPECT_EQ(f->i[kernels::kAttrSeedHi], b->i[kernels::kAttrSeedHi]);
    EXPECT_EQ(f->f[0], b->f[0]);
  }
  EXPECT_EQ(find_op(p.forward, "d1")->f[0], 0.25f);
  EXPECT_NE(find_op(p.forward, "d1")->i[kernels::kAttrSeedLo], find_op(p.forward, "d2")->i[kernels::kAttrSeedLo]);
  // Another model seed gives other masks and other initialiser streams.
  graph::Graph g = graph::parse_model(std::string(kHeader) + "a = conv(images, filters=16, kernel=3)\n"
                                      "d1 = dropout(a, rate=0.25)\npred = conv(d1, filters=1, kernel=1, activation=sigmoid)\n"
                                      "loss = dice_loss(pred, masks)\n", "s.def");
  graph::LowerOptions unfused{1, kernels::Tier::scalar, true};
  unfused.fold_dropouts = false;  // the dropout ops themselves
  const plan::Plan p7 = graph::lower_to_plan(g, unfused);
  g.seed = 8;
  const plan::Plan p8 = graph::lower_to_plan(g, unfused);
  EXPECT_NE(find_op(p7.forward, "d1")->i[kernels::kAttrSeedLo], find_op(p8.forward, "d1")->i[kernels::kAttrSeedLo]);
  EXPECT_NE(p7.params[0].seed, p8.params[0].seed);
  EXPECT_NE(p7.params[0].seed, p7.params[1].seed);
}

TEST(KerasPadding, SameMatchesTensorFlow) {
  // conv: out = ceil(in / s); the odd pixel of padding goes after the image.
  EXPECT_EQ(graph::conv_same_pad_before(16, 3, 1), 1);
  EXPECT_EQ(graph::conv_same_pad_before(16, 3, 2), 0);  // total 1
  EXPECT_EQ(graph::conv_same_pad_before(15, 3, 2), 1);  // total 2
  EXPECT_EQ(graph::conv_same_pad_before(16, 1, 1), 0);
  EXPECT_EQ(graph::conv_same_pad_before(16, 5, 1), 2);
  EXPECT_EQ(graph::tconv_same_pad_before(2, 2), 0);
  EXPECT_EQ(graph::tconv_same_pad_before(3, 2), 0);  // total 1
  EXPECT_EQ(graph::tconv_same_pad_before(4, 2), 1);
}

TEST(KerasPadding, StridedConvAndTransposedConvOps) {
  const plan::Plan p = compile(std::string(kHeader) + R"(
a = conv(images, filters=16, kernel=3, stride=2, activation=relu)
t = conv_transpose(a, filters=16, kernel=4, stride=2)
v = conv(t, filters=16, kernel=1, padding=valid, activation=relu)
pred = conv(v, filters=1, kernel=1, activation=sigmoid)
loss = dice_loss(pred, masks)
)");
  const plan::Op* a = find_op(p.forward, "a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->i[kernels::kAttrStride], 2);
  EXPECT_EQ(a->i[kernels::kAttrPadTop], 0);
  EXPECT_EQ(a->i[kernels::kAttrActivation], static_cast<int>(kernels::Activation::relu));
  EXPECT_EQ(find_op(p.forward, "v")->i[kernels::kAttrPadTop], 0);
  const plan::Op* t = find_op(p.forward, "t");
  EXPECT_EQ(t->family, Family::tconv2d_fwd);
  EXPECT_EQ(t->i[kernels::kAttrPadTop], 1);
  EXPECT_EQ(t->i[kernels::kAttrPadLeft], 1);
  const plan::Op* tb = find_op(p.backward, "t.bwd_data");
  ASSERT_NE(tb, nullptr);
  EXPECT_EQ(tb->family, Family::tconv2d_bwd_data);
  EXPECT_EQ(tb->i[kernels::kAttrPadTop], 1);
  EXPECT_EQ(tb->i[kernels::kAttrStride], 2);
  const plan::Param& kernel = p.params[2];
  EXPECT_EQ(kernel.name, "t/kernel");
  EXPECT_EQ(kernel.kind, plan::ParamKind::tconv_kernel);
  EXPECT_EQ(kernel.kh, 4u);
  EXPECT_EQ(kernel.co, 16u);
  EXPECT_EQ(first_problems(check_order(p)), "");
  EXPECT_NO_THROW(plan::validate_plan(p, "test.def"));
}

}  // namespace
}  // namespace unet::test
