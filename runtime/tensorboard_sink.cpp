#include "runtime/tensorboard_sink.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>

#include <fmt/format.h>

#include "data/png_writer.h"
#include "runtime/keras_layout.h"
#include "runtime/runtime_error.h"
#include "runtime/tensorboard_graph.h"

namespace unet::runtime {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double wall_time() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

// <logdir>/events.out.tfevents.<secs>.<host>, TensorFlow's naming (TensorBoard finds event
// files by the "tfevents" in the name). A run started in the same second on the same host as
// another (parallel tests, a quick restart) gets ".<pid>" after it, then ".<pid>.<k>".
std::unique_ptr<data::TfRecordWriter> new_event_file(const std::string& logdir) {
  std::error_code ec;
  fs::create_directories(logdir, ec);
  if (ec || !fs::is_directory(logdir))
    throw RuntimeError(fmt::format("{}: cannot create the TensorBoard log directory: {}", logdir,
                                   ec ? ec.message() : "a file of that name is in the way"));
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
  const std::string base =
      (fs::path(logdir) / fmt::format("events.out.tfevents.{}.{}", secs, host_name())).string();
  for (int k = 0;; ++k) {
    const std::string path = k == 0 ? base : k == 1 ? fmt::format("{}.{}", base, getpid())
                                                    : fmt::format("{}.{}.{}", base, getpid(), k);
    auto w = std::make_unique<data::TfRecordWriter>(path, data::TfRecordWriter::UnlessExists{});
    if (w->is_open()) return w;
  }
}

// Maps [lo, hi] onto 0..255 (a constant image is black).
uint8_t to_byte(float v, float lo, float hi) {
  if (!(hi > lo)) return 0;
  const float x = (v - lo) / (hi - lo) * 255.0f;
  return static_cast<uint8_t>(std::clamp(std::lround(x), 0L, 255L));
}

class Timer {
 public:
  explicit Timer(double& total) : total_(total), t0_(Clock::now()) {}
  ~Timer() { total_ += std::chrono::duration<double>(Clock::now() - t0_).count(); }

 private:
  double& total_;
  Clock::time_point t0_;
};

}  // namespace

std::string first_channel_name(const DataSelection& selection) {
  static constexpr const char* kModalities[] = {"t1", "t2", "flair", "t1ce"};
  static constexpr int kModeModality[] = {0, 2, 3, 1};  // as runtime/dataset.cpp: 1 flair, 2 t1ce, 3 t2
  const int ch = !selection.channels.empty() ? selection.channels.front()
                 : selection.mode >= 1 && selection.mode <= 3 ? kModeModality[selection.mode]
                                                              : -1;
  return ch >= 0 && ch < 4 ? kModalities[ch] : "input";
}

TensorBoardSink::TensorBoardSink(Engine& engine, const TensorBoardOptions& options)
    : engine_(engine), options_(options), writer_(new_event_file(options.logdir)) {
  Timer t(seconds_);
  const plan::Plan& p = engine_.plan();
  size_t largest = 0;
  for (const plan::Param& q : p.params) {
    size_t n = 1;
    for (size_t d : keras_shape(q)) n *= d;
    largest = std::max(largest, n);
  }
  values_.resize(largest);  // sized once, for the largest parameter
  pixels_.resize(static_cast<size_t>(p.in_h) * p.in_w);
  const double now = wall_time();
  writer_->write(data::file_version_event(now));
  writer_->write(data::graph_event(now, plan_graph(p)));
  writer_->flush();
}

void TensorBoardSink::write(const std::string& event) {
  writer_->write(event);
  writer_->flush();
}

