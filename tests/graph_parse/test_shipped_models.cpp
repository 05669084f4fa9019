// The shipped models parse into the seed's topology: shapes, attributes, parameter counts.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "graph/graph_ir.h"

namespace unet::graph {
namespace {

const std::string kModels = std::string(UNET_SOURCE_DIR) + "/models/";

const Node& node(const Graph& g, const std::string& name) {
  for (const Node& n : g.nodes)
    if (n.name == name) return n;
  throw std::runtime_error("no node " + name);
}

void expect_shape(const Graph& g, const std::string& name, int h, int w, int c) {
  const Node& n = node(g, name);
  EXPECT_EQ(n.h, h) << name;
  EXPECT_EQ(n.w, w) << name;
  EXPECT_EQ(n.c, c) << name;
}

std::vector<std::string> input_names(const Graph& g, const Node& n) {
  std::vector<std::string> names;
  for (int id : n.inputs) names.push_back(g.nodes[id].name);
  return names;
}

// What the parsed graph holds: kh*kw*ci*co + co for every conv and transposed conv, with ci
// taken from the inferred shape of its input.
int64_t graph_parameter_count(const Graph& g) {
  int64_t total = 0;
  for (const Node& n : g.nodes)
    if (n.kind == OpKind::conv2d || n.kind == OpKind::conv2d_transpose)
      total += int64_t{n.kh} * n.kw * g.nodes[n.inputs[0]].c * n.filters + n.filters;
  return total;
}

struct Layer {
  int k, ci, co;
};

// The seed's layer list written out by hand, independent of the parser.
int64_t layer_list_parameter_count(const std::vector<Layer>& layers) {
  int64_t total = 0;
  for (const Layer& l : layers) total += int64_t{l.k} * l.k * l.ci * l.co + l.co;
  return total;
}

TEST(ShippedModels, TransposedUNetHasTheSeedsTopology) {
  const Graph g = parse_model_file(kModels + "unet_brats.def");
  EXPECT_EQ(g.name, "unet_brats");
  EXPECT_EQ(g.seed, 816u);
  // 2 data nodes, 18 encoder/decoder 3x3 convs, 4 pools, 2 dropouts, 4 transposed convs,
  // 4 concats, the prediction and the loss.
  EXPECT_EQ(g.nodes.size(), 2u + 18 + 4 + 2 + 4 + 4 + 1 + 1);
  expect_shape(g, "images", 128, 128, 1);
  expect_shape(g, "conv1b", 128, 128, 32);
  expect_shape(g, "pool1", 64, 64, 32);
  expect_shape(g, "conv5b", 8, 8, 512);
  expect_shape(g, "transConv6", 16, 16, 256);
  expect_shape(g, "up6", 16, 16, 512);
  expect_shape(g, "up9", 128, 128, 64);
  expect_shape(g, "PredictionMask", 128, 128, 1);

  ASSERT_GE(g.input, 0);
  ASSERT_GE(g.target, 0);
  ASSERT_GE(g.loss, 0);
  EXPECT_EQ(g.nodes[g.input].name, "images");
  EXPECT_EQ(g.nodes[g.target].name, "masks");
  const Node& loss = g.nodes[g.loss];
  EXPECT_EQ(loss.kind, OpKind::dice_loss);
  EXPECT_EQ(input_names(g, loss), (std::vector<std::string>{"PredictionMask", "masks"}));
  EXPECT_FLOAT_EQ(loss.smooth, 1.0f);

  const Node& conv1a = node(g, "conv1a");
  EXPECT_EQ(conv1a.kind, OpKind::conv2d);
  EXPECT_EQ(conv1a.kh, 3);
  EXPECT_EQ(conv1a.kw, 3);
  EXPECT_EQ(conv1a.stride, 1);
  EXPECT_EQ(conv1a.padding, Padding::same);
  EXPECT_EQ(conv1a.activation, kernels::Activation::relu);
  EXPECT_EQ(conv1a.kernel_init, plan::Init::he_uniform);
  EXPECT_EQ(conv1a.bias_init, plan::Init::zeros);

  const Node& t6 = node(g, "transConv6");
  EXPECT_EQ(t6.kind, OpKind::conv2d_transpose);
  EXPECT_EQ(t6.kh, 2);
  EXPECT_EQ(t6.stride, 2);
  EXPECT_EQ(t6.activation, kernels::Activation::none);
  EXPECT_EQ(t6.kernel_init, plan::Init::glorot_uniform);
  EXPECT_EQ(input_names(g, node(g, "up6")), (std::vector<std::string>{"transConv6", "conv4b"}));
  EXPECT_EQ(input_names(g, node(g, "up9")), (std::vector<std::string>{"transConv9", "conv1b"}));

  const Node& pred = node(g, "PredictionMask");
  EXPECT_EQ(pred.kh, 1);
  EXPECT_EQ(pred.activation, kernels::Activation::sigmoid);
  EXPECT_EQ(pred.kernel_init, plan::Init::glorot_uniform);

  // Dropout sits between conv3a and conv3b, and between conv4a and conv4b.
  EXPECT_EQ(input_names(g, node(g, "conv3b")), (std::vector<std::string>{"drop3"}));
  EXPECT_EQ(input_names(g, node(g, "drop3")), (std::vector<std::string>{"conv3a"}));
  EXPECT_FLOAT_EQ(node(g, "drop3").rate, 0.2f);
  EXPECT_EQ(input_names(g, node(g, "conv4b")), (std::vector<std::string>{"drop4"}));
  EXPECT_EQ(input_names(g, node(g, "drop4")), (std::vector<std::string>{"conv4a"}));
  EXPECT_EQ(node(g, "pool4").pool, 2);
  EXPECT_EQ(node(g, "pool4").stride, 2);

  EXPECT_FLOAT_EQ(g.optimizer.learning_rate, 0.0005f);
  EXPECT_FLOAT_EQ(g.optimizer.beta1, 0.9f);
  EXPECT_FLOAT_EQ(g.optimizer.beta2, 0.999f);
  EXPECT_FLOAT_EQ(g.optimizer.epsilon, 1e-8f);
  EXPECT_EQ(g.optimizer.decay_steps, 350u);
  EXPECT_FLOAT_EQ(g.optimizer.lr_fraction, 0.2f);

  // Every node's inputs precede it (the IR's contract with the lowering).
  for (size_t id = 0; id < g.nodes.size(); ++id)
    for (int in : g.nodes[id].inputs) EXPECT_LT(in, static_cast<int>(id)) << g.nodes[id].name;
}

TEST(ShippedModels, TransposedUNetHasTheSeedsParameterCount) {
  const std::vector<Layer> seed = {{3, 1, 32},    {3, 32, 32},   {3, 32, 64},   {3, 64, 64},
                                   {3, 64, 128},  {3, 128, 128}, {3, 128, 256}, {3, 256, 256},
                                   {3, 256, 512}, {3, 512, 512},                 // encoder
                                   {2, 512, 256}, {3, 512, 256}, {3, 256, 256},  // level 6
                                   {2, 256, 128}, {3, 256, 128}, {3, 128, 128},  // level 7
                                   {2, 128, 64},  {3, 128, 64},  {3, 64, 64},    // level 8
                                   {2, 64, 32},   {3, 64, 32},   {3, 32, 32},    // level 9
                                   {1, 32, 1}};                                  // PredictionMask
  const Graph g = parse_model_file(kModels + "unet_brats.def");
  EXPECT_EQ(graph_parameter_count(g), layer_list_parameter_count(seed));
}

TEST(ShippedModels, UpsamplingUNetHalvesTheDecoderInputs) {
  const Graph g = parse_model_file(kModels + "unet_brats_upsampling.def");
  EXPECT_EQ(g.name, "unet_brats_upsampling");
  EXPECT_EQ(g.nodes.size(), 36u);
  expect_shape(g, "conv5b", 8, 8, 256);
  const Node& up = node(g, "upsampled6");
  EXPECT_EQ(up.kind, OpKind::upsample2d);
  EXPECT_EQ(up.pool, 2);
  expect_shape(g, "upsampled6", 16, 16, 256);
  // The concats are as wide as in the transposed variant.
  expect_shape(g, "up6", 16, 16, 512);
  expect_shape(g, "up7", 32, 32, 256);
  expect_shape(g, "up8", 64, 64, 128);
  expect_shape(g, "up9", 128, 128, 64);
  expect_shape(g, "conv8b", 64, 64, 32);
  expect_shape(g, "PredictionMask", 128, 128, 1);
  for (const Node& n : g.nodes) EXPECT_NE(n.kind, OpKind::conv2d_transpose) << n.name;

  const std::vector<Layer> seed = {{3, 1, 32},    {3, 32, 32},   {3, 32, 64},   {3, 64, 64},
                                   {3, 64, 128},  {3, 128, 128}, {3, 128, 256}, {3, 256, 256},
                                   {3, 256, 512}, {3, 512, 256},  // encoder, conv5b halved
                                   {3, 512, 256}, {3, 256, 128},  // level 6
                                   {3, 256, 128}, {3, 128, 64},   // level 7
                                   {3, 128, 64},  {3, 64, 32},    // level 8
                                   {3, 64, 32},   {3, 32, 32},    // level 9
                                   {1, 32, 1}};
  EXPECT_EQ(graph_parameter_count(g), layer_list_parameter_count(seed));
}

TEST(SmallModels, OptionalStatementsAndAttributesTakeTheirDefaults) {
  const Graph g = parse_model(
      "model tiny\n"
      "input x shape 7x4x3\n"
      "target y shape 3x2x1\n"
      "c = conv(x, filters=5, kernel=3x1, stride=2, padding=valid)\n"
      "p = conv(c, filters=1, kernel=1, activation=sigmoid)\n"
      "l = dice_loss(p, y)\n",
      "tiny.def");
  EXPECT_EQ(g.seed, 0u);
  const plan::Optimizer defaults;
  EXPECT_EQ(g.optimizer.learning_rate, defaults.learning_rate);
  EXPECT_EQ(g.optimizer.decay_steps, defaults.decay_steps);
  const Node& c = node(g, "c");
  EXPECT_EQ(c.kh, 3);
  EXPECT_EQ(c.kw, 1);
  EXPECT_EQ(c.activation, kernels::Activation::none);
  EXPECT_EQ(c.kernel_init, plan::Init::glorot_uniform);
  EXPECT_EQ(c.bias_init, plan::Init::zeros);
  // Valid padding: (7 - 3) / 2 + 1 = 3 rows, (4 - 1) / 2 + 1 = 2 columns.
  expect_shape(g, "c", 3, 2, 5);
  EXPECT_FLOAT_EQ(node(g, "l").smooth, 1.0f);
}

TEST(SmallModels, ArgumentsMayContinueOnTheNextLineAfterACommaAndCommentsAreIgnored) {
  const Graph g = parse_model(
      "# a comment line\n"
      "model m   # trailing comment\n"
      "seed 18446744073\n"
      "input x shape 9x9x2\n"
      "target y shape 4x4x1\n"
      "p0 = maxpool(x, size=3, stride=2)\n"
      "d = dropout(p0,\n"
      "            rate=0)\n"
      "j = concat(d, d, p0)\n"
      "u = upsample(j, factor=1)\n"
      "p = conv(u, filters=1, kernel=1, activation=sigmoid, init=zeros, bias_init=he_uniform)\n"
      "l = dice_loss(p, y, smooth=0.5)\n"
      "optimizer adam(decay_steps=10)\n",
      "m.def");
  EXPECT_EQ(g.seed, 18446744073u);
  expect_shape(g, "p0", 4, 4, 2);  // (9 - 3) / 2 + 1
  expect_shape(g, "j", 4, 4, 6);
  EXPECT_EQ(input_names(g, node(g, "j")), (std::vector<std::string>{"d", "d", "p0"}));
  EXPECT_EQ(node(g, "p").kernel_init, plan::Init::zeros);
  EXPECT_EQ(node(g, "p").bias_init, plan::Init::he_uniform);
  EXPECT_FLOAT_EQ(node(g, "l").smooth, 0.5f);
  EXPECT_EQ(g.optimizer.decay_steps, 10u);
  EXPECT_FLOAT_EQ(g.optimizer.learning_rate, plan::Optimizer{}.learning_rate);
}

TEST(SmallModels, MissingFileNamesThePath) {
  try {
    parse_model_file(kModels + "no_such_model.def");
    FAIL() << "expected ModelError";
  } catch (const ModelError& e) {
    EXPECT_EQ(std::string(e.what()),
              kModels + "no_such_model.def: cannot open the model file: No such file or directory");
  }
}

}  // namespace
}  // namespace unet::graph
