#include "plan/plan_views.h"

namespace unet::plan {

kernels::TensorArg tensor_arg(const Plan& plan, int id, std::byte* arena) {
  const Tensor& t = plan.tensors.at(static_cast<size_t>(id));
  kernels::TensorArg a;
  a.data = arena ? reinterpret_cast<float*>(arena + t.offset) : nullptr;
  a.n = static_cast<int32_t>(t.n);
  a.c = static_cast<int32_t>(t.c);
  a.h = static_cast<int32_t>(t.h);
  a.w = static_cast<int32_t>(t.w);
  switch (t.layout) {
    case Layout::nChw16c: {
      const Tensor& base = t.view_of >= 0 ? plan.tensors.at(static_cast<size_t>(t.view_of)) : t;
      a.image_stride = static_cast<int64_t>(kernels::padded_channels(static_cast<int>(base.c))) * t.h * t.w;
      break;
    }
    case Layout::nhw: a.image_stride = static_cast<int64_t>(t.h) * t.w; break;
    case Layout::flat: a.image_stride = t.w; break;
    case Layout::oihw16i16o: a.image_stride = 0; break;
  }
  return a;
}

kernels::KernelCall op_call(const Plan& plan, const Op& op, std::byte* arena) {
  kernels::KernelCall call;
  for (int r = 0; r < kernels::kMaxTensors; ++r)
    if (op.tensors[r] >= 0) call.t[r] = tensor_arg(plan, op.tensors[r], arena);
  for (int k = 0; k < kernels::kMaxIntAttrs; ++k) call.i[k] = op.i[k];
  for (int k = 0; k < kernels::kMaxFloatAttrs; ++k) call.f[k] = op.f[k];
  return call;
}

}  // namespace unet::plan
