// Shape inference: the per-image output shape (c, h, w) of every node, and the shape rules
// (concat sizes agree, pools tile their input, the loss compares like with like).
#pragma once
#include <string>

#include "graph/graph_ir.h"

namespace unet::graph {

// Fills Node::c/h/w for every node from its inputs (the input and target nodes must already
// have theirs). The loss node gets 1x1x1. Throws ModelError "file:line:col: message" at the
// first node whose shape rule fails, pointing at that node's name.
void infer_shapes(Graph& graph, const std::string& filename);

}  // namespace unet::graph
