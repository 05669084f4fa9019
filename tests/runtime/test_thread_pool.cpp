// The compute threads: static split of work, and subnormals flushed in every thread.
#include <gtest/gtest.h>
#include <xmmintrin.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "runtime/thread_pool.h"

namespace unet::runtime {
namespace {

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

}  // namespace
}  // namespace unet::runtime
