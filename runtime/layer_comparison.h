// Our convolution kernels against oneDNN's, layer by layer (unetbench compare): for every
// convolution op of a training plan, the same problem on the same inputs, batch and threads,
// its output checked against oneDNN's and both timed; and, where PyTorch is installed, the
// whole training step against bench/peers/unet_pytorch.py.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "plan/plan.h"
#include "runtime/conv_problem.h"
#include "runtime/executor.h"
#include "runtime/pytorch_peer.h"
#include "runtime/thread_pool.h"

namespace unet::runtime {

// Whether this build has oneDNN (CMake found libdnnl-dev: UNET_HAVE_ONEDNN).
bool have_onednn();

struct CompareOptions {
  std::string plan_path;
  ThreadOptions threads;  // ours and oneDNN's alike (count and pinning)
  int numa_node = -1;
  int reps = 10;             // timed runs of each side, the median reported
  double tolerance = 1e-4;   // max |ours - oneDNN| / max |oneDNN| a check allows
  std::string pytorch_script;  // bench/peers/unet_pytorch.py; "" for no whole-step comparison
  int whole_steps = 3;         // timed whole steps of each side (after one warm-up)
};

struct ConvComparison {
  OpList list = OpList::forward;
  std::string label, kernel;  // the op's
  ConvProblem problem;
  std::string descriptor;     // conv_problem.h
  double max_rel_error = -1;  // the check's max |ours - oneDNN| / (max |oneDNN| + tiny); < 0: none
  bool ok = false;            // the check passed
  std::string error;          // when a side could not run the problem, why
  // Times of one call, the median of the reps; shared by the rows of one distinct problem
  // (same descriptor, direction, kind, activation and bias), timed once at row `timed_at`.
  double ours_seconds = 0, onednn_seconds = 0;
  size_t timed_at = 0;
  std::string onednn_implementation;
};

struct LayerComparison {
  std::string plan_path, model, tier;
  uint32_t batch = 0;
  int our_threads = 0, onednn_threads = 0;
  bool pinned = false;
  std::string onednn_version;
  int reps = 0;
  double tolerance = 0;
  std::vector<ConvComparison> rows;  // in the order the step runs them
  // The whole step: ours (time_training_steps) and PyTorch's, when it ran.
  PytorchStep pytorch;
  double our_images_per_second = 0;

  bool all_ok() const;
};

// Loads the plan (a training plan: a forward-only one is refused naming the file), runs one
// warm-up training step, then a second step that stops before each convolution op to compare
// it on the inputs it is about to read: our kernel (the plan's own, through the registry,
// split over the pool as the executor splits it) writes into buffers of its own, so the step
// goes on unchanged. Forward ops are compared without their folded dropout or max-pool and
// backward-data ops without their folded ReLU mask or accumulation: the problem oneDNN's
// primitive computes. Throws without oneDNN (have_onednn()).
LayerComparison compare_layers(const CompareOptions& options);

// The geometric mean of oneDNN time / ours over the distinct problems of `direction` (every
// direction with nullopt) whose check passed, and how many there were.
struct RatioMean {
  double mean = 0;
  int problems = 0;
};
RatioMean ratio_geomean(const LayerComparison& c, std::optional<ConvDirection> direction);

// The report: the header (plan, threads of each side, reps), one row per op (label,
// direction, kind, descriptor, check, ours ms, oneDNN ms, ratio = oneDNN / ours, oneDNN's
// implementation), the geometric means per direction, and the whole step against PyTorch (or
// why it was skipped).
std::string comparison_table(const LayerComparison& c);
std::string comparison_json(const LayerComparison& c);

}  // namespace unet::runtime
