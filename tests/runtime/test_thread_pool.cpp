// The compute threads: static split of work, and subnormals flushed in every thread.
#include <gtest/gtest.h>
#include <sched.h>
#include <xmmintrin.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <ctime>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "runtime/runtime_error.h"
#include "kernels/isa_tier.h"
#include "runtime/fma_peak.h"
#include "runtime/thread_pool.h"

namespace unet::runtime {
namespace {

// Issue 15: 2^31 - 1 threads crashed inside TBB's arena; a count past the stated limit is refused.
TEST(ThreadPool, RefusesThreadCountsFarBeyondTheCores) {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int n : {2147483647, 10000000, 4 * cores + 1}) {
    ThreadOptions o;
    o.num_threads = n;
    o.pin = false;
    try {
      ThreadPool pool(o);
      ADD_FAILURE() << "accepted " << n;
    } catch (const RuntimeError& e) {
      EXPECT_NE(std::string(e.what()).find("--num_threads " + std::to_string(n)), std::string::npos) << e.what();
    }
  }
  ThreadOptions ok;
  ok.num_threads = 4 * cores;
  ok.pin = false;
  EXPECT_EQ(ThreadPool(ok).size(), 4 * cores);
}

// A process given a core set (taskset, srun --cpu-bind, unetlaunch) keeps its pinned compute
// threads inside it: here the last CPU only, with two threads.
TEST(ThreadPool, PinnedThreadsStayInTheCoreSetTheProcessWasGiven) {
  cpu_set_t before, only_last;
  ASSERT_EQ(sched_getaffinity(0, sizeof before, &before), 0);
  int last = -1;
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &before)) last = c;
  ASSERT_GE(last, 0);
  CPU_ZERO(&only_last);
  CPU_SET(last, &only_last);
  ASSERT_EQ(sched_setaffinity(0, sizeof only_last, &only_last), 0);
  std::set<int> cpus;
  {
    unet::runtime::ThreadOptions o;
    o.num_threads = 2;
    o.pin = true;
    unet::runtime::ThreadPool pool(o);
    std::mutex mu;
    for (int round = 0; round < 20; ++round)
      pool.parallel_for(64, [&](size_t, size_t) {
        std::lock_guard lock(mu);
        cpus.insert(sched_getcpu());
      });
  }
  ASSERT_EQ(sched_setaffinity(0, sizeof before, &before), 0);
  EXPECT_EQ(cpus, std::set<int>{last});
}

TEST(ThreadPool, CoversEveryItemOnceInContiguousRanges) {
  ThreadPool pool({3, false, 0});
  for (size_t work : {1ul, 2ul, 3ul, 7ul, 1000ul}) {
    std::vector<std::atomic<int>> seen(work);
    pool.parallel_for(work, [&](size_t b, size_t e) {
      for (size_t k = b; k < e; ++k) seen[k]++;
    });
    for (size_t k = 0; k < work; ++k) EXPECT_EQ(seen[k].load(), 1) << "work " << work << " item " << k;
  }
}

TEST(ThreadPool, EveryComputeThreadFlushesSubnormals) {
  ThreadPool pool({2, false, 0});
  std::mutex mu;
  std::set<std::thread::id> threads;
  bool all_flush = true;
  for (int round = 0; round < 50; ++round)
    pool.parallel_for(64, [&](size_t, size_t) {
      const unsigned csr = _mm_getcsr();
      volatile float tiny = 1e-38f;
      const float product = tiny * 0.001f;  // subnormal unless flushed
      std::lock_guard<std::mutex> lock(mu);
      threads.insert(std::this_thread::get_id());
      all_flush = all_flush && (csr & 0x8040) == 0x8040 && product == 0.f;
    });
  EXPECT_TRUE(all_flush);
  EXPECT_GE(threads.size(), 1u);
}

double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

// --blocktime: the workers spin after an op (they use CPU while the caller sleeps), give way
// at once to the next op (every item still covered once), and stop when the pool goes (its
// destruction does not wait for the blocktime).
TEST(ThreadPool, BlocktimeKeepsWorkersSpinningBetweenOps) {
  {
    ThreadPool pool({2, false, 10'000});
    for (int round = 0; round < 200; ++round) {
      std::vector<std::atomic<int>> seen(37);
      pool.parallel_for(seen.size(), [&](size_t b, size_t e) {
        for (size_t k = b; k < e; ++k) seen[k]++;
      });
      for (auto& v : seen) ASSERT_EQ(v.load(), 1) << "round " << round;
    }
    const double cpu0 = process_cpu_seconds();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    // One worker spinning through the caller's 100 ms sleep; a loaded host may lend it less.
    EXPECT_GT(process_cpu_seconds() - cpu0, 0.02);
    const auto t0 = std::chrono::steady_clock::now();
    {
      ThreadPool other({2, false, 10'000});  // a pool that goes while its worker spins
      other.parallel_for(4, [](size_t, size_t) {});
    }
    EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 2.0);
  }
}

// The one FMA probe, counted two ways (runtime/fma_peak.h): both are AVX-512 FMA rates of a
// real core (far above 1 GFLOP/s), and one pool thread's wall-clock rate is the same order as
// the calling thread's CPU-time rate (a loose bound: the host is shared).
TEST(FmaPeak, OneThreadTwoWaysAgree) {
  if (!kernels::missing_features(kernels::Tier::avx512f).empty()) {
    EXPECT_THROW(measure_fma_peak_flops_this_thread(), std::runtime_error);
    return;
  }
  const double alone = measure_fma_peak_flops_this_thread();
  ThreadOptions one;
  one.num_threads = 1;
  one.pin = false;
  ThreadPool pool(one);
  const double pooled = measure_fma_peak_flops(pool);
  EXPECT_GT(alone, 1e9);
  EXPECT_GT(pooled, 1e9);
  EXPECT_GT(pooled / alone, 0.1);
  EXPECT_LT(pooled / alone, 10.0);
}

}  // namespace
}  // namespace unet::runtime
