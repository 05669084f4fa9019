#include "graph/dropout_fold.h"

#include <algorithm>
#include <vector>

#include "graph/op_access.h"
#include "graph/plan_tensors.h"
#include "kernels/kernel_registry.h"

namespace unet::graph {

namespace {

using kernels::Family;

bool touches(const std::vector<int32_t>& ids, int32_t tensor) {
  return std::find(ids.begin(), ids.end(), tensor) != ids.end();
}

// The index in kept of the conv2d_fwd op whose epilogue can take this dropout, or -1.
int folding_conv(const std::vector<plan::Op>& kept, const plan::Op& dropout) {
  const int32_t x = dropout.tensors[0];
  for (int k = static_cast<int>(kept.size()) - 1; k >= 0; --k) {
    const plan::Op& op = kept[static_cast<size_t>(k)];
    if (op.family == Family::conv2d_fwd && op.tensors[3] == x) {
      const kernels::KernelInfo* info = kernels::find_kernel(op.kernel);
      return info && info->dropout_epilogue && op.i[kernels::kAttrFoldedDropout] == 0 ? k : -1;
    }
    if (touches(op_access(op).writes, x)) return -1;  // x's last writer is not a conv
  }
  return -1;
}

// Whether every op but the conv writing y and the dropout reading it reads y only as a ReLU's
// output (relu_bwd's t0, a relu_y slot), and none writes it.
bool read_only_as_relu_output(const plan::Plan& plan, const plan::Op* conv, const plan::Op* dropout, int32_t y) {
  for (const auto* list : {&plan.forward, &plan.backward, &plan.update})
    for (const plan::Op& op : *list) {
      if (&op == conv || &op == dropout) continue;
      const OpAccess a = op_access(op);
      if (touches(a.writes, y)) return false;
      if (!touches(a.reads, y)) continue;
      const int relu = kernels::relu_mask_slot(op.family);
      for (size_t s = 0; s < op.tensors.size(); ++s) {
        if (op.tensors[s] != y) continue;
        const bool as_relu_output = (op.family == Family::relu_bwd && s == 0) || static_cast<int>(s) == relu;
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
    // The ops before it, as the search wants them.
    const std::vector<plan::Op> before(plan.forward.begin(), plan.forward.begin() + static_cast<long>(d));
    const int k = folding_conv(before, dropout);
    if (k < 0 || !read_only_as_relu_output(plan, &plan.forward[static_cast<size_t>(k)], &dropout, dropout.tensors[0]))
      continue;
    // The conv's output must own its memory and lend it to no view (a concat's slice): a view
    // would be read through its base, unseen above, and the conv no longer writes it.
    if (!owns_unshared_memory(plan, dropout.tensors[0])) continue;
    // dropout_fwd: t0 x, t1 y, f0 rate, i: seeds.
    const int32_t old_y = dropout.tensors[0], new_y = dropout.tensors[1];
    plan::Op& conv = plan.forward[static_cast<size_t>(k)];
    conv.tensors[3] = new_y;
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
