#include "runtime/param_init.h"

#include <cmath>
#include <cstring>

#include "kernels/counter_rng.h"
#include "kernels/layout_reorder.h"
#include "plan/plan_views.h"

namespace unet::runtime {

using plan::ParamKind;

std::vector<size_t> keras_shape(const plan::Param& p) {
  switch (p.kind) {
    case ParamKind::conv_kernel: return {p.kh, p.kw, p.ci, p.co};
    case ParamKind::tconv_kernel: return {p.kh, p.kw, p.co, p.ci};
    case ParamKind::bias: return {p.co};
  }
  return {};
}

std::vector<float> initial_values(const plan::Param& p) {
  const std::vector<size_t> shape = keras_shape(p);
  size_t count = 1;
  for (size_t d : shape) count *= d;
  std::vector<float> v(count, 0.f);
  if (p.init == plan::Init::zeros) return v;
  // Keras: receptive field = product of all but the last two dims; fan_in = rf * shape[-2],
  // fan_out = rf * shape[-1] (for Conv2DTranspose that makes fan_in count output filters).
  double rf = 1;
  for (size_t k = 0; k + 2 < shape.size(); ++k) rf *= static_cast<double>(shape[k]);
  const double fan_in = shape.size() >= 2 ? rf * static_cast<double>(shape[shape.size() - 2]) : static_cast<double>(count);
  const double fan_out = shape.size() >= 2 ? rf * static_cast<double>(shape.back()) : static_cast<double>(count);
  const double limit = p.init == plan::Init::he_uniform ? std::sqrt(6.0 / fan_in)
                                                        : std::sqrt(6.0 / (fan_in + fan_out));
  for (size_t j = 0; j < count; ++j)
    v[j] = static_cast<float>((2.0 * kernels::counter_uniform(p.seed, 0, 0, j) - 1.0) * limit);
  return v;
}

void store_param(const plan::Plan& plan, std::byte* arena, const plan::Param& p, int tensor_id,
                 const float* keras) {
  const kernels::TensorArg t = plan::tensor_arg(plan, tensor_id, arena);
  const int kh = static_cast<int>(p.kh), kw = static_cast<int>(p.kw);
  const int ci = static_cast<int>(p.ci), co = static_cast<int>(p.co);
  switch (p.kind) {
    case ParamKind::conv_kernel: kernels::pack_conv_kernel(keras, kh, kw, ci, co, t.data); break;
    case ParamKind::tconv_kernel: kernels::pack_tconv_kernel(keras, kh, kw, ci, co, t.data); break;
    case ParamKind::bias:
      std::memset(t.data, 0, sizeof(float) * static_cast<size_t>(t.w));
      std::memcpy(t.data, keras, sizeof(float) * p.co);
      break;
  }
}

void load_param(const plan::Plan& plan, std::byte* arena, const plan::Param& p, int tensor_id,
                float* keras) {
  const kernels::TensorArg t = plan::tensor_arg(plan, tensor_id, arena);
  const int kh = static_cast<int>(p.kh), kw = static_cast<int>(p.kw);
  const int ci = static_cast<int>(p.ci), co = static_cast<int>(p.co);
  switch (p.kind) {
    case ParamKind::conv_kernel: kernels::unpack_conv_kernel(t.data, kh, kw, ci, co, keras); break;
    case ParamKind::tconv_kernel: kernels::unpack_tconv_kernel(t.data, kh, kw, ci, co, keras); break;
    case ParamKind::bias: std::memcpy(keras, t.data, sizeof(float) * p.co); break;
  }
}

void initialise_params(const plan::Plan& plan, std::byte* arena) {
  for (const plan::Param& p : plan.params) {
    const std::vector<float> v = initial_values(p);
    store_param(plan, arena, p, p.value, v.data());
  }
  for (const plan::Region& r : {plan.grads_region, plan.adam_m_region, plan.adam_v_region})
    std::memset(arena + r.offset, 0, r.bytes);
}

}  // namespace unet::runtime
