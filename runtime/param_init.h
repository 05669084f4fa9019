// Parameter initialisers, as Keras defines them, deterministic from each parameter's seed.
#pragma once
#include <cstddef>
#include <vector>

#include "plan/plan.h"

namespace unet::runtime {

// The Keras shape of a parameter: conv [kh, kw, ci, co], tconv [kh, kw, co, ci], bias [co].
std::vector<size_t> keras_shape(const plan::Param& p);

// Values of `p` in Keras layout: uniform in (-limit, limit) with He (limit = sqrt(6 / fan_in))
// or Glorot (limit = sqrt(6 / (fan_in + fan_out))), fans as Keras computes them from the
// Keras shape; zeros for Init::zeros.
std::vector<float> initial_values(const plan::Param& p);

// Keras layout <-> the plan's layout of the parameter's tensor (arena memory).
void store_param(const plan::Plan& plan, std::byte* arena, const plan::Param& p, int tensor_id,
                 const float* keras);
void load_param(const plan::Plan& plan, std::byte* arena, const plan::Param& p, int tensor_id,
                float* keras);

// Writes every parameter's initial value into the arena and zeroes the moments.
void initialise_params(const plan::Plan& plan, std::byte* arena);

}  // namespace unet::runtime
