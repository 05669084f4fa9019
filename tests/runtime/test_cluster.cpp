// The cluster's shape as every process derives it: the parameter sharding and the digest the
// handshake compares.
#include <gtest/gtest.h>

#include <algorithm>

#include "runtime/cluster.h"
#include "runtime_fixtures.h"

namespace unet::runtime {
namespace {

ClusterSpec spec(size_t ps, size_t workers) {
  ClusterSpec c;
  for (size_t t = 0; t < ps; ++t) c.ps_hosts.push_back({"127.0.0.1", static_cast<uint16_t>(2222 + t)});
  for (size_t k = 0; k < workers; ++k) c.worker_hosts.push_back({"127.0.0.1", static_cast<uint16_t>(3333 + k)});
  return c;
}

TEST(Cluster, ShardsGoLargestFirstToTheLightestTask) {
  const plan::Plan p = test::compile(test::kTinyModel, 2);
  for (size_t tasks : {1u, 2u, 3u}) {
    const std::vector<uint32_t> shard = shard_params(p, tasks);
    ASSERT_EQ(shard.size(), p.params.size());
    std::vector<uint64_t> load(tasks, 0);
    uint64_t largest = 0;
    for (size_t k = 0; k < shard.size(); ++k) {
      ASSERT_LT(shard[k], tasks);
      load[shard[k]] += param_bytes(p, k);
      largest = std::max(largest, param_bytes(p, k));
    }
    // Greedy largest-first: no task exceeds the lightest by more than the largest parameter.
    const auto [lo, hi] = std::minmax_element(load.begin(), load.end());
    EXPECT_LE(*hi - *lo, largest) << tasks << " tasks";
    if (tasks == 1) {
      EXPECT_TRUE(std::all_of(shard.begin(), shard.end(), [](uint32_t t) { return t == 0; }));
    }
    EXPECT_EQ(shard, shard_params(p, tasks));  // every process computes the same split
  }
}

TEST(Cluster, DigestChangesWithWhatMustAgree) {
  TrainConfig t;
  t.batch_size = 8;
  const uint64_t base = config_digest(spec(1, 2), t);
  EXPECT_EQ(base, config_digest(spec(1, 2), t));
  EXPECT_NE(base, config_digest(spec(1, 3), t));
  EXPECT_NE(base, config_digest(spec(2, 2), t));
  ClusterSpec worker_scope = spec(1, 2);
  worker_scope.loss_scope = LossScope::worker;
  EXPECT_NE(base, config_digest(worker_scope, t));
  TrainConfig u = t;
  u.batch_size = 16;
  EXPECT_NE(base, config_digest(spec(1, 2), u));
  u = t;
  u.lr.initial = 0.001f;
  EXPECT_NE(base, config_digest(spec(1, 2), u));
  u = t;
  u.seed = 7;
  EXPECT_NE(base, config_digest(spec(1, 2), u));
  u = t;
  u.max_steps = 10;
  EXPECT_NE(base, config_digest(spec(1, 2), u));
}

}  // namespace
}  // namespace unet::runtime
