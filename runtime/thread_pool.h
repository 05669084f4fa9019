// The compute threads: one TBB arena per process, each op's work split statically.
#pragma once
#include <cstddef>
#include <memory>

#include "runtime/function_ref.h"

namespace unet::runtime {

struct ThreadOptions {
  int num_threads = 0;  // 0: the seed's default, cores - 2 (at least 1)
  bool pin = true;      // bind each arena thread to its own core (hwloc)
  int blocktime_ms = 0; // how long idle workers spin after an op before TBB may let them sleep (the seed's KMP_BLOCKTIME)
};

int default_num_threads();  // cores - 2, at least 1

class ThreadPool {
 public:
  explicit ThreadPool(const ThreadOptions& options);
  ~ThreadPool();
  int size() const;
  // Calls body(begin, end) on disjoint ranges covering [0, work), one contiguous range per
  // thread (static partitioning: the same split every step).
  void parallel_for(size_t work, FunctionRef<void(size_t, size_t)> body);
  // The pool slot of the calling thread inside a parallel_for body: 0 for the thread that
  // called parallel_for, 1..size()-1 for the others (for per-thread buffers that need no lock).
  static int current_slot();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace unet::runtime
