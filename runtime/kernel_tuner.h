// Per-op kernel tuning: the compiler gives each op the highest-priority kernel of its family
// that fits (graph/kernel_choice.h); whether that is the fastest one for this layer, batch,
// host and thread count is measured here. Every op's candidates (plan/kernel_fit.h, those this
// host can run) are timed on the op itself, in the middle of a real training step, and the
// fastest is written to a tune file (tune_file.h) that unetc --tune compiles into the plan.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kernels/kernel_registry.h"
#include "plan/op_lists.h"
#include "plan/plan.h"
#include "runtime/function_ref.h"
#include "runtime/thread_pool.h"
#include "runtime/tune_file.h"

namespace unet::runtime {

struct TuneOptions {
  ThreadOptions threads;
  // Wall time of the whole tuning, engine set-up and warm-up step included: once spent, no
  // new problem is timed and the rest keep their default kernels (counted as untimed).
  double budget_seconds = 60;
  // Rounds of timed calls after each candidate's probe calls: every round runs each candidate
  // once, in rotating order, so a burst of load from elsewhere slows them alike (short ops get
  // more rounds, to be timed over 5 ms at least, at most 50). A default beaten by another
  // kernel is timed against it for as many rounds again before the file changes it. The
  // median of a candidate's calls counts.
  int runs = 5;
  // A candidate whose first calls already take this many times the best median so far cannot
  // win: it is not run again (the scalar references would otherwise eat the budget).
  double cut_ratio = 3;
  // The fastest kernel (by median) replaces the default only when both its median and its
  // fastest call are this fraction below the default's: a tie within the noise keeps the
  // compiler's choice, and so does a median won only because load from elsewhere hit the
  // default harder (the fastest call is what such load cannot make faster).
  double min_gain = 0.02;
};

struct CandidateTime {
  const kernels::KernelInfo* kernel = nullptr;
  double seconds = 0;      // median
  double min_seconds = 0;  // fastest call
  int runs = 0;            // calls the median is of; 0: cut after its first calls (seconds: the faster)
};

// One distinct problem (family and shape, plan/op_shape.h) with at least two candidates: the
// ops that share it, timed once, on the first of them.
struct TuneProblem {
  kernels::Family family = kernels::Family::conv2d_fwd;
  std::string shape;
  std::vector<std::pair<plan::OpListKind, size_t>> ops;  // list and index of each op
  std::string first_op;                                  // "forward/conv2a"
  const kernels::KernelInfo* default_kernel = nullptr;   // the first op's kernel in the plan
  std::vector<const kernels::KernelInfo*> candidates;    // in the order they are timed
  std::vector<CandidateTime> times;                      // empty: not timed (the budget was spent)
  const kernels::KernelInfo* best = nullptr;             // the fastest timed
  const kernels::KernelInfo* chosen = nullptr;           // best, or the default when within min_gain

  bool timed() const { return !times.empty(); }
  const CandidateTime* time_of(const kernels::KernelInfo* k) const;  // nullptr if not timed
  double seconds_of(const kernels::KernelInfo* k) const;             // its median, 0 if not timed
};

struct TuneProgress {
  size_t done = 0, total = 0;  // problems timed (or skipped) of those to time
  double elapsed = 0, budget = 0;
  double eta = 0;            // seconds left at the pace so far, at most what the budget leaves
  std::string_view current;  // "forward/conv2a conv2d_fwd": the problem just finished
};

struct TuneResult {
  TuneFile file;                      // what write_tune_file writes (date, CPU, every timed op)
  std::vector<TuneProblem> problems;  // in step order of their first op
  size_t untimed = 0;                 // problems left at their defaults: the budget was spent
  double seconds = 0;                 // wall time of the tuning
};

// Times every problem of a training plan of a tier this host runs: an Engine with `options`'
// threads runs one warm-up step of the synthetic batch (step_benchmark.h), then a second step
// during which each problem's candidates are run on its first op just where the step runs it
// (forward: before the op, backward: after it, update: before it), so every input holds the
// values that op really sees; the tensors the op writes are restored after the timing (and
// before each call where the op reads them: accumulation, in place), so the step goes on
// unchanged and every call sees the same inputs. Calls are split over the pool as the executor
// splits them. `progress` is called after each problem. Throws RuntimeError for a forward-only
// plan or one this host cannot run.
TuneResult tune_kernels(const plan::Plan& plan, const TuneOptions& options,
                        FunctionRef<void(const TuneProgress&)> progress);

// tune_kernels on a plan compiled from a model (the caller compiles: graph/ is not the
// runtime's to call), then writes its tune file to `output` (atomically).
TuneResult tune_model(const plan::Plan& plan, const TuneOptions& options, const std::string& output,
                      FunctionRef<void(const TuneProgress&)> progress);

// The result as a table, one row per problem: its first op (and how many more share it),
// family, shape, the default and the best kernel with their median ms, best / default of the
// medians and of the fastest calls, and whether the tune file changes the kernel; then a line
// on what was left untimed.
std::string tune_table(const TuneResult& result);

}  // namespace unet::runtime
