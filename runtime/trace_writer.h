// The op timeline of chosen training steps (unetrun --trace FILE.json --trace_steps A:B), in the
// Chrome trace-event format chrome://tracing and Perfetto read, as TensorFlow's timeline gave the
// original's users:
//   - one complete event ("ph": "X") for each share of an op's work items that a compute thread
//     ran, on that thread's row: the op's label as `unetc --dump` prints it, its list (forward,
//     backward, update) as the category, the kernel, the work items [begin, end) of how many,
//     the global step and which pass of the list it was (a micro-batch's forward, its recompute);
//   - on a "training steps" row: each traced step, and each pass of an op list inside it;
//   - thread names and their order as metadata events ("ph": "M").
// The executor records only while it holds a recorder (runtime/executor.h, a null pointer
// otherwise); kernels know nothing of it. Each compute thread appends to its own slot's buffer,
// so recording takes no lock. write() puts the file in place atomically (temporary, rename).
#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "plan/plan.h"

namespace unet::runtime {

// Global steps first..last, inclusive, numbered as the training log's "Global Step" (the step
// after which it is printed: the run's first step is 1).
struct StepRange {
  uint64_t first = 0, last = 0;
  bool contains(uint64_t step) const { return step >= first && step <= last; }
};

// "A:B" (or "N" for N:N), 1 <= A <= B. Anything else throws RuntimeError naming `flag` (if any)
// and the text.
StepRange parse_step_range(const std::string& text, const std::string& flag = "--trace_steps");
// The window traced when --trace_steps is not given: the run's 2nd and 3rd steps (the first
// warms caches and faults in the arena's pages).
constexpr uint64_t kDefaultTraceFrom = 2, kDefaultTraceTo = 3;

enum class TraceList : uint8_t { forward, backward, update };
const char* trace_list_name(TraceList list);

class TraceRecorder {
 public:
  // `path`: the JSON file; `threads`: the compute pool's size (its slots 0..threads-1);
  // `steps`: the global steps to trace (nullopt: the 2nd and 3rd of the run, see start_run).
  TraceRecorder(std::string path, int threads, std::optional<StepRange> steps, const plan::Plan& plan);
  TraceRecorder(const TraceRecorder&) = delete;
  TraceRecorder& operator=(const TraceRecorder&) = delete;

  // The run's first step will be `first_global_step` + 1: fixes the default window.
  void start_run(uint64_t first_global_step);
  uint64_t run_start() const { return run_start_; }
  const StepRange& steps() const { return steps_; }
  bool wants(uint64_t global_step) const { return !finished_ && steps_.contains(global_step); }

  // The training thread, around a traced step and around each pass of an op list.
  void begin_step(uint64_t global_step);
  void end_step();
  void begin_list(TraceList list);
  void end_list();

  // A compute thread in `slot` ran work items [begin, end) of `work` of `op` from t0 to t1 (now()).
  static int64_t now() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  void op_chunk(int slot, const plan::Op* op, size_t begin, size_t end, size_t work, int64_t t0, int64_t t1);

  size_t steps_traced() const { return traced_.size(); }
  size_t op_events() const;
  // Writes the JSON (temporary name, then rename) and returns its path. Throws naming the file.
  // Written or not, the recorder is finished: the trainer tries once, then stops recording.
  std::string write();
  bool written() const { return written_; }
  bool finished() const { return finished_; }
  const std::string& path() const { return path_; }

 private:
  struct Chunk {
    const plan::Op* op;
    uint64_t step;
    uint32_t pass;
    TraceList list;
    int os_thread;
    size_t begin, end, work;
    int64_t t0, t1;
  };
  struct Span {  // on the training steps row
    std::string name;
    const char* category;
    uint64_t step;
    uint32_t pass;
    int64_t t0, t1;
  };
  std::vector<Chunk>& buffer(int slot);

  std::string path_;
  const plan::Plan& plan_;
  std::optional<StepRange> requested_;
  StepRange steps_;
  // Read by the compute threads while an op runs; set by the training thread between ops.
  uint64_t step_ = 0;
  TraceList list_ = TraceList::forward;
  uint32_t pass_ = 0;
  uint32_t passes_[3] = {0, 0, 0};  // of each list in the current step
  std::vector<std::vector<Chunk>> slots_;
  std::vector<Chunk> overflow_;  // a thread outside the pool's slots (none expected)
  std::mutex overflow_mutex_;
  std::vector<Span> spans_;
  size_t open_step_ = SIZE_MAX, open_list_ = SIZE_MAX;
  std::vector<uint64_t> traced_;
  int64_t origin_ = -1;  // the first traced step's start: ts 0
  uint64_t run_start_ = 0;
  bool written_ = false;
  bool finished_ = false;
};

}  // namespace unet::runtime
