#include "runtime/thread_pool.h"

#include <hwloc.h>
#include <xmmintrin.h>
#include <tbb/blocked_range.h>
#include <tbb/global_control.h>
#include <tbb/parallel_for.h>
#include <tbb/partitioner.h>
#include <tbb/task_arena.h>
#include <tbb/task_group.h>
#include <tbb/task_scheduler_observer.h>

#include "base/limits.h"
#include "kernels/kernel_call.h"
#include "runtime/runtime_error.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <thread>
#include <vector>

namespace unet::runtime {

int default_num_threads() {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return std::max(1, cores - 2);
}

namespace {

// Subnormal floats cost a hundred cycles an operation on x86. Late in training, Adam's
// moments and small gradients drift into that range and a step slows several-fold, so the
// compute threads flush them to zero, as TensorFlow's thread pools do.
void flush_denormals() { _mm_setcsr(_mm_getcsr() | 0x8040); }  // FTZ | DAZ

class DenormalFlusher : public tbb::task_scheduler_observer {
 public:
  explicit DenormalFlusher(tbb::task_arena& arena) : tbb::task_scheduler_observer(arena) { observe(true); }
  ~DenormalFlusher() override { observe(false); }
  void on_scheduler_entry(bool) override { flush_denormals(); }
};

// Pins each thread entering the arena to one core, in order of arrival, among the cores the
// creating thread may run on: a launcher (unetlaunch, srun --cpu-bind, taskset, numactl -C)
// that gave this process a core set keeps its threads there.
class CorePinner : public tbb::task_scheduler_observer {
 public:
  CorePinner(tbb::task_arena& arena) : tbb::task_scheduler_observer(arena) {
    hwloc_topology_init(&topo_);
    hwloc_topology_load(topo_);
    hwloc_bitmap_t allowed = hwloc_bitmap_alloc();
    const bool bound = hwloc_get_cpubind(topo_, allowed, HWLOC_CPUBIND_THREAD) == 0;
    const int all = hwloc_get_nbobjs_by_type(topo_, HWLOC_OBJ_CORE);
    for (int k = 0; k < all; ++k) {
      hwloc_obj_t core = hwloc_get_obj_by_type(topo_, HWLOC_OBJ_CORE, k);
      if (core && core->cpuset && (!bound || hwloc_bitmap_intersects(core->cpuset, allowed))) cores_.push_back(core);
    }
    hwloc_bitmap_free(allowed);
    observe(true);
  }
  ~CorePinner() override {
    observe(false);
    hwloc_topology_destroy(topo_);
  }
  void on_scheduler_entry(bool) override {
    if (cores_.empty()) return;
    thread_local bool pinned = false;
    if (pinned) return;
    pinned = true;
    const int slot = tbb::this_task_arena::current_thread_index();
    if (slot < 0) return;
    hwloc_bitmap_t set = hwloc_bitmap_dup(cores_[static_cast<size_t>(slot) % cores_.size()]->cpuset);
    hwloc_bitmap_singlify(set);  // one hardware thread of the core
    hwloc_set_cpubind(topo_, set, HWLOC_CPUBIND_THREAD);
    hwloc_bitmap_free(set);
  }

 private:
  hwloc_topology_t topo_{};
  std::vector<hwloc_obj_t> cores_;
};

}  // namespace

// Worker stacks with room for a kernel's scratch (kernels/kernel_call.h, kMaxKernelStackBytes)
// over the TBB and executor frames beneath it, whatever TBB's default.
constexpr size_t kWorkerStackBytes = 8 * kernels::kMaxKernelStackBytes;

struct ThreadPool::Impl {
  int threads;
  int blocktime_ms;
  tbb::global_control stack{tbb::global_control::thread_stack_size, kWorkerStackBytes};  // before the arena's workers
  tbb::task_arena arena;
  std::unique_ptr<CorePinner> pinner;
  std::unique_ptr<DenormalFlusher> flusher;
  // Blocktime: after each parallel_for, every worker runs a spin task until the next
  // parallel_for starts (the epoch moves) or blocktime_ms pass, so the next op finds the
  // workers awake, as KMP_BLOCKTIME keeps OpenMP's. TBB has no such setting of its own.
  std::atomic<uint64_t> epoch{0};
  tbb::task_group spinners;
  Impl(int n, int blocktime) : threads(n), blocktime_ms(std::max(0, blocktime)), arena(n) {}

  void keep_workers_awake() {
    const uint64_t e = epoch.load(std::memory_order_relaxed);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(blocktime_ms);
    arena.execute([&] {
      for (int k = 1; k < threads; ++k)
        spinners.run([this, e, deadline] {
          while (epoch.load(std::memory_order_relaxed) == e && std::chrono::steady_clock::now() < deadline)
            for (int spin = 0; spin < 64; ++spin) _mm_pause();
        });
    });
  }
  ~Impl() {
    epoch.fetch_add(1);  // the spinners stop
    arena.execute([&] { spinners.wait(); });
  }
};

// TBB hands each task the floating-point settings its arena's context captured when the
// arena was set up, overriding what a worker set itself: so the flush-to-zero mode must be on
// in the creating thread before the arena exists.
namespace {

// More compute threads than this many per core only oversubscribe; far more crashed TBB's arena
// (2^31 - 1) or took gigabytes of stacks (10^6): refused with the limit named (base/limits.h).
int checked_num_threads(int requested) {
  if (requested <= 0) return default_num_threads();
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (requested > limits::kMaxThreadsPerCore * cores)
    throw RuntimeError(fmt::format("--num_threads {}: more than {} threads a core on this host's {} cores (at most {})",
                                   requested, limits::kMaxThreadsPerCore, cores, limits::kMaxThreadsPerCore * cores));
  return requested;
}

}  // namespace

ThreadPool::ThreadPool(const ThreadOptions& options)
    : impl_((flush_denormals(),
             std::make_unique<Impl>(checked_num_threads(options.num_threads), options.blocktime_ms))) {
  impl_->arena.initialize();
  impl_->flusher = std::make_unique<DenormalFlusher>(impl_->arena);
  if (options.pin && impl_->threads > 1) impl_->pinner = std::make_unique<CorePinner>(impl_->arena);
}

ThreadPool::~ThreadPool() = default;

int ThreadPool::size() const { return impl_->threads; }

int ThreadPool::current_slot() {
  const int slot = tbb::this_task_arena::current_thread_index();
  return slot < 0 ? 0 : slot;  // outside the arena: the calling thread (a one-part op)
}

void ThreadPool::parallel_for(size_t work, FunctionRef<void(size_t, size_t)> body) {
  if (work == 0) return;
  const size_t parts = std::min<size_t>(work, static_cast<size_t>(impl_->threads));
  if (parts <= 1) {
    flush_denormals();  // the calling thread computes too
    body(0, work);
    return;
  }
  impl_->epoch.fetch_add(1, std::memory_order_relaxed);  // spinners of the last call give way
  impl_->arena.execute([&] {
    flush_denormals();
    tbb::parallel_for(tbb::blocked_range<size_t>(0, parts, 1),
                      [&](const tbb::blocked_range<size_t>& r) {
                        for (size_t p = r.begin(); p != r.end(); ++p)
                          body(work * p / parts, work * (p + 1) / parts);
                      },
                      tbb::static_partitioner());
  });
  if (impl_->blocktime_ms > 0) impl_->keep_workers_awake();
}

}  // namespace unet::runtime
