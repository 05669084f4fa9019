#include "graph/lower_update.h"

#include <utility>

#include "graph/plan_tensors.h"

namespace unet::graph {

void emit_update(plan::Plan& plan) {
  plan::Op op;
  op.family = kernels::Family::adam_update;
  op.label = "adam";
  const std::pair<const char*, const plan::Region*> regions[] = {
      {"params", &plan.params_region},
      {"grads", &plan.grads_region},
      {"adam_m", &plan.adam_m_region},
      {"adam_v", &plan.adam_v_region}};
  for (int k = 0; k < 4; ++k) {
    const plan::Region& region = *regions[k].second;
    const auto floats = static_cast<uint32_t>(region.bytes / sizeof(float));
    op.tensors[k] = add_tensor(plan, regions[k].first, plan::TensorRole::region, plan::Layout::flat,
                               1, 1, 1, floats);
    plan.tensors[op.tensors[k]].offset = region.offset;
  }
  op.f[0] = plan.optimizer.beta1;
  op.f[1] = plan.optimizer.beta2;
  op.f[2] = plan.optimizer.epsilon;
  plan.update.push_back(op);
}

}  // namespace unet::graph