void TensorBoardSink::step(const StepRecord& r) {
  Timer t(seconds_);
  step_seconds_ += r.seconds;
  data::SummaryEvent ev;
  ev.scalar("train/loss", static_cast<float>(r.loss));
  ev.scalar("train/dice", static_cast<float>(r.dice));
  ev.scalar("train/learning_rate", static_cast<float>(r.lr));
  ev.scalar("train/images_per_s", static_cast<float>(r.images_per_s));
  if (options_.image_steps != 0 && r.global_step % options_.image_steps == 0) add_images(ev);
  if (options_.histogram_steps != 0 && r.global_step % options_.histogram_steps == 0) add_histograms(ev);
  // One write() a step (a few hundred bytes; a few hundred kilobytes with histograms): far under a
  // millisecond, and it leaves nothing of a finished step to lose.
  write(ev.encode(wall_time(), static_cast<int64_t>(r.global_step)));
}

void TensorBoardSink::add_images(data::SummaryEvent& ev) {
  const plan::Plan& p = engine_.plan();
  const uint32_t h = p.in_h, w = p.in_w;
  // What the step's last forward saw: of the micro-batch still in the arena, the image with the
  // most tumour (many slices of a volume show none, and a blank slice says little).
  const kernels::TensorArg in = engine_.view(p.input), truth = engine_.view(p.target),
                           pred = engine_.view(p.prediction);
  int image = 0;
  double most = -1;
  for (int i = 0; i < truth.n; ++i) {
    double area = 0;
    for (uint32_t y = 0; y < h; ++y)
      for (uint32_t x = 0; x < w; ++x) area += truth.at_plain(i, static_cast<int>(y), static_cast<int>(x));
    if (area > most) {
      most = area;
      image = i;
    }
  }
  float lo = in.at(image, 0, 0, 0), hi = lo;
  for (uint32_t y = 0; y < h; ++y)
    for (uint32_t x = 0; x < w; ++x) {
      const float v = in.at(image, 0, static_cast<int>(y), static_cast<int>(x));
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  auto emit = [&](const std::string& tag, auto value_at, float vlo, float vhi) {
    for (uint32_t y = 0; y < h; ++y)
      for (uint32_t x = 0; x < w; ++x)
        pixels_[static_cast<size_t>(y) * w + x] = to_byte(value_at(static_cast<int>(y), static_cast<int>(x)), vlo, vhi);
    ev.image(tag, h, w, data::kGrayscale, data::encode_png_gray8(pixels_.data(), w, h));
  };
  emit("images/1_input_" + options_.input_channel, [&](int y, int x) { return in.at(image, 0, y, x); }, lo, hi);
  emit("images/2_ground_truth", [&](int y, int x) { return truth.at_plain(image, y, x); }, 0.0f, 1.0f);
  emit("images/3_prediction", [&](int y, int x) { return pred.at_plain(image, y, x); }, 0.0f, 1.0f);
}

void TensorBoardSink::add_histograms(data::SummaryEvent& ev) {
  const plan::Plan& p = engine_.plan();
  for (const plan::Param& q : p.params) {
    size_t n = 1;
    for (size_t d : keras_shape(q)) n *= d;
    // Keras layout: the real elements only, without the channel padding of the blocked one.
    for (const auto& [tag, tensor] : {std::pair{"weights/", q.value}, std::pair{"gradients/", q.grad}}) {
      load_param(p, engine_.arena(), q, tensor, values_.data());
      histogram_.clear();
      histogram_.add(values_.data(), n);
      ev.histogram(tag + q.name, histogram_.summary());
    }
  }
}

void TensorBoardSink::test(const TestRecord& r) {
  Timer t(seconds_);
  data::SummaryEvent ev;
  ev.scalar("test/dice", static_cast<float>(r.dice));
  write(ev.encode(wall_time(), static_cast<int64_t>(r.global_step)));
}

void TensorBoardSink::run_end(const RunEndRecord& r) {
  data::SummaryEvent ev;
  const double percent = step_seconds_ > 0 ? 100.0 * seconds_ / step_seconds_ : 0.0;
  ev.scalar("tensorboard/overhead_percent", static_cast<float>(percent));
  write(ev.encode(wall_time(), static_cast<int64_t>(r.global_step)));
}

}  // namespace unet::runtime
