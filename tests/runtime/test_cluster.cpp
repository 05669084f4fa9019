// The cluster's shape as every process derives it: the parameter sharding and the digest the
// handshake compares.
#include <gtest/gtest.h>

#include <algorithm>

#include "runtime/cluster.h"
#include "runtime/param_schedule.h"
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

namespace unet::runtime {
namespace {

bool op_uses(const plan::Op& op, int tensor) {
  return std::find(op.tensors.begin(), op.tensors.end(), tensor) != op.tensors.end();
}

// Where a worker waits for each weight, and pushes and pulls it: checked against the op lists.
TEST(ParamSchedule, FindsFirstReadsFinalGradientsAndLastReads) {
  const plan::Plan p = test::compile(test::kTinyModel, 2);
  const ParamSchedule s(p);
  ASSERT_EQ(s.params.size(), p.params.size());
  size_t read_in_backward = 0;
  for (size_t k = 0; k < p.params.size(); ++k) {
    const plan::Param& prm = p.params[k];
    const ParamSchedule::Entry& e = s.params[k];
    ASSERT_NE(e.first_forward_read, ParamSchedule::kNone) << prm.name;
    EXPECT_TRUE(op_uses(p.forward[e.first_forward_read], prm.value)) << prm.name;
    for (size_t i = 0; i < e.first_forward_read; ++i) EXPECT_FALSE(op_uses(p.forward[i], prm.value)) << prm.name;
    ASSERT_NE(e.grad_final, ParamSchedule::kNone) << prm.name;
    EXPECT_TRUE(op_uses(p.backward[e.grad_final], prm.grad)) << prm.name;
    for (size_t i = e.grad_final + 1; i < p.backward.size(); ++i) EXPECT_FALSE(op_uses(p.backward[i], prm.grad));
    if (e.last_backward_read != ParamSchedule::kNone) {
      ++read_in_backward;
      EXPECT_TRUE(op_uses(p.backward[e.last_backward_read], prm.value)) << prm.name;
      for (size_t i = e.last_backward_read + 1; i < p.backward.size(); ++i)
        EXPECT_FALSE(op_uses(p.backward[i], prm.value));
    } else {
      EXPECT_NE(std::find(s.free_before_backward.begin(), s.free_before_backward.end(), k),
                s.free_before_backward.end());
    }
  }
  // The backward-data ops read every kernel but the first layer's; biases are not read.
  EXPECT_GT(read_in_backward, 0u);
  EXPECT_FALSE(s.free_before_backward.empty());
}

}  // namespace
}  // namespace unet::runtime
