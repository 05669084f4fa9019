// A parameter in the seed's (Keras) layout, the layout of checkpoints, TensorBoard
// histograms and the initialisers, against the plan's blocked layout in the arena: the one
// place the two meet (the reorders themselves are kernels/layout_reorder.h).
#pragma once
#include <cstddef>
#include <vector>

#include "plan/plan.h"

namespace unet::runtime {

// The Keras shape of a parameter: conv [kh, kw, ci, co], tconv [kh, kw, co, ci], bias [co].
std::vector<size_t> keras_shape(const plan::Param& p);

// Keras layout <-> the plan's layout of the parameter's tensor `tensor_id` (its value, or its
// gradient or a moment, all laid out alike) in arena memory.
void store_param(const plan::Plan& plan, std::byte* arena, const plan::Param& p, int tensor_id,
                 const float* keras);
void load_param(const plan::Plan& plan, std::byte* arena, const plan::Param& p, int tensor_id,
                float* keras);

}  // namespace unet::runtime
