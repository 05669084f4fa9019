#include "kernels/family_signature.h"
#include "plan/kernel_fit.h"

#include <fmt/format.h>

#include "plan/plan_views.h"

namespace unet::plan {

std::string kernel_misfit(const Plan& plan, const Op& op, const kernels::KernelInfo& kernel) {
  if (kernel.family != op.family)
    return fmt::format("is a {} kernel, the op is {}", kernels::family_name(kernel.family),
                       kernels::family_name(op.family));
  if (!kernels::tier_includes(plan.tier, kernel.tier))
    return fmt::format("needs tier {}, the plan is for {}", kernels::tier_name(kernel.tier),
                       kernels::tier_name(plan.tier));
  // The folds were decided for the kernel the compiler chose; another one must honour them.
  const int relu = kernels::relu_mask_slot(op.family);
  if (relu >= 0 && op.tensors[static_cast<size_t>(relu)] >= 0 && !kernel.relu_mask)
    return "does not fold the ReLU backward the op carries";
  const int pool = kernels::pool_epilogue_slot(op.family);
  if (pool >= 0 && op.tensors[static_cast<size_t>(pool)] >= 0 && !kernel.pool_epilogue)
    return "does not fold the max-pool the op carries";
  if (kernels::has_dropout_epilogue(op.family) && op.i[kernels::kAttrFoldedDropout] != 0 && !kernel.dropout_epilogue)
    return "does not fold the dropout the op carries";
  if (kernel.supports && !kernel.supports(op_call(plan, op, nullptr))) return "does not take this op's shape";
  return "";
}

std::vector<const kernels::KernelInfo*> fitting_kernels(const Plan& plan, const Op& op) {
  std::vector<const kernels::KernelInfo*> out;
  for (const kernels::KernelInfo& k : kernels::all_kernels())
    if (kernel_misfit(plan, op, k).empty()) out.push_back(&k);
  return out;
}

}  // namespace unet::plan
