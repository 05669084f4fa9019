#include "graph/relu_backward_fold.h"

#include <vector>

#include "kernels/family_signature.h"
#include "kernels/kernel_registry.h"

namespace unet::graph {

namespace slot = kernels::slot;

int fold_relu_backward(plan::Plan& plan) {
  using kernels::Family;
  std::vector<plan::Op> kept;
  kept.reserve(plan.backward.size());
  int folded = 0;
  for (plan::Op& op : plan.backward) {
    if (op.family == Family::relu_bwd && !kept.empty()) {
      plan::Op& writer = kept.back();
      const int relu_y = kernels::relu_mask_slot(writer.family);
      const kernels::KernelInfo* k = kernels::find_kernel(writer.kernel);
      // relu_bwd's y is the ReLU's output, its dy the gradient (modified in place). The
      // writer's dx is the slot before relu_y; being the op right before, it writes dy last.
      if (relu_y >= 0 && k && k->relu_mask && writer.tensors[relu_y] < 0 &&
          writer.tensors[relu_y - 1] == op.tensors[slot::relu_bwd::dy]) {
        writer.tensors[relu_y] = op.tensors[slot::relu_bwd::y];
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
