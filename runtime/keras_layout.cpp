#include "runtime/keras_layout.h"

#include <cstring>

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

}  // namespace unet::runtime
