#include "graph/dropout_fold.h"

#include <vector>

#include "graph/op_access.h"
#include "graph/plan_tensors.h"
#include "kernels/family_signature.h"
#include "kernels/kernel_registry.h"

namespace unet::graph {

namespace slot = kernels::slot;

namespace {

using kernels::Family;

// The index in forward of the conv2d_fwd op whose epilogue can take the dropout at position
// d: the last writer of its input, if that is a conv's y and its kernel applies dropouts; or -1.
int folding_conv(const std::vector<plan::Op>& forward, size_t d) {
  const int32_t x = forward[d].tensors[slot::dropout_fwd::x];
  const int k = last_writer(forward, d, x);
  if (k < 0) return -1;
  const plan::Op& conv = forward[static_cast<size_t>(k)];
  if (conv.family != Family::conv2d_fwd || conv.tensors[slot::conv2d_fwd::y] != x) return -1;
  const kernels::KernelInfo* info = kernels::find_kernel(conv.kernel);
  return info && info->dropout_epilogue && conv.i[kernels::kAttrFoldedDropout] == 0 ? k : -1;
}

// Whether every op but the conv writing y and the dropout reading it reads y only as a ReLU's
// output (relu_bwd's t0, a relu_y slot), and none writes it.
bool read_only_as_relu_output(const plan::Plan& plan, const plan::Op* conv, const plan::Op* dropout, int32_t y) {
  for (const auto* list : {&plan.forward, &plan.backward, &plan.update})
    for (const plan::Op& op : *list) {
      if (&op == conv || &op == dropout) continue;
      if (op_writes(op, y)) return false;
      if (!op_reads(op, y)) continue;
      const int relu = kernels::relu_mask_slot(op.family);
      for (size_t s = 0; s < op.tensors.size(); ++s) {
        if (op.tensors[s] != y) continue;
        const bool as_relu_output =
            (op.family == Family::relu_bwd && s == slot::relu_bwd::y) || static_cast<int>(s) == relu;
        if (!as_relu_output) return false;
      }
    }
  return true;
}

bool owns_unshared_memory(const plan::Plan& plan, int32_t t) {
  if (plan.tensors[static_cast<size_t>(t)].view_of >= 0) return false;
  for (const plan::Tensor& other : plan.tensors)
    if (other.view_of == t) return false;
  return true;
}

void replace_reads(std::vector<plan::Op>& ops, int32_t from, int32_t to) {
  for (plan::Op& op : ops)
    for (int32_t& t : op.tensors)
      if (t == from) t = to;
}

}  // namespace

int fold_dropouts(plan::Plan& plan) {
  int folded = 0;
  for (size_t d = 0; d < plan.forward.size(); ++d) {
    const plan::Op& dropout = plan.forward[d];
    if (dropout.family != Family::dropout_fwd) continue;
    const int k = folding_conv(plan.forward, d);
    if (k < 0 || !read_only_as_relu_output(plan, &plan.forward[static_cast<size_t>(k)], &dropout,
                                           dropout.tensors[slot::dropout_fwd::x]))
      continue;
    // The conv's output must own its memory and lend it to no view (a concat's slice): a view
    // would be read through its base, unseen above, and the conv no longer writes it.
    if (!owns_unshared_memory(plan, dropout.tensors[slot::dropout_fwd::x])) continue;
    // dropout_fwd: f0 rate, i: seeds.
    const int32_t old_y = dropout.tensors[slot::dropout_fwd::x], new_y = dropout.tensors[slot::dropout_fwd::y];
    plan::Op& conv = plan.forward[static_cast<size_t>(k)];
    conv.tensors[slot::conv2d_fwd::y] = new_y;
    conv.i[kernels::kAttrFoldedDropout] = 1;
    conv.i[kernels::kAttrSeedLo] = dropout.i[kernels::kAttrSeedLo];
    conv.i[kernels::kAttrSeedHi] = dropout.i[kernels::kAttrSeedHi];
    conv.f[0] = dropout.f[0];
    conv.label += "+" + dropout.label;
    plan.forward.erase(plan.forward.begin() + static_cast<long>(d));
    --d;
    replace_reads(plan.backward, old_y, new_y);
    remove_tensor(plan, old_y);  // nothing refers to it now
    ++folded;
  }
  return folded;
}

}  // namespace unet::graph
