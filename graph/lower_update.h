// The update op list: one Adam op over the whole persistent regions (training plans).
#pragma once
#include "plan/plan.h"

namespace unet::graph {

// Adds flat "params", "grads", "adam_m", "adam_v" tensors spanning the regions (placed by
// place_persistent) and one adam_update op over them.
void emit_update(plan::Plan& plan);

}  // namespace unet::graph
