// Fusion pass: a dropout folded into the epilogue of the conv that produces its input.
#pragma once
#include "kernels/family_signature.h"
#include "plan/plan.h"

namespace unet::graph {

// Each dropout_fwd op of the forward list whose input is the y of an earlier conv2d_fwd op
// (nothing between them writing it) is removed, and that conv writes the dropout's output
// instead, applying the same mask in its epilogue (kernels/kernel_family.h,
// has_dropout_epilogue): one pass over the tensor less, and the conv's own output leaves the
// plan. Only where that output owns its memory (no concat slice) and nothing else reads it
// but ReLU backwards (relu_bwd's y,
// a relu_y slot): they read the dropout's output instead, which is > 0 exactly where the
// conv's was and the unit was kept (a dropped unit's gradient is 0 either way). Only where
// the chosen kernel honours it (KernelInfo::dropout_epilogue), so it runs after kernel
// choice; the folded op's label names both ("conv3a+drop3"). Returns the dropouts folded.
int fold_dropouts(plan::Plan& plan);

}  // namespace unet::graph
