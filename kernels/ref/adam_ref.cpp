// Reference Adam update, as TensorFlow's AdamOptimizer (the bias correction is folded into
// step->lr_t by the trainer). Items are chunks of kAdamChunk elements.
#include <algorithm>
#include <cmath>

#include "kernels/ref/ref_kernels.h"
#include "kernels/ref/ref_support.h"

namespace unet::kernels::ref {

size_t adam_update_work(const KernelCall& call) {
  return (static_cast<size_t>(call.t[slot::adam_update::param].w) + kAdamChunk - 1) / kAdamChunk;
}

void adam_update_run(const KernelCall& call, size_t begin, size_t end) {
  namespace slots = slot::adam_update;
  const TensorArg &param = call.t[slots::param], &grad = call.t[slots::grad], &m = call.t[slots::m],
                  &v = call.t[slots::v];
  const bool out_of_place = call.t[slots::param_out].data != nullptr;
  float* param_out = out_of_place ? call.t[slots::param_out].data : param.data;
  float* m_out = out_of_place ? call.t[slots::m_out].data : m.data;
  float* v_out = out_of_place ? call.t[slots::v_out].data : v.data;
  const float beta1 = call.f[0], beta2 = call.f[1], epsilon = call.f[2];
  const StepScalars& s = step_of(call);
  const size_t last = std::min(end * kAdamChunk, static_cast<size_t>(param.w));
  for (size_t e = begin * kAdamChunk; e < last; ++e) {
    const float g = grad.data[e] * s.grad_scale;
    const float m_new = beta1 * m.data[e] + (1.f - beta1) * g;
    const float v_new = beta2 * v.data[e] + (1.f - beta2) * g * g;
    const float p_new = param.data[e] - s.lr_t * m_new / (std::sqrt(v_new) + epsilon);
    m_out[e] = m_new;
    v_out[e] = v_new;
    param_out[e] = p_new;
  }
}

}  // namespace unet::kernels::ref
