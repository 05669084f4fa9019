// A plan made ready to run on this host: checked, its arena allocated and placed, its kernels
// bound to the thread pool.
#pragma once
#include <memory>
#include <string>

#include "plan/plan.h"
#include "plan/plan_views.h"
#include "runtime/arena.h"
#include "runtime/executor.h"
#include "runtime/thread_pool.h"

namespace unet::runtime {

struct EngineOptions {
  ThreadOptions threads;
  int numa_node = -1;  // prefer the arena on this node (-1: anywhere)
  std::string plan_path;  // names the plan in errors ("" : its model name)
  // The largest arena this process may map (0: this host's physical memory): a plan compiled
  // for a bigger machine is refused naming its largest tensor, not swapped to death.
  uint64_t max_arena_bytes = 0;
};

// Reads, validates and checks `path` against this host: a plan whose tier needs CPU features
// the host lacks is refused with the features named and a recompile hint.
plan::Plan load_plan(const std::string& path);

class Engine {
 public:
  Engine(plan::Plan plan, const EngineOptions& options);
  const plan::Plan& plan() const { return plan_; }
  std::byte* arena() { return arena_.data(); }
  Executor& executor() { return executor_; }
  ThreadPool& threads() { return threads_; }
  kernels::TensorArg view(int tensor_id) { return plan::tensor_arg(plan_, tensor_id, arena_.data()); }

 private:
  plan::Plan plan_;
  Arena arena_;
  ThreadPool threads_;
  Executor executor_;
};

}  // namespace unet::runtime
