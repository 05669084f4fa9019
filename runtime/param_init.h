// Parameter initialisers, as Keras defines them, deterministic from each parameter's seed.
#pragma once
#include <cstddef>
#include <vector>

#include "plan/plan.h"
#include "runtime/keras_layout.h"  // initial_values are in Keras layout

namespace unet::runtime {

// Values of `p` in Keras layout: uniform in (-limit, limit) with He (limit = sqrt(6 / fan_in))
// or Glorot (limit = sqrt(6 / (fan_in + fan_out))), fans as Keras computes them from the
// Keras shape; zeros for Init::zeros.
std::vector<float> initial_values(const plan::Param& p);

// Writes every parameter's initial value into the arena and zeroes the moments.
void initialise_params(const plan::Plan& plan, std::byte* arena);

}  // namespace unet::runtime
