// The plan under construction and where each graph node's values live in it: the state the
// lowering passes (forward, concat elimination, autodiff) hand from one to the next.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "graph/graph_ir.h"
#include "graph/lower.h"
#include "plan/plan.h"

namespace unet::graph {

// One input of a concat node: where it sits in the concat's channels and how it gets there.
struct ConcatSlot {
  int node = -1;                // the input node
  uint32_t channel_offset = 0;  // first channel in the concat
  bool aliased = false;         // true: the producer writes straight into the concat's tensor
  int32_t slice = -1;           // when copied: a view of the concat's tensor for this slot
  int32_t grad_slice = -1;      // when copied: the same slice of the concat's gradient
};

struct LoweringState {
  const Graph& graph;
  LowerOptions options;
  plan::Plan plan;
  int prediction = -1;               // the conv node whose output feeds the Dice loss
  std::vector<int32_t> value;        // per node: tensor id of its output, -1 if none
  std::vector<int32_t> grad;         // per node: tensor id of its gradient, -1 if none
  std::vector<int32_t> kernel_param; // per conv/tconv node: index into plan.params, else -1
  std::vector<int32_t> bias_param;
  std::vector<std::vector<ConcatSlot>> concat_slots;  // per concat node

  LoweringState(const Graph& g, const LowerOptions& o)
      : graph(g),
        options(o),
        value(g.nodes.size(), -1),
        grad(g.nodes.size(), -1),
        kernel_param(g.nodes.size(), -1),
        bias_param(g.nodes.size(), -1),
        concat_slots(g.nodes.size()) {}
};

inline plan::Op make_op(kernels::Family family, std::string label) {
  plan::Op op;
  op.family = family;
  op.label = std::move(label);
  return op;
}

// "model 'unet' node 'conv1a' (line 12:3): <what>": errors point at the model.def line.
[[noreturn]] void fail_at(const Graph& graph, const Node& node, const std::string& what);

}  // namespace unet::graph
