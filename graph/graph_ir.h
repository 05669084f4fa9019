// The graph IR: what a model.def describes, after parsing and shape inference.
// The front end (lexer, parser) produces it; the lowering (autodiff, passes, planner) turns
// it into a plan::Plan.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "plan/plan.h"

namespace unet::graph {

// An error in a model description: what() is "file:line:col: message".
class ModelError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct SourceLoc {
  int line = 0, col = 0;
};

enum class OpKind {
  input,             // images: shape H x W x C
  target,            // masks: shape H x W x 1
  conv2d,            // filters, kernel kh x kw, stride, padding, activation, inits
  conv2d_transpose,  // filters, kernel, stride, padding (Keras 'same': out = in * stride)
  maxpool2d,         // pool size, stride (defaults to the size), valid padding
  upsample2d,        // nearest, factor
  concat,            // along channels, in the order of the inputs
  dropout,           // rate; identity at inference
  dice_loss,         // -log Dice of (sigmoid output, target), smooth
};

enum class Padding { same, valid };

struct Node {
  std::string name;         // the layer name: checkpoint keys are "<name>/kernel", "<name>/bias"
  OpKind kind = OpKind::input;
  std::vector<int> inputs;  // node ids; every input precedes its node in Graph::nodes
  SourceLoc loc;            // where it was defined
  // Attributes (those that apply to the kind).
  int filters = 0;
  int kh = 1, kw = 1;
  int stride = 1;
  Padding padding = Padding::same;
  kernels::Activation activation = kernels::Activation::none;
  plan::Init kernel_init = plan::Init::glorot_uniform;
  plan::Init bias_init = plan::Init::zeros;
  float rate = 0.f;     // dropout
  int pool = 2;         // maxpool window, upsample factor
  float smooth = 1.0f;  // dice_loss
  // Inferred output shape of one image: channels, height, width.
  int c = 0, h = 0, w = 0;
};

struct Graph {
  std::string name;      // `model NAME`
  uint64_t seed = 0;     // `seed N`: initialisers and dropout
  std::vector<Node> nodes;
  int input = -1;        // the images node
  int target = -1;       // the masks node
  int loss = -1;         // the dice_loss node; its first input is the prediction
  plan::Optimizer optimizer;
};

// Parses and shape-checks a model description. `filename` is used in error messages.
Graph parse_model(const std::string& text, const std::string& filename);
Graph parse_model_file(const std::string& path);

}  // namespace unet::graph
