// The forward pass: a tensor for every node's output and the forward op list in node order.
#pragma once
#include "graph/lowering_state.h"

namespace unet::graph {

// Checks what the lowering relies on (one-channel prediction conv feeding the Dice loss,
// one-channel target of the same size) and records the prediction node.
void check_loss_structure(LoweringState& state);

// Output tensors: input/target pinned roles, the prediction's probability and the loss
// partials, an nChw16c activation per other node; an inference plan's dropout reuses its
// input's tensor.
void create_values(LoweringState& state);

// Forward ops in node order (after concat elimination has decided the slots).
void emit_forward(LoweringState& state);

}  // namespace unet::graph
