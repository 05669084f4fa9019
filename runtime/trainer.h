// Training as the seed did it: shuffled epochs, a global batch computed as micro-batches with
// gradient accumulation, -log(Dice) over the whole global batch, Adam with exponential decay.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/function_ref.h"
#include "runtime/batch_prefetcher.h"
#include "runtime/dataset.h"
#include "runtime/engine.h"
#include "runtime/training_log.h"

namespace unet::runtime {

struct LearningRate {
  float initial = 0.0005f;
  uint32_t decay_steps = 350;
  float fraction = 0.2f;
  bool constant = false;
  // lr * fraction^(step / decay_steps), or lr when constant (TensorFlow's exponential_decay).
  double at(uint64_t step) const;
};

struct TrainOptions {
  std::string data_dir;
  DataSelection selection;
  int epochs = 10;
  int64_t batch_size = 1024;  // global batch; a multiple of the plan's micro-batch
  int64_t max_steps = -1;     // stop after this global step (-1: run all epochs)
  uint64_t seed = 816;        // data order
  bool shuffle = true;
  LearningRate lr;
  std::string checkpoint_dir;  // "" = no checkpoints
  double save_secs = 600;
  std::string resume;           // checkpoint to continue from
  std::string init_checkpoint;  // weights to start from
  bool test_at_end = true;
  int inter_threads = 2;  // > 0: the next micro-batch loads while this one computes
};

struct StepResult {
  double loss = 0, dice = 0, lr = 0;
};

struct TrainSummary {
  uint64_t global_step = 0;
  std::vector<double> losses;  // one per step run
  double test_dice = -1;       // -1: not evaluated
  double seconds = 0;
};

// Dice = (2I + s) / (P + T + s) from summed partials (I = sum p*t, P = sum p, T = sum t).
struct DiceSums {
  double intersection = 0, predicted = 0, truth = 0;
  void add_partials(const float* partials, size_t images);  // 3 floats an image
  double dice(double smooth) const;
};

// One global step of `micro` micro-batches: zero gradients, forward/backward per micro-batch,
// one Adam update at `step`. load(j) fills the plan's input and target with micro-batch j.
StepResult train_step(Engine& engine, uint64_t step, size_t micro, const LearningRate& lr,
                      FunctionRef<void(size_t)> load);

class Trainer {
 public:
  Trainer(Engine& engine, const TrainOptions& options, TrainingLog& log);
  TrainSummary run();
  // One global step over images idx[0..count) of the training set (count a multiple of the
  // micro-batch): zero gradients, forward/backward per micro-batch, one Adam update.
  StepResult step(const size_t* idx, size_t count);
  uint64_t global_step() const { return global_step_; }

 private:
  std::vector<size_t> epoch_order(int epoch) const;

  Engine& engine_;
  TrainOptions options_;
  TrainingLog& log_;
  Dataset train_;
  BatchPrefetcher prefetch_;
  uint64_t global_step_ = 0;
};

// Forward passes over a split (no dropout): the soft Dice over all of it and, when out_path
// is set, the predicted probabilities written there as [N, H, W, 1] float32.
double evaluate(Engine& engine, Dataset& data, const std::string& predictions_path = "");

}  // namespace unet::runtime
