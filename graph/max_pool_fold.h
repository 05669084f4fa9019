// Fusion pass: a max-pool folded into the epilogue of the conv that produces its input.
#pragma once
#include "kernels/family_signature.h"
#include "plan/plan.h"

namespace unet::graph {

// Each maxpool2d_fwd op of the forward list with a 2x2 window and stride 2 whose input is the
// y of an earlier conv2d_fwd op (nothing between them writing it) is removed, and that conv
// writes the pool's output as pool_y (kernels/kernel_family.h, pool_epilogue_slot) while the
// rows it pools are still in cache: one pass over the conv's output less. Only where the
// chosen kernel honours pool_y (KernelInfo::pool_epilogue), so it runs after kernel choice;
// the folded op's label names both ("conv1b+pool1"). Returns the pools folded.
int fold_max_pools(plan::Plan& plan);

}  // namespace unet::graph
