// Loads the next micro-batch on a thread beside the compute (the seed's inter-op threads), so
// reading, modality selection and the reorder to nChw16c overlap the previous micro-batch.
#pragma once
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "runtime/dataset.h"

namespace unet::runtime {

class BatchPrefetcher {
 public:
  // Loads from `data` into copies of the plan's `input` and `target` views; take() moves a
  // loaded batch into the views. threads == 0: load synchronously inside take().
  BatchPrefetcher(Dataset& data, const kernels::TensorArg& input, const kernels::TensorArg& target, int threads);
  ~BatchPrefetcher();
  BatchPrefetcher(const BatchPrefetcher&) = delete;
  BatchPrefetcher& operator=(const BatchPrefetcher&) = delete;

  // Queues a micro-batch: images idx[0..n) (the pointer must stay valid until it is taken).
  void request(const size_t* idx, size_t n);
  // Waits for the oldest queued batch and writes it into the plan's input and target. What
  // loading it threw (e.g. a NaN in the data) is thrown here, on the compute thread.
  void take();

 private:
  struct Slot {
    std::vector<float> input, target;
    const size_t* idx = nullptr;
    size_t n = 0;
    bool ready = false;
    std::exception_ptr error;  // what loading threw (bad data): rethrown by take()
  };
  void load_into(Slot& s);
  void worker_loop();

  Dataset& data_;
  kernels::TensorArg input_, target_;
  std::vector<Slot> slots_;  // a ring: requested in order, taken in order
  size_t next_request_ = 0, next_take_ = 0, next_load_ = 0;
  bool async_, stopping_ = false;
  std::mutex mu_;
  std::condition_variable cv_;
  std::thread worker_;
};

}  // namespace unet::runtime
