// Progress of a long data job on stderr: a bar with the rate and ETA, redrawn in place when
// stderr is a terminal; one plain line per item otherwise (logs, CI), so nothing is lost.
#pragma once
#include <chrono>
#include <cstdio>
#include <string>

namespace unet::data {

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
  bool terminal_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace unet::data
