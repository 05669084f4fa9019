// Progress of a long job, tqdm-like: the one bar every tool draws. progress_line() is the
// text (a pure function, tested as such); ProgressBar redraws it in place with '\r' when its
// stream is a terminal; ProgressReporter is the data jobs' use of both (unetconvert,
// unetsynth: a bar on stderr on a terminal, one plain line per item otherwise). unetrun's live
// epoch line (runtime/training_log.h) draws the same bar.
#pragma once
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace unet::data {

// "m:ss", or "h:mm:ss" from an hour on; negative times (and NaN) read 0:00, times are capped at
// 10^9 s.
std::string clock_text(double seconds);

struct ProgressState {
  int64_t done = 0, total = 0;  // items finished of total
  double elapsed = 0, eta = 0;  // seconds
};

constexpr int kProgressBarCells = 30;

// "<what> [#########.....................] done/total  <elapsed> elapsed, ETA <eta>  <tail>":
// `cells` cells, done/total of them '#' (all of them when total is 0).
std::string progress_line(std::string_view what, const ProgressState& s, std::string_view tail,
                          int cells = kProgressBarCells);

// A line redrawn in place on a terminal. draw() writes "\r" and the text, flushed; end() closes
// the line with '\n' if one is open. Nothing here pads or erases: a caller whose text can
// shrink pads it.
class ProgressBar {
 public:
  explicit ProgressBar(std::FILE* out);
  ProgressBar(std::FILE* out, bool terminal) : out_(out), terminal_(terminal) {}
  bool terminal() const { return terminal_; }
  bool open() const { return open_; }
  void draw(std::string_view text);
  void end();

 private:
  std::FILE* out_;
  bool terminal_;
  bool open_ = false;
};

// The data jobs' reporter: a bar on a terminal, one plain line per item otherwise (logs, CI), so
// nothing is lost.
class ProgressReporter {
 public:
  ProgressReporter(std::string what, int total, std::FILE* out = stderr);
  // Item `done` of total just finished; `label` names it (a subject id).
  void step(int done, const std::string& label);
  // Ends the bar's line (terminal) and prints the elapsed time.
  void finish();

 private:
  std::string what_;
  int total_;
  std::FILE* out_;
  ProgressBar bar_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace unet::data
