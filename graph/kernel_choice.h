// Kernel choice: every op runs the registry's preferred kernel of its family for the plan's tier.
#pragma once
#include "plan/plan.h"

namespace unet::graph {

// Sets Op::kernel of every op; throws LowerError "no kernel for <family> at tier <tier>".
void choose_kernels(plan::Plan& plan);

}  // namespace unet::graph
