// Tuned kernel choice: after the compiler has chosen every op's kernel by priority
// (kernel_choice.h) and folded the epilogues, a tune file (runtime/tune_file.h, written by
// unetbench tune) may name a faster kernel for some ops. This pass puts those kernels in the
// plan where they still fit, and keeps the default everywhere else.
#pragma once
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "plan/plan.h"

namespace unet::graph {

// A kernel chosen for one op outside the compiler: the op named by its list ("forward",
// "backward", "update") and label, with the family and shape (plan/op_shape.h) it had in the
// plan the choice was measured on.
struct KernelOverride {
  std::string list, label, family, shape, kernel;
};

struct TuningOutcome {
  size_t changed = 0;                 // ops that now run another kernel than the default
  size_t unchanged = 0;               // ops matched whose tuned kernel is the default
  size_t ignored = 0;                 // overrides not applied (each reason is in `warnings`)
  std::vector<std::string> warnings;  // one line each, naming `source`
};

// Runs on a lowered plan (lower_to_plan: kernels chosen, epilogues folded), so the ops'
// labels, shapes and folds are those the tuner timed. An override is applied only where its
// op exists, has the same family and shape, and its kernel may run the op here
// (plan/kernel_fit.h: registered, of that family, of a tier the plan includes, honouring the
// op's folds, supporting its shape). The others keep the default and are reported: one warning
// line per reason, counting the ops and naming the first (a file for another batch would
// otherwise print a line for every op).
TuningOutcome apply_kernel_overrides(plan::Plan& plan, std::span<const KernelOverride> overrides,
                                     std::string_view source);

}  // namespace unet::graph
