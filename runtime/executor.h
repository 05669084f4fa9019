// Runs a plan's op lists over its arena: every kernel call is resolved and laid out once, at
// construction, so a step only patches the step scalars and calls kernels.
#pragma once
#include <vector>

#include "kernels/kernel_call.h"
#include "kernels/kernel_registry.h"
#include "plan/plan.h"
#include "runtime/function_ref.h"
#include "runtime/thread_pool.h"
#include "runtime/trace_writer.h"

namespace unet::runtime {

enum class OpList { forward, backward, update };
static_assert(static_cast<int>(OpList::update) == static_cast<int>(TraceList::update) &&
              static_cast<int>(OpList::backward) == static_cast<int>(TraceList::backward));

class Executor {
 public:
  Executor(const plan::Plan& plan, std::byte* arena, ThreadPool& threads);

  // Runs one op list with these step scalars. With `evaluating` (passed to the kernels as
  // StepScalars::evaluating), dropout is the identity, as at inference.
  void run(OpList list, const kernels::StepScalars& scalars, bool evaluating = false);
  // The same (not evaluating), calling before(i) and after(i) around op i of the list: where a
  // distributed step waits for weights and sends gradients.
  void run_hooked(OpList list, const kernels::StepScalars& scalars, FunctionRef<void(size_t)> before,
                  FunctionRef<void(size_t)> after);

  // Per-op wall time, for finding where a step goes (off by default: it reads the clock).
  struct OpTime {
    const plan::Op* op;
    double seconds;
    uint64_t calls;
    size_t work;  // work items a call is split into (at most this many threads can share it)
  };
  void set_profiling(bool on) { profiling_ = on; }
  // While set, every op records each thread's share of it (begin, end, work items) in `trace`
  // (unetrun --trace); nullptr (the default) records nothing: one pointer test an op.
  void set_tracer(TraceRecorder* trace) { tracer_ = trace; }
  TraceRecorder* tracer() const { return tracer_; }
  std::vector<OpTime> profile() const;
  // Forgets the times gathered so far (the warm-up steps: page faults, cold caches).
  void clear_profile();

 private:
  struct BoundOp {
    const plan::Op* op;
    const kernels::KernelInfo* kernel;
    double seconds;
    uint64_t calls;
    kernels::KernelCall call;
    size_t work;
  };
  std::vector<BoundOp> bind(const std::vector<plan::Op>& ops);
  std::vector<BoundOp>& ops_of(OpList list);
  void run_op(BoundOp& b);
  void run_op_traced(BoundOp& b);
  void begin_list(OpList list) {
    if (tracer_) [[unlikely]]
      tracer_->begin_list(static_cast<TraceList>(list));
  }
  void end_list() {
    if (tracer_) [[unlikely]]
      tracer_->end_list();
  }

  const plan::Plan& plan_;
  std::byte* arena_;
  ThreadPool& threads_;
  kernels::StepScalars scalars_;
  bool profiling_ = false;
  TraceRecorder* tracer_ = nullptr;
  std::vector<BoundOp> forward_, backward_, update_;
};

}  // namespace unet::runtime
