// Fusion pass: a ReLU backward folded into the kernel that writes its gradient last.
#pragma once
#include "kernels/family_signature.h"
#include "plan/plan.h"

namespace unet::graph {

// Each relu_bwd op of the backward list whose gradient was written, in full, by the op right
// before it is removed, and that op takes the ReLU's output as relu_y
// (kernels/kernel_family.h, relu_mask_slot): one pass over the gradient less. Only where the
// chosen kernel honours relu_y (KernelInfo::relu_mask), so it runs after kernel choice; the
// folded op's label names both ("pool1.bwd+conv1b.relu_bwd"). Returns the ops folded.
int fold_relu_backward(plan::Plan& plan);

}  // namespace unet::graph
