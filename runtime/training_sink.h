// What a training run reports, as typed records: the Trainer hands each to every sink it was
// given, and each sink decides what to make of it. The training log (runtime/training_log.h)
// turns them into the seed's text lines; the TensorBoard sink (runtime/tensorboard_sink.h)
// into event-file scalars, images and histograms. A sink is called on the training thread
// right after the step it describes, while the arena still holds that step's tensors.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "runtime/step_exchange.h"

namespace unet::runtime {

struct StepRecord {
  uint64_t global_step = 0;  // after this step (the seed's "Global Step")
  int epoch = 0, epochs = 0;  // 0-based epoch of `epochs`
  size_t batch = 0, batches = 0;  // 0-based batch of the epoch's `batches`
  double loss = 0, dice = 0, lr = 0;
  double seconds_remaining = 0;  // the epoch's estimated time to its end
  double epoch_seconds = 0;      // since the epoch (its part this run did) began
  size_t images = 0;             // the global batch
  double seconds = 0;            // this step, wall clock
  double images_per_s = 0;       // images / seconds
  bool profiled = false;         // --profile: `network` is this step's share
  NetworkStats network;
};

struct EpochRecord {
  int epoch = 0, epochs = 0;  // 0-based
  uint64_t global_step = 0;   // at the epoch's end
  double seconds = 0, images_per_s = 0;
  double train_dice = 0;  // the mean of its steps' Dice
};

struct TestRecord {
  uint64_t global_step = 0;
  double dice = 0;
};

struct RunEndRecord {
  uint64_t global_step = 0;
  double mean_epoch_seconds = 0, total_seconds = 0;
};

class TrainingSink {
 public:
  virtual ~TrainingSink() = default;
  // Prose the run has to say once (the batch size it clamped to).
  virtual void note(const std::string& text) {}
  virtual void step(const StepRecord& r) {}
  // A stop signal arrived; the run ends after `global_step`.
  virtual void stopping(uint64_t global_step, int signal) {}
  virtual void epoch(const EpochRecord& r) {}
  virtual void final_checkpoint(uint64_t global_step, const std::string& path) {}
  virtual void test(const TestRecord& r) {}
  virtual void run_end(const RunEndRecord& r) {}
};

}  // namespace unet::runtime
