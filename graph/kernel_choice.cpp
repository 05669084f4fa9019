#include "graph/kernel_choice.h"

#include <fmt/format.h>

#include "graph/lower_error.h"
#include "kernels/kernel_registry.h"
#include "plan/plan_views.h"

namespace unet::graph {

void choose_kernels(plan::Plan& plan) {
  for (auto* list : {&plan.forward, &plan.backward, &plan.update})
    for (plan::Op& op : *list) {
      const kernels::KernelCall shape = plan::op_call(plan, op, nullptr);
      const kernels::KernelInfo* k = kernels::best_kernel(op.family, plan.tier, &shape);
      if (!k)
        throw LowerError(fmt::format("no kernel for {} at tier {}", kernels::family_name(op.family),
                                     kernels::tier_name(plan.tier)));
      op.kernel = std::string(k->name);
    }
}

}  // namespace unet::graph
