// Malformed model descriptions: each gives one exact, one-line "file:line:col: message".
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "graph/graph_ir.h"

namespace unet::graph {
namespace {

// Lines 1-3 of most cases; the line under test is then line 4 or later.
const std::string kHead =
    "model tiny\n"
    "input images shape 8x8x1\n"
    "target masks shape 8x8x1\n";
const std::string kTail =
    "p = conv(c1, filters=1, kernel=1, activation=sigmoid)\n"
    "loss = dice_loss(p, masks)\n";

struct BadModel {
  std::string what;     // the mistake
  std::string text;     // the model description
  std::string message;  // the exact what() for file "bad.def"
};

const std::vector<BadModel> kBadModels = {
    {"unknown op", kHead + "c1 = convolution(images, filters=4, kernel=3)\n" + kTail,
     "bad.def:4:6: unknown op 'convolution' (expected conv, conv_transpose, maxpool, upsample, "
     "concat, dropout or dice_loss)"},
    {"wrong arity: two inputs to conv",
     kHead + "c1 = conv(images, images, filters=4, kernel=3)\n" + kTail,
     "bad.def:4:19: conv takes 1 input, found 2"},
    {"wrong arity: concat of one",
     kHead + "c0 = conv(images, filters=4, kernel=3)\nc1 = concat(c0)\n" + kTail,
     "bad.def:5:6: concat takes at least 2 inputs, found 1"},
    {"wrong arity: dice_loss of one",
     kHead + "c1 = conv(images, filters=4, kernel=3)\np = conv(c1, filters=1, kernel=1, "
             "activation=sigmoid)\nloss = dice_loss(p)\n",
     "bad.def:6:8: dice_loss takes 2 inputs (PREDICTION, TARGET), found 1"},
    {"undefined name with a near miss", kHead + "c1 = conv(imagse, filters=4, kernel=3)\n" + kTail,
     "bad.def:4:11: undefined name 'imagse' (did you mean 'images'?)"},
    {"undefined name", kHead + "c1 = conv(features, filters=4, kernel=3)\n" + kTail,
     "bad.def:4:11: undefined name 'features'"},
    {"redefined name",
     kHead + "c1 = conv(images, filters=4, kernel=3)\nc1 = conv(c1, filters=4, kernel=3)\n" + kTail,
     "bad.def:5:1: 'c1' is already defined (line 4)"},
    {"use before define (a cycle)",
     kHead + "c1 = conv(c2, filters=4, kernel=3)\nc2 = conv(c1, filters=4, kernel=3)\n" + kTail,
     "bad.def:4:11: 'c2' is used before it is defined (line 5)"},
    {"a layer that uses itself", kHead + "c1 = conv(c1, filters=4, kernel=3)\n" + kTail,
     "bad.def:4:11: 'c1' is used in its own definition"},
    {"concat of different spatial sizes",
     kHead +
         "c0 = conv(images, filters=4, kernel=3)\np0 = maxpool(c0)\n"
         "c1 = concat(c0, p0)\n" +
         kTail,
     "bad.def:6:1: concat 'c1' needs inputs of one spatial size: 'c0' is 8x8 but 'p0' is 4x4"},
    {"loss channels differ",
     kHead + "c1 = conv(images, filters=4, kernel=3)\n"
             "p = conv(c1, filters=2, kernel=1, activation=sigmoid)\nloss = dice_loss(p, masks)\n",
     "bad.def:6:1: dice_loss 'loss': prediction 'p' has 2 channels but target 'masks' has 1"},
    {"loss sizes differ",
     kHead + "c0 = conv(images, filters=4, kernel=3)\nc1 = maxpool(c0)\n" + kTail,
     "bad.def:7:1: dice_loss 'loss': prediction 'p' is 4x4 but target 'masks' is 8x8"},
    {"filters=0", kHead + "c1 = conv(images, filters=0, kernel=3)\n" + kTail,
     "bad.def:4:27: filters must be between 1 and 65536, found 0"},
    {"dropout rate 1.5",
     kHead + "c0 = conv(images, filters=4, kernel=3)\nc1 = dropout(c0, rate=1.5)\n" + kTail,
     "bad.def:5:23: rate must be in [0, 1), found 1.5"},
    {"unknown activation",
     kHead + "c1 = conv(images, filters=4, kernel=3, activation=tanh)\n" + kTail,
     "bad.def:4:51: activation must be none, relu or sigmoid, found 'tanh'"},
    {"kernel with three sides", kHead + "c1 = conv(images, filters=4, kernel=3x3x3)\n" + kTail,
     "bad.def:4:37: kernel must be an integer or KxK, found '3x3x3'"},
    {"filters given as a real", kHead + "c1 = conv(images, filters=4.0, kernel=3)\n" + kTail,
     "bad.def:4:27: filters must be an integer, found '4.0'"},
    {"valid padding for a transposed conv",
     kHead + "c1 = conv_transpose(images, filters=4, kernel=2, padding=valid)\n" + kTail,
     "bad.def:4:58: padding must be same, found 'valid'"},
    {"unknown attribute", kHead + "c1 = conv(images, filter=4, kernel=3)\n" + kTail,
     "bad.def:4:19: conv has no attribute 'filter' (expected filters, kernel, stride, padding, "
     "activation, init or bias_init)"},
    {"attribute on an op that takes none",
     kHead + "c0 = conv(images, filters=4, kernel=3)\nc1 = concat(c0, c0, axis=3)\n" + kTail,
     "bad.def:5:21: concat has no attribute 'axis' (it takes none)"},
    {"attribute given twice", kHead + "c1 = conv(images, filters=4, kernel=3, filters=8)\n" + kTail,
     "bad.def:4:40: attribute 'filters' is given twice (first at line 4, col 19)"},
    {"missing required attribute", kHead + "c1 = conv(images, kernel=3)\n" + kTail,
     "bad.def:4:6: conv needs attribute 'filters' (e.g. filters=32)"},
    {"missing separator", kHead + "c1 = conv(images filters=4, kernel=3)\n" + kTail,
     "bad.def:4:18: expected ',' or ')' after an argument, found 'filters'"},
    {"missing ')' before the end of the line",
     kHead + "c1 = conv(images, filters=4, kernel=3\n" + kTail,
     "bad.def:4:38: expected ',' or ')' after an argument, found end of line"},
    {"unterminated '('", kHead + "c1 = conv(images, filters=4,\n",
     "bad.def:5:1: unterminated '(' (opened at line 4, col 10): expected ')' before end of file"},
    {"missing '='", kHead + "c1 conv(images, filters=4, kernel=3)\n" + kTail,
     "bad.def:4:4: expected '=' after the layer name 'c1', found 'conv'"},
    {"unknown statement", "modle tiny\n",
     "bad.def:1:1: unknown statement 'modle' (expected model, seed, input, target, optimizer or "
     "NAME = op(...))"},
    {"junk after a statement", "model tiny extra\n",
     "bad.def:1:12: expected end of line after the statement, found 'extra'"},
    {"input after attributes", kHead + "c1 = conv(filters=4, images, kernel=3)\n" + kTail,
     "bad.def:4:22: input 'images' comes after key=value attributes; list the inputs first"},
    {"a number where an input goes", kHead + "c1 = conv(3, filters=4, kernel=3)\n" + kTail,
     "bad.def:4:11: expected an input name or key=value in the arguments of 'conv', found '3'"},
    {"missing loss", kHead + "c1 = conv(images, filters=4, kernel=3)\n",
     "bad.def:5:1: the model has no loss (expected a line 'NAME = dice_loss(PREDICTION, TARGET)')"},
    {"missing input", "model tiny\ntarget masks shape 8x8x1",
     "bad.def:2:25: the model has no input (expected a line 'input NAME shape HxWxC')"},
    {"missing target", "model tiny\ninput images shape 8x8x1\n",
     "bad.def:3:1: the model has no target (expected a line 'target NAME shape HxWx1')"},
    {"missing model name", "input images shape 8x8x1\n",
     "bad.def:2:1: the model has no name (expected a line 'model NAME')"},
    {"two inputs", kHead + "input more shape 8x8x1\n",
     "bad.def:4:1: the model already has its input 'images' (line 2); a model has exactly one"},
    {"two losses",
     kHead + "c1 = conv(images, filters=4, kernel=3)\n" + kTail + "loss2 = dice_loss(p, masks)\n",
     "bad.def:7:1: a second loss 'loss2': the model already has the loss 'loss' (line 6)"},
    {"bad number", kHead + "c1 = conv(images, filters=4x, kernel=3)\n" + kTail,
     "bad.def:4:27: bad number '4x' (expected an integer like 32, a real like 0.0005 or 1e-8, or "
     "sizes like 3x3)"},
    {"number with two points",
     kHead + "c0 = conv(images, filters=4, kernel=3)\nc1 = dropout(c0, rate=0.1.2)\n" + kTail,
     "bad.def:5:23: bad number '0.1.2' (expected an integer like 32, a real like 0.0005 or 1e-8, "
     "or sizes like 3x3)"},
    {"number too large",
     kHead + "c1 = conv(images, filters=99999999999999999999, kernel=3)\n" + kTail,
     "bad.def:4:27: number '99999999999999999999' is too large"},
    {"unexpected character", kHead + "c1 = conv(images, filters=$4, kernel=3)\n" + kTail,
     "bad.def:4:27: unexpected character '$'"},
    {"non-ASCII byte", "model t\xC3\xA9\n",
     "bad.def:1:8: unexpected byte 0xC3 (model files are ASCII text)"},
    {"dice_loss on a ReLU conv",
     kHead +
         "c1 = conv(images, filters=1, kernel=3, activation=relu)\nloss = dice_loss(c1, masks)\n",
     "bad.def:5:18: dice_loss needs a prediction from a conv with activation=sigmoid; 'c1' has "
     "activation=relu"},
    {"dice_loss on a pool", kHead + "c1 = maxpool(images, size=1)\nloss = dice_loss(c1, masks)\n",
     "bad.def:5:18: dice_loss needs a prediction from a conv with activation=sigmoid; 'c1' is a "
     "maxpool"},
    {"dice_loss against the input",
     kHead + "c1 = conv(images, filters=1, kernel=3, activation=sigmoid)\n"
             "loss = dice_loss(c1, images)\n",
     "bad.def:5:22: dice_loss's second input must be the target 'masks', found 'images'"},
    {"the target feeding a layer (the loss would not depend on the input)",
     kHead + "c1 = conv(masks, filters=4, kernel=3)\n" + kTail,
     "bad.def:4:11: the target 'masks' can only be the second input of dice_loss"},
    {"a layer that does not reach the loss",
     kHead + "c1 = conv(images, filters=4, kernel=3)\nextra = conv(c1, filters=4, kernel=3)\n" +
         kTail,
     "bad.def:5:1: 'extra' does not contribute to the loss 'loss' (nothing on the way to the "
     "loss uses it)"},
    {"the prediction feeding another layer",
     kHead + "c1 = conv(images, filters=4, kernel=3)\n" + kTail + "more = maxpool(p)\n",
     "bad.def:7:1: 'more' uses the prediction 'p', which may feed only the loss 'loss'"},
    {"maxpool of an odd size",
     "model tiny\ninput images shape 7x8x1\ntarget masks shape 3x4x1\n"
     "c1 = maxpool(images, size=2)\n" +
         kTail,
     "bad.def:4:1: maxpool 'c1' (size 2, stride 2) does not tile the height 7 of 'images'; a "
     "valid pool would drop its last row"},
    {"valid conv shrinking below one pixel",
     kHead + "c1 = conv(images, filters=4, kernel=9, padding=valid)\n" + kTail,
     "bad.def:4:1: conv 'c1' with padding=valid needs height >= 9 (its kernel), but 'images' has "
     "height 8"},
    {"upsampling past the size limit",
     kHead +
         "c0 = upsample(images, factor=64)\nc2 = upsample(c0, factor=64)\n"
         "c1 = upsample(c2, factor=64)\n" +
         kTail,
     "bad.def:6:1: upsample 'c1' makes its height 2097152, over the limit 1048576"},
    {"a target with several channels",
     "model tiny\ninput images shape 8x8x4\ntarget masks shape 8x8x4\n",
     "bad.def:3:20: the target must have 1 channel (a binary mask), found 8x8x4"},
    {"a shape with two sides", "model tiny\ninput images shape 8x8\n",
     "bad.def:2:20: expected a shape HxWxC (e.g. 128x128x1) after 'shape', found '8x8'"},
    {"unknown optimizer", kHead + "optimizer sgd(learning_rate=0.1)\n",
     "bad.def:4:11: unknown optimizer 'sgd' (expected adam)"},
    {"beta1 of 1", kHead + "optimizer adam(beta1=1)\n",
     "bad.def:4:22: beta1 must be in [0, 1), found 1"},
    {"learning rate of 0", kHead + "optimizer adam(learning_rate=0)\n",
     "bad.def:4:30: learning_rate must be > 0, found 0"},
    {"learning rate too large for a float", kHead + "optimizer adam(learning_rate=1e60)\n",
     "bad.def:4:30: learning_rate is out of range for a 32-bit float, found 1e60"},
    {"a second model line", "model tiny\nmodel other\n",
     "bad.def:2:1: the model is already named 'tiny' (line 1)"},
    {"a second seed line", "model tiny\nseed 1\nseed 2\n",
     "bad.def:3:1: the seed is already set (line 2)"},
    {"a second optimizer line", kHead + "optimizer adam()\noptimizer adam()\n",
     "bad.def:5:1: the optimizer is already set (line 4)"},
    {"an input name given to the optimizer", kHead + "optimizer adam(images)\n",
     "bad.def:4:16: optimizer adam takes only key=value attributes, found 'images'"},
    {"negative seed", "model tiny\nseed -3\n",
     "bad.def:2:6: expected a non-negative integer after 'seed', found '-3'"},
};

class BadModelTest : public ::testing::TestWithParam<BadModel> {};

TEST_P(BadModelTest, FailsWithTheExactMessage) {
  const BadModel& bad = GetParam();
  try {
    parse_model(bad.text, "bad.def");
    FAIL() << bad.what << ": parsed without error";
  } catch (const ModelError& e) {
    EXPECT_EQ(std::string(e.what()), bad.message) << bad.what;
  }
}

INSTANTIATE_TEST_SUITE_P(ModelDef, BadModelTest, ::testing::ValuesIn(kBadModels),
                         [](const ::testing::TestParamInfo<BadModel>& info) {
                           return "case" + std::to_string(info.index);
                         });

TEST(ModelDefErrors, EveryMessageIsOneLineStartingWithTheFile) {
  ASSERT_GE(kBadModels.size(), 12u);
  for (const BadModel& bad : kBadModels) {
    try {
      parse_model(bad.text, "bad.def");
      ADD_FAILURE() << bad.what << ": parsed without error";
    } catch (const ModelError& e) {
      const std::string message = e.what();
      EXPECT_EQ(message.find('\n'), std::string::npos) << bad.what;
      EXPECT_EQ(message.find('\r'), std::string::npos) << bad.what;
      EXPECT_EQ(message.rfind("bad.def:", 0), 0u) << bad.what;
    }
  }
}

}  // namespace
}  // namespace unet::graph
