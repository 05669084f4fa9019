// Arena layout: every tensor gets a 64-byte aligned offset in the plan's one allocation.
//   [params | grads | adam_m | adam_v]  persistent, same relative offsets in each region
//   [input | target | prediction | loss partials]  pinned: the runtime fills and reads them
//   [activations and gradients]  placed by liveness over forward then backward, reusing space
#pragma once
#include <cstdint>

#include "plan/plan.h"

namespace unet::graph {

inline uint64_t align_to_arena(uint64_t bytes) {
  return (bytes + plan::kArenaAlignment - 1) / plan::kArenaAlignment * plan::kArenaAlignment;
}

// Places the parameter tensors (values, and in training plans gradients and moments) and sets
// the four regions. Runs before the update op, which spans the regions.
void place_persistent(plan::Plan& plan);

// Places the pinned tensors after the regions and every other activation and gradient by
// liveness (best-fitting gap among the tensors live at the same time, under a few placement
// orders, keeping the smallest); views follow their base. Sets arena_bytes and naive_bytes.
void place_transient(plan::Plan& plan);

}  // namespace unet::graph
