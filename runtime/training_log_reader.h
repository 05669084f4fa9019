// Reads training.log back (the lines runtime/training_log.cpp writes, the seed's format) for
// the training curves of the inference report:
//   Epoch 1/10, ETE: 42 s, Batch: 3/48, Loss: 0.512, Dice: 0.599, Global Step: 3, Learn rate: 0.000495
//   Test Dice Coef = 0.812
// Other lines are skipped. The log is appended to by every run: a global step that does not
// go up starts a new run (a resumed run goes on counting, so it stays one). A "Test Dice
// Coef" line belongs to the run before it.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace unet::runtime {

struct LogStep {
  int epoch = 0, epochs = 0;  // 1-based, as printed
  int64_t batch = 0, batches = 0;
  double loss = 0, dice = 0, lr = 0;
  uint64_t global_step = 0;
};

struct LogRun {
  std::vector<LogStep> steps;  // in the log's order, global steps rising
  std::optional<double> test_dice;  // the run's "Test Dice Coef" line, if it has one
};

struct TrainingLogCurves {
  std::vector<LogRun> runs;  // in the log's order; the last is the newest
};

// One step line, or nothing for any other line (or a step line with a field missing or not a
// number).
std::optional<LogStep> parse_log_step(std::string_view line);

// Every run in `text`.
TrainingLogCurves parse_training_log(std::string_view text);

// Reads the log at `path`. nullopt if there is no file there; throws RuntimeError naming the
// file if it exists but cannot be read (a folder, no permission, not a regular file).
std::optional<TrainingLogCurves> read_training_log(const std::string& path);

}  // namespace unet::runtime
