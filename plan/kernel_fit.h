// Whether a registered kernel may run an op of a plan: the rules the plan validator enforces
// on the kernel an op names, asked before a kernel is put there (by a tuner listing the
// candidates of an op, or by the compiler taking a tuned choice).
#pragma once
#include <string>
#include <vector>

#include "kernels/kernel_registry.h"
#include "plan/plan.h"

namespace unet::plan {

// "" when `kernel` may run `op`: it is of the op's family, of a tier the plan's tier includes,
// honours every epilogue folded into the op (relu_y, pool_y, a folded dropout) and supports()
// the op's shape. Otherwise why not, as a phrase: "needs tier avx512, the plan is for avx512f".
std::string kernel_misfit(const Plan& plan, const Op& op, const kernels::KernelInfo& kernel);

// Every registered kernel that may run `op`, in registry order (the default, best_kernel's
// choice, among them).
std::vector<const kernels::KernelInfo*> fitting_kernels(const Plan& plan, const Op& op);

}  // namespace unet::plan
