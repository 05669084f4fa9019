// The optimised kernels do not change training: a 20-step run on the host's best tier follows
// the reference-kernel (scalar tier) run.
#include <gtest/gtest.h>

#include <cmath>

#include "runtime/engine.h"
#include "runtime/trainer.h"
#include "runtime_fixtures.h"

namespace unet::runtime {
namespace {

std::vector<double> losses(kernels::Tier tier, const std::string& dir, bool fold_relu_backward = true,
                           bool fold_max_pools = true, bool fold_dropouts = true) {
  EngineOptions eo;
  eo.threads.num_threads = 2;
  Engine e(test::compile(test::kTinyModel, 4, true, tier, fold_relu_backward, fold_max_pools, fold_dropouts), eo);
  TrainOptions o;
  o.data_dir = dir;
  o.selection.channels = {2, 3};
  o.epochs = 10;
  o.batch_size = 8;  // 2 micro-batches a step, 2 steps an epoch: 20 steps
  o.test_at_end = false;
  o.lr.initial = 0.001f;
  TrainingLog log("", false);
  return Trainer(e, o, log).run().losses;
}

// Ops of the tiny model's forward list, on the host's best tier, labelled `label`.
int forward_ops_labelled(const std::string& label) {
  int n = 0;
  for (const plan::Op& op : test::compile(test::kTinyModel, 4, true, kernels::best_host_tier()).forward)
    n += op.label == label;
  return n;
}

TEST(Tiers, TwentyStepLossCurveMatchesTheReferenceKernels) {
  const kernels::Tier best = kernels::best_host_tier();
  ASSERT_NE(best, kernels::Tier::scalar) << "this host has no AVX-512: nothing optimised to compare";
  const std::string dir = test::temp_dir("tiers");
  test::write_dataset(dir, "train", 16, 16, 16, 21);
  const std::vector<double> ref = losses(kernels::Tier::scalar, dir);
  const std::vector<double> fast = losses(best, dir);
  ASSERT_EQ(ref.size(), 20u);
  ASSERT_EQ(fast.size(), 20u);
  for (size_t k = 0; k < ref.size(); ++k) EXPECT_NEAR(fast[k], ref[k], 1e-3) << "step " << k + 1;
  EXPECT_LT(ref.back(), ref.front());
}

// The ReLU backwards folded into their gradients' last writers (graph/relu_backward_fold.h)
// train as the separate relu_bwd ops do, on the optimised kernels.
TEST(Tiers, FoldedReluBackwardTrainsAsTheSeparateOps) {
  const std::string dir = test::temp_dir("fold");
  test::write_dataset(dir, "train", 16, 16, 16, 23);
  const kernels::Tier best = kernels::best_host_tier();
  const std::vector<double> separate = losses(best, dir, false), folded = losses(best, dir, true);
  ASSERT_EQ(folded.size(), separate.size());
  for (size_t k = 0; k < folded.size(); ++k) EXPECT_NEAR(folded[k], separate[k], 1e-6) << "step " << k + 1;
}

// The max-pools folded into their convs' epilogues (graph/max_pool_fold.h) compute the same
// y and pool outputs as the separate ops, bit for bit, so training follows exactly.
TEST(Tiers, FoldedMaxPoolTrainsAsTheSeparateOps) {
  const std::string dir = test::temp_dir("pool_fold");
  test::write_dataset(dir, "train", 16, 16, 16, 29);
  ASSERT_EQ(forward_ops_labelled("c1+p1"), 1);  // the tiny model's c1 -> p1 folds
  const kernels::Tier best = kernels::best_host_tier();
  const std::vector<double> separate = losses(best, dir, true, false), folded = losses(best, dir, true, true);
  ASSERT_EQ(folded.size(), 20u);
  ASSERT_EQ(folded.size(), separate.size());
  for (size_t k = 0; k < folded.size(); ++k) EXPECT_EQ(folded[k], separate[k]) << "step " << k + 1;
}

// The dropouts folded into their convs' epilogues (graph/dropout_fold.h) apply the same masks
// and the ReLU backwards then mask by the dropout outputs, which changes no value: training
// follows exactly, on the reference kernels and on the host's best.
TEST(Tiers, FoldedDropoutTrainsAsTheSeparateOps) {
  const std::string dir = test::temp_dir("dropout_fold");
  test::write_dataset(dir, "train", 16, 16, 16, 31);
  ASSERT_EQ(forward_ops_labelled("c2+d2"), 1);  // the tiny model's c2 -> d2 folds
  for (kernels::Tier tier : {kernels::Tier::scalar, kernels::best_host_tier()}) {
    const std::vector<double> separate = losses(tier, dir, true, true, false);
    const std::vector<double> folded = losses(tier, dir, true, true, true);
    ASSERT_EQ(folded.size(), 20u);
    ASSERT_EQ(folded.size(), separate.size());
    for (size_t k = 0; k < folded.size(); ++k) EXPECT_EQ(folded[k], separate[k]) << "step " << k + 1;
  }
}

}  // namespace
}  // namespace unet::runtime
