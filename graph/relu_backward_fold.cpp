#include "graph/relu_backward_fold.h"

#include <vector>

#include "kernels/family_signature.h"
#include "kernels/kernel_registry.h"

namespace unet::graph {

int fold_relu_backward(plan::Plan& plan) {
  using kernels::Family;
  std::vector<plan::Op> kept;
  kept.reserve(plan.backward.size());
  int folded = 0;
  for (plan::Op& op : plan.backward) {
    if (op.family == Family::relu_bwd && !kept.empty()) {
      plan::Op& writer = kept.back();
      const int slot = kernels::relu_mask_slot(writer.family);
      const kernels::KernelInfo* k = kernels::find_kernel(writer.kernel);
      // relu_bwd: t0 y (the ReLU's output), t1 dy (its gradient, modified in place). The
      // writer's dx is the slot before relu_y; being the op right before, it writes dy last.
      if (slot >= 0 && k && k->relu_mask && writer.tensors[slot] < 0 &&
          writer.tensors[slot - 1] == op.tensors[1]) {
        writer.tensors[slot] = op.tensors[0];
        writer.label += "+" + op.label;
        ++folded;
        continue;
      }
    }
    kept.push_back(std::move(op));
  }
  plan.backward = std::move(kept);
  return folded;
}

}  // namespace unet::graph
