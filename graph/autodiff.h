// Autodiff: gradient tensors and the backward op list of one micro-batch (training plans).
#pragma once
#include "graph/lowering_state.h"

namespace unet::graph {

// Creates "<node>/grad" tensors for every node whose gradient reaches a parameter (a concat
// input aliased into the concat gets a view of the concat's gradient, mirroring forward) and
// emits the backward ops: sigmoid_dice_bwd, then the nodes in reverse order. The first op
// that contributes to a gradient overwrites it (accumulate 0), later ones add (accumulate 1).
void emit_backward(LoweringState& state);

}  // namespace unet::graph
