// The attributes a node gives each of its ops, forward and backward alike: one place, so the
// forward lowering and autodiff set them the same way.
#pragma once
#include "graph/graph_ir.h"
#include "plan/plan.h"

namespace unet::graph {

// Stride and Keras padding of a conv or transposed-conv node's ops (forward and backward).
void set_conv_attrs(const Graph& graph, const Node& node, plan::Op& op);

// Rate and counter-RNG seed of a dropout node's ops (forward and backward).
void set_dropout_attrs(const Graph& graph, int node, plan::Op& op);

}  // namespace unet::graph
