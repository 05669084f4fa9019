#include "runtime/batch_prefetcher.h"

#include <cstring>
#include <utility>

#include "runtime/runtime_error.h"

namespace unet::runtime {

namespace {

size_t floats_of(const kernels::TensorArg& t) { return static_cast<size_t>(t.image_stride) * t.n; }

}  // namespace

BatchPrefetcher::BatchPrefetcher(Dataset& data, const kernels::TensorArg& input, const kernels::TensorArg& target,
                                 int threads)
    : data_(data), input_(input), target_(target), slots_(2), async_(threads > 0) {
  for (Slot& s : slots_) {
    s.input.resize(floats_of(input));
    s.target.resize(floats_of(target));
  }
  if (async_) worker_ = std::thread([this] { worker_loop(); });
}

BatchPrefetcher::~BatchPrefetcher() {
  if (!async_) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  worker_.join();
}

void BatchPrefetcher::load_into(Slot& s) {
  kernels::TensorArg in = input_, t = target_;
  in.data = s.input.data();
  t.data = s.target.data();
  data_.load(s.idx, s.n, in, t);
}

void BatchPrefetcher::request(const size_t* idx, size_t n) {
  std::unique_lock<std::mutex> lock(mu_);
  // A slot is free once the batch it held has been taken.
  cv_.wait(lock, [&] { return next_request_ - next_take_ < slots_.size(); });
  Slot& s = slots_[next_request_ % slots_.size()];
  s.idx = idx;
  s.n = n;
  s.ready = false;
  ++next_request_;
  lock.unlock();
  cv_.notify_all();
}

void BatchPrefetcher::take() {
  std::unique_lock<std::mutex> lock(mu_);
  if (next_take_ == next_request_) throw RuntimeError("internal: a micro-batch was taken before it was requested");
  Slot& s = slots_[next_take_ % slots_.size()];
  if (!async_) {
    load_into(s);
  } else {
    cv_.wait(lock, [&] { return s.ready; });
    if (s.error) std::rethrow_exception(std::exchange(s.error, nullptr));
  }
  std::memcpy(input_.data, s.input.data(), s.input.size() * sizeof(float));
  std::memcpy(target_.data, s.target.data(), s.target.size() * sizeof(float));
  ++next_take_;
  if (!async_) ++next_load_;
  lock.unlock();
  cv_.notify_all();
}

void BatchPrefetcher::worker_loop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stopping_ || next_load_ < next_request_; });
    if (stopping_) return;
    Slot& s = slots_[next_load_ % slots_.size()];
    lock.unlock();
    std::exception_ptr error;
    try {
      load_into(s);  // outside the lock: the compute thread may take the other slot meanwhile
    } catch (...) {
      error = std::current_exception();  // an exception escaping this thread would end the process
    }
    lock.lock();
    s.error = error;
    s.ready = true;
    ++next_load_;
    cv_.notify_all();
  }
}

}  // namespace unet::runtime
