#include "graph/max_pool_fold.h"

#include <vector>

#include "graph/op_access.h"
#include "kernels/family_signature.h"
#include "kernels/kernel_registry.h"

namespace unet::graph {

namespace slot = kernels::slot;

namespace {

// The index in kept of the conv2d_fwd op that can take this pool as its epilogue: the last
// writer of the pool's input, if that is a conv's y and its kernel honours pool_y; or -1.
int folding_conv(const std::vector<plan::Op>& kept, const plan::Op& pool) {
  const int32_t x = pool.tensors[slot::maxpool2d_fwd::x];
  const int k = last_writer(kept, kept.size(), x);
  if (k < 0) return -1;
  const plan::Op& conv = kept[static_cast<size_t>(k)];
  if (conv.family != kernels::Family::conv2d_fwd || conv.tensors[slot::conv2d_fwd::y] != x) return -1;
  const kernels::KernelInfo* info = kernels::find_kernel(conv.kernel);
  return info && info->pool_epilogue && conv.tensors[slot::conv2d_fwd::pool_y] < 0 ? k : -1;
}

}  // namespace

int fold_max_pools(plan::Plan& plan) {
  using kernels::Family;
  std::vector<plan::Op> kept;
  kept.reserve(plan.forward.size());
  int folded = 0;
  for (plan::Op& op : plan.forward) {
    if (op.family == Family::maxpool2d_fwd && op.i[kernels::kAttrWindow] == kernels::kFoldedPoolWindow &&
        op.i[kernels::kAttrStride] == kernels::kFoldedPoolWindow) {
      const int k = folding_conv(kept, op);
      if (k >= 0) {
        plan::Op& conv = kept[static_cast<size_t>(k)];
        conv.tensors[slot::conv2d_fwd::pool_y] = op.tensors[slot::maxpool2d_fwd::y];
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
