#include "runtime/executor.h"

#include <chrono>

#include <fmt/format.h>

#include "plan/plan_views.h"
#include "runtime/runtime_error.h"

namespace unet::runtime {

using kernels::TensorArg;

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
    b.call = plan::op_call(plan_, op, arena_);
    b.call.step = &scalars_;
    b.work = b.kernel->work(b.call);
    bound.push_back(b);
  }
  return bound;
}

std::vector<Executor::BoundOp>& Executor::ops_of(OpList list) {
  return list == OpList::forward ? forward_ : list == OpList::backward ? backward_ : update_;
}

void Executor::run_op(BoundOp& b) {
  if (tracer_) [[unlikely]] {
    run_op_traced(b);
    return;
  }
  const auto t0 = profiling_ ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
  threads_.parallel_for(b.work, [&](size_t begin, size_t end) { b.kernel->run(b.call, begin, end); });
  if (profiling_) {
    b.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ++b.calls;
  }
}

// The traced op: each share of its work items timed on the thread that ran it. An op with no
// work items still appears, as an instant on the calling thread.
void Executor::run_op_traced(BoundOp& b) {
  TraceRecorder& trace = *tracer_;
  const auto t0 = std::chrono::steady_clock::now();
  if (b.work == 0) {
    const int64_t t = TraceRecorder::now();
    trace.op_chunk(ThreadPool::current_slot(), b.op, 0, 0, 0, t, t);
  }
  threads_.parallel_for(b.work, [&](size_t begin, size_t end) {
    const int64_t c0 = TraceRecorder::now();
    b.kernel->run(b.call, begin, end);
    trace.op_chunk(ThreadPool::current_slot(), b.op, begin, end, b.work, c0, TraceRecorder::now());
  });
  if (profiling_) {
    b.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ++b.calls;
  }
}

void Executor::run(OpList list, const kernels::StepScalars& scalars, bool evaluating) {
  scalars_ = scalars;
  scalars_.evaluating = evaluating;  // the dropout kernels read it
  begin_list(list);
  for (BoundOp& b : ops_of(list)) run_op(b);
  end_list();
}

void Executor::run_hooked(OpList list, const kernels::StepScalars& scalars, FunctionRef<void(size_t)> before,
                          FunctionRef<void(size_t)> after) {
  scalars_ = scalars;
  scalars_.evaluating = false;
  std::vector<BoundOp>& ops = ops_of(list);
  begin_list(list);
  for (size_t i = 0; i < ops.size(); ++i) {
    before(i);
    run_op(ops[i]);
    after(i);
  }
  end_list();
}

}  // namespace unet::runtime

namespace unet::runtime {

std::vector<Executor::OpTime> Executor::profile() const {
  std::vector<OpTime> out;
  for (const auto* list : {&forward_, &backward_, &update_})
    for (const BoundOp& b : *list) out.push_back({b.op, b.seconds, b.calls, b.work});
  return out;
}

void Executor::clear_profile() {
  for (auto* list : {&forward_, &backward_, &update_})
    for (BoundOp& b : *list) b.seconds = 0, b.calls = 0;
}

}  // namespace unet::runtime
