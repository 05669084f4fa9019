// Training as the seed did it: shuffled epochs, a global batch computed as micro-batches with
// gradient accumulation, -log(Dice) over the whole global batch, Adam with exponential decay.
#pragma once
#include <csignal>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "runtime/batch_prefetcher.h"
#include "runtime/dataset.h"
#include "runtime/engine.h"
#include "runtime/trace_writer.h"
#include "runtime/train_step.h"
#include "runtime/training_log.h"
#include "runtime/training_sink.h"

namespace unet::runtime {

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
  size_t keep_checkpoints = 5;  // newest model-*.npz kept (0: all)
  std::string resume;           // checkpoint to continue from
  std::string init_checkpoint;  // weights to start from
  bool test_at_end = true;
  int inter_threads = 2;  // > 0: the next micro-batch loads while this one computes
  bool profile = false;   // a line a step: its time, the part blocked on the network, bytes moved
  // --trace: the op timeline of the recorder's steps, written once the last of them is done
  // (or at the run's end, if it ends first); nullptr: nothing traced.
  TraceRecorder* trace = nullptr;
  // Non-zero (a signal's number, set by a handler): stop after the current step, write the
  // final checkpoint, skip the test.
  const volatile std::sig_atomic_t* stop = nullptr;
};

struct TrainSummary {
  uint64_t global_step = 0;
  std::vector<double> losses;  // one per step run
  double test_dice = -1;       // -1: not evaluated
  double seconds = 0;
  bool stopped = false;        // ended early by `stop`
};

// This process's place in a training run. The default is standalone; a worker of a
// distributed run trades through `exchange` (a StepExchange over the parameter servers) and trains images
// [index * B / workers, (index + 1) * B / workers) of each global batch B.
struct WorkerRole {
  StepExchange* exchange = nullptr;  // nullptr: standalone (a LocalExchange of its own)
  size_t workers = 1, index = 0;
  uint64_t start_step = 0;  // a worker's first global step (the parameter server's)
};

class Trainer {
 public:
  // Every record of the run goes to each sink, in the order given (the training log first, so
  // its line is out before a slower sink runs).
  Trainer(Engine& engine, const TrainOptions& options, std::vector<TrainingSink*> sinks, WorkerRole role = {});
  Trainer(Engine& engine, const TrainOptions& options, TrainingSink& sink, WorkerRole role = {})
      : Trainer(engine, options, std::vector<TrainingSink*>{&sink}, role) {}
  // One more sink for the records from now on (one made once the trainer has checked its data).
  void add_sink(TrainingSink& sink) { sinks_.push_back(&sink); }
  TrainSummary run();
  // One global step over images idx[0..count) of the training set (count a multiple of the
  // micro-batch times the workers): this process's share forward and backward, one update.
  StepResult step(const size_t* idx, size_t count);
  uint64_t global_step() const { return global_step_; }

 private:
  std::vector<size_t> epoch_order(int epoch) const;
  std::string diverged(const StepResult& r) const;
  void write_trace();

  bool distributed() const { return role_.exchange != nullptr; }

  Engine& engine_;
  TrainOptions options_;
  template <typename Call>
  void report(Call call) {
    for (TrainingSink* sink : sinks_) call(*sink);
  }

  std::vector<TrainingSink*> sinks_;
  WorkerRole role_;
  LocalExchange local_;
  StepExchange& exchange_;
  Dataset train_;
  BatchPrefetcher prefetch_;
  StepRunner runner_;
  uint64_t global_step_ = 0;
};

// Each image's predicted probabilities and its target (in_h * in_w floats each, row-major),
// in the split's order, as evaluate() computes them.
using EvaluatedImage = std::function<void(size_t image, const float* prediction, const float* target)>;

// Forward passes over a split (no dropout): the soft Dice over all of it and, when out_path
// is set, the predicted probabilities written there as [N, H, W, 1] float32. `each_image`,
// when set, sees every image's prediction and target (the per-slice Dice of --infer).
double evaluate(Engine& engine, Dataset& data, const std::string& predictions_path = "",
                const EvaluatedImage& each_image = {});

}  // namespace unet::runtime
