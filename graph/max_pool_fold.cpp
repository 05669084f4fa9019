#include "graph/max_pool_fold.h"

#include <algorithm>
#include <vector>

#include "graph/op_access.h"
#include "kernels/kernel_registry.h"

namespace unet::graph {

namespace {

bool writes(const plan::Op& op, int32_t tensor) {
  const OpAccess a = op_access(op);
  return std::find(a.writes.begin(), a.writes.end(), tensor) != a.writes.end();
}

// The index in kept of the conv2d_fwd op that can take this pool as its epilogue, or -1.
int folding_conv(const std::vector<plan::Op>& kept, const plan::Op& pool) {
  using kernels::Family;
  const int32_t x = pool.tensors[0];
  for (int k = static_cast<int>(kept.size()) - 1; k >= 0; --k) {
    const plan::Op& op = kept[static_cast<size_t>(k)];
    if (op.family == Family::conv2d_fwd && op.tensors[3] == x) {
      const int slot = kernels::pool_epilogue_slot(op.family);
      const kernels::KernelInfo* info = kernels::find_kernel(op.kernel);
      return info && info->pool_epilogue && op.tensors[static_cast<size_t>(slot)] < 0 ? k : -1;
    }
    if (writes(op, x)) return -1;  // x's last writer is not a conv
  }
  return -1;
}

}  // namespace

int fold_max_pools(plan::Plan& plan) {
  using kernels::Family;
  std::vector<plan::Op> kept;
  kept.reserve(plan.forward.size());
  int folded = 0;
  for (plan::Op& op : plan.forward) {
    // maxpool2d_fwd: t0 x, t1 y; i: stride, window.
    if (op.family == Family::maxpool2d_fwd && op.i[kernels::kAttrWindow] == kernels::kFoldedPoolWindow &&
        op.i[kernels::kAttrStride] == kernels::kFoldedPoolWindow) {
      const int k = folding_conv(kept, op);
      if (k >= 0) {
        plan::Op& conv = kept[static_cast<size_t>(k)];
        conv.tensors[static_cast<size_t>(kernels::pool_epilogue_slot(conv.family))] = op.tensors[1];
        conv.label += "+" + op.label;
        ++folded;
        continue;
      }
    }
    kept.push_back(std::move(op));
  }
  plan.forward = std::move(kept);
  return folded;
}

}  // namespace unet::graph
