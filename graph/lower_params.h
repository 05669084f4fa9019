// Trainable parameters: per conv and transposed-conv node a kernel and a bias, with their
// value tensors and (training plans) gradient and Adam moment tensors.
#pragma once
#include "graph/lowering_state.h"

namespace unet::graph {

// Fills plan.params and state.kernel_param/bias_param, in node order, kernel before bias.
void create_params(LoweringState& state);

}  // namespace unet::graph
