// Progress lines, to stdout and appended to training.log, as the seed's users read them: the
// text form of the trainer's records (runtime/training_sink.h), plus free lines for what
// the tools and the parameter server have to say.
//
// Live (set_live, unetrun when stdout is a terminal): the step lines go to training.log only,
// and stdout shows one line per epoch redrawn in place after each step (progress_text: the bar
// every tool draws, data/progress_bar.h); every other line ends the bar's line first, so the
// epoch's last bar stays above its "finished" line. Not live, stdout gets the plain lines.
#pragma once
#include <cstdio>
#include <string>

#include "data/progress_bar.h"
#include "runtime/training_sink.h"

namespace unet::runtime {

// The live line of a step: "Epoch 2/10 [######....] 12/48  0:05 elapsed, ETA 0:15  96.0 images/s,
// Loss: 0.512, Dice: 0.599", ETA as the seed's ETE; `images_per_s` as given (the log passes the
// epoch's mean so far). Cut to `columns` - 1 characters when columns > 0, so a terminal never
// wraps it (a wrapped line is not redrawn in place).
std::string progress_text(const StepRecord& r, double images_per_s, size_t columns = 0);

class TrainingLog : public TrainingSink {
 public:
  explicit TrainingLog(const std::string& path, bool echo = true);  // "" = stdout only
  ~TrainingLog() override;
  TrainingLog(const TrainingLog&) = delete;
  TrainingLog& operator=(const TrainingLog&) = delete;
  void line(const std::string& text);  // one line, flushed, so `tail -f` follows a run
  // The live epoch line on stdout instead of the step lines (given isatty(stdout) by unetrun).
  void set_live(bool on) { live_ = on && echo_; }
  bool live() const { return live_; }

  void note(const std::string& text) override;
  void step(const StepRecord& r) override;
  void stopping(uint64_t global_step, int signal) override;
  void epoch(const EpochRecord& r) override;
  void final_checkpoint(uint64_t global_step, const std::string& path) override;
  void test(const TestRecord& r) override;
  void run_end(const RunEndRecord& r) override;

 private:
  void to_file(const std::string& text);
  void draw_progress(const StepRecord& r);

  std::FILE* file_ = nullptr;
  bool echo_;
  bool live_ = false;
  data::ProgressBar bar_{stdout, true};
  size_t drawn_ = 0;              // characters of the bar's last text
  int bar_epoch_ = -1;            // the epoch the bar is drawing
  double bar_images_ = 0;         // images of that epoch so far, this run
};

}  // namespace unet::runtime
