#include "runtime/executor.h"

#include <chrono>

#include <fmt/format.h>

#include "runtime/runtime_error.h"

namespace unet::runtime {

using kernels::TensorArg;
using plan::Layout;

TensorArg tensor_view(const plan::Plan& plan, std::byte* arena, int id) {
  const plan::Tensor& t = plan.tensors.at(static_cast<size_t>(id));
  TensorArg a;
  a.data = reinterpret_cast<float*>(arena + t.offset);
  a.n = static_cast<int32_t>(t.n);
  a.c = static_cast<int32_t>(t.c);
  a.h = static_cast<int32_t>(t.h);
  a.w = static_cast<int32_t>(t.w);
  switch (t.layout) {
    case Layout::nChw16c: {
      const plan::Tensor& base = t.view_of >= 0 ? plan.tensors.at(static_cast<size_t>(t.view_of)) : t;
      a.image_stride = static_cast<int64_t>(kernels::padded_channels(static_cast<int>(base.c))) * t.h * t.w;
      break;
    }
    case Layout::nhw: a.image_stride = static_cast<int64_t>(t.h) * t.w; break;
    case Layout::flat: a.image_stride = t.w; break;
    case Layout::oihw16i16o: a.image_stride = 0; break;
  }
  return a;
}

Executor::Executor(const plan::Plan& plan, std::byte* arena, ThreadPool& threads)
    : plan_(plan), arena_(arena), threads_(threads) {
  forward_ = bind(plan.forward);
  backward_ = bind(plan.backward);
  update_ = bind(plan.update);
}

std::vector<Executor::BoundOp> Executor::bind(const std::vector<plan::Op>& ops) {
  std::vector<BoundOp> bound;
  bound.reserve(ops.size());
  for (const plan::Op& op : ops) {
    BoundOp b{};
    b.op = &op;
    b.kernel = kernels::find_kernel(op.kernel);
    if (!b.kernel)  // the validator refuses such plans; this guards direct callers
      throw RuntimeError(fmt::format("op '{}': unknown kernel '{}'", op.label, op.kernel));
    for (int r = 0; r < kernels::kMaxTensors; ++r)
      if (op.tensors[r] >= 0) b.call.t[r] = tensor_view(plan_, arena_, op.tensors[r]);
    for (int k = 0; k < kernels::kMaxIntAttrs; ++k) b.call.i[k] = op.i[k];
    for (int k = 0; k < kernels::kMaxFloatAttrs; ++k) b.call.f[k] = op.f[k];
    b.call.step = &scalars_;
    b.work = b.kernel->work(b.call);
    bound.push_back(b);
  }
  return bound;
}

void Executor::run(OpList list, const kernels::StepScalars& scalars, bool evaluating) {
  scalars_ = scalars;
  std::vector<BoundOp>& ops = list == OpList::forward ? forward_ : list == OpList::backward ? backward_ : update_;
  for (BoundOp& b : ops) {
    const bool identity_dropout = evaluating && b.kernel->family == kernels::Family::dropout_fwd;
    const float rate = b.call.f[0];
    if (identity_dropout) b.call.f[0] = 0.f;
    const auto t0 = profiling_ ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
    threads_.parallel_for(b.work, [&](size_t begin, size_t end) { b.kernel->run(b.call, begin, end); });
    if (profiling_) {
      b.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      ++b.calls;
    }
    if (identity_dropout) b.call.f[0] = rate;
  }
}

}  // namespace unet::runtime

namespace unet::runtime {

std::vector<Executor::OpTime> Executor::profile() const {
  std::vector<OpTime> out;
  for (const auto* list : {&forward_, &backward_, &update_})
    for (const BoundOp& b : *list) out.push_back({b.op, b.seconds, b.calls});
  return out;
}

}  // namespace unet::runtime
