// TensorBoard event files: a TrainingSink that writes what the run reports to
// <logdir>/events.out.tfevents.<secs>.<host> (docs/tensorboard.md):
//   - the plan as a GraphDef (runtime/tensorboard_graph.h), once, at the start;
//   - every step: train/loss, train/dice, train/learning_rate, train/images_per_s;
//   - every `image_steps` steps: of the step's last micro-batch, the image with the most
//     tumour, its ground truth and the prediction, as PNGs (images/1_input_<channel>,
//     images/2_ground_truth, images/3_prediction);
//   - every `histogram_steps` steps: every parameter's weights and gradients as the arena holds
//     them after the step (weights/<name>, gradients/<name>, TensorBoard's default buckets);
//   - at the end: test/dice, and tensorboard/overhead_percent, the time this sink took as a
//     share of the steps' time (the cost it claims to keep under 1 %).
// The records of a step go out in one write() when the step's record is done, so a crash
// loses nothing of the steps before it.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/tensorboard_event.h"
#include "data/tensorboard_histogram.h"
#include "data/tfrecord_writer.h"
#include "runtime/dataset.h"
#include "runtime/engine.h"
#include "runtime/training_sink.h"

namespace unet::runtime {

struct TensorBoardOptions {
  std::string logdir = "tensorboard_logs";
  uint64_t image_steps = 50;       // 0: no images
  uint64_t histogram_steps = 100;  // 0: no histograms
  std::string input_channel = "input";  // names the input image's tag ("flair")
};

// The name of the first channel the plan is fed (what its input image shows): "flair" for
// --mode 1, the first of --channels.
std::string first_channel_name(const DataSelection& selection);

class TensorBoardSink final : public TrainingSink {
 public:
  // Creates the log directory and the event file, and writes the file version and the
  // graph. Throws RuntimeError naming the directory or the file if either cannot be made.
  TensorBoardSink(Engine& engine, const TensorBoardOptions& options);
  const std::string& path() const { return writer_->path(); }
  double seconds() const { return seconds_; }  // spent in this sink so far

  void step(const StepRecord& r) override;
  void test(const TestRecord& r) override;
  void run_end(const RunEndRecord& r) override;

 private:
  void add_images(data::SummaryEvent& ev);
  void add_histograms(data::SummaryEvent& ev);
  void write(const std::string& event);  // and flush: each event whole in the file at once

  Engine& engine_;
  TensorBoardOptions options_;
  std::unique_ptr<data::TfRecordWriter> writer_;
  data::Histogram histogram_;
  std::vector<float> values_;   // one parameter in Keras layout
  std::vector<uint8_t> pixels_;  // one image
  double seconds_ = 0, step_seconds_ = 0;
};

}  // namespace unet::runtime
