// The compiler's back half: a shape-checked Graph becomes an executable plan::Plan
// (tensors, parameters, forward/backward/update op lists, kernels, arena offsets).
#pragma once
#include <cstdint>

#include "graph/graph_ir.h"
#include "graph/lower_error.h"
#include "kernels/isa_tier.h"
#include "plan/plan.h"

namespace unet::graph {

struct LowerOptions {
  uint32_t batch = 1;                       // the static micro-batch of every op list
  kernels::Tier tier = kernels::Tier::scalar;
  bool training = true;                     // false: forward only, dropout dropped
  bool fold_relu_backward = true;           // fusion pass graph/relu_backward_fold.h
  bool fold_dropouts = true;                // fusion pass graph/dropout_fold.h
  bool fold_max_pools = true;               // fusion pass graph/max_pool_fold.h
};

plan::Plan lower_to_plan(const Graph& graph, const LowerOptions& options);

}  // namespace unet::graph
