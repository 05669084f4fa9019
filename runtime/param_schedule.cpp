#include "runtime/param_schedule.h"

#include <algorithm>

namespace unet::runtime {

namespace {

bool uses(const plan::Op& op, int tensor) {
  return tensor >= 0 && std::find(op.tensors.begin(), op.tensors.end(), tensor) != op.tensors.end();
}

}  // namespace

ParamSchedule::ParamSchedule(const plan::Plan& plan)
    : params(plan.params.size()),
      forward_reads(plan.forward.size()),
      grads_final(plan.backward.size()),
      values_free(plan.backward.size()) {
  for (size_t k = 0; k < plan.params.size(); ++k) {
    const plan::Param& p = plan.params[k];
    Entry& e = params[k];
    for (size_t i = 0; i < plan.forward.size() && e.first_forward_read == kNone; ++i)
      if (uses(plan.forward[i], p.value)) e.first_forward_read = i;
    for (size_t i = 0; i < plan.backward.size(); ++i) {
      if (uses(plan.backward[i], p.grad)) e.grad_final = i;
      if (uses(plan.backward[i], p.value)) e.last_backward_read = i;
    }
    if (e.first_forward_read != kNone) forward_reads[e.first_forward_read].push_back(k);
    // A gradient no backward op writes stays zero: final from the start (the last op is as good).
    if (e.grad_final == kNone && !plan.backward.empty()) e.grad_final = plan.backward.size() - 1;
    if (e.grad_final != kNone) grads_final[e.grad_final].push_back(k);
    if (e.last_backward_read != kNone)
      values_free[e.last_backward_read].push_back(k);
    else
      free_before_backward.push_back(k);
  }
}

}  // namespace unet::runtime
