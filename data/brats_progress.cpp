#include "data/brats_progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>

namespace unet::data {

namespace {

std::string clock_text(double seconds) {
  const long s = std::lround(std::max(0.0, seconds));
  return s >= 3600 ? fmt::format("{}:{:02d}:{:02d}", s / 3600, (s / 60) % 60, s % 60)
                   : fmt::format("{}:{:02d}", s / 60, s % 60);
}

}  // namespace

ProgressReporter::ProgressReporter(std::string what, int total, std::FILE* out)
    : what_(std::move(what)), total_(total), out_(out), terminal_(isatty(fileno(out)) != 0),
      start_(std::chrono::steady_clock::now()) {}

void ProgressReporter::step(int done, const std::string& label) {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double eta = done > 0 ? elapsed / done * (total_ - done) : 0.0;
  if (terminal_) {
    constexpr int kWidth = 30;
    const int filled = total_ > 0 ? kWidth * done / total_ : kWidth;
    fmt::print(out_, "\r{} [{}{}] {}/{}  {} elapsed, ETA {}  {:<24}", what_, std::string(static_cast<size_t>(filled), '#'),
               std::string(static_cast<size_t>(kWidth - filled), '.'), done, total_, clock_text(elapsed),
               clock_text(eta), label);
  } else {
    fmt::print(out_, "{} {}/{} {} ({} elapsed, ETA {})\n", what_, done, total_, label, clock_text(elapsed),
               clock_text(eta));
  }
  std::fflush(out_);
}

void ProgressReporter::finish() {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  fmt::print(out_, "{}{}: {} in {:.1f} s\n", terminal_ ? "\n" : "", what_, total_, elapsed);
  std::fflush(out_);
}

}  // namespace unet::data
