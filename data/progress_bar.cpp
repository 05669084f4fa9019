#include "data/progress_bar.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>

namespace unet::data {

std::string clock_text(double seconds) {
  // Bounded before rounding: lround of a time past LONG_MAX (an ETA from a rate near 0) is
  // undefined, and printed negative. 10^9 s is 31 years, "277777:46:40".
  const long s = std::isfinite(seconds) ? std::lround(std::clamp(seconds, 0.0, 1e9)) : 0;
  return s >= 3600 ? fmt::format("{}:{:02d}:{:02d}", s / 3600, (s / 60) % 60, s % 60)
                   : fmt::format("{}:{:02d}", s / 60, s % 60);
}

std::string progress_line(std::string_view what, const ProgressState& s, std::string_view tail, int cells) {
  cells = std::max(cells, 0);
  const int64_t done = std::clamp<int64_t>(s.done, 0, std::max<int64_t>(s.total, 0));
  const int filled = s.total > 0 ? static_cast<int>(cells * done / s.total) : cells;
  return fmt::format("{} [{}{}] {}/{}  {} elapsed, ETA {}  {}", what, std::string(static_cast<size_t>(filled), '#'),
                     std::string(static_cast<size_t>(cells - filled), '.'), s.done, s.total, clock_text(s.elapsed),
                     clock_text(s.eta), tail);
}

ProgressBar::ProgressBar(std::FILE* out) : out_(out), terminal_(isatty(fileno(out)) != 0) {}

void ProgressBar::draw(std::string_view text) {
  std::fputc('\r', out_);
  std::fwrite(text.data(), 1, text.size(), out_);
  std::fflush(out_);
  open_ = true;
}

void ProgressBar::end() {
  if (!open_) return;
  std::fputc('\n', out_);
  std::fflush(out_);
  open_ = false;
}

ProgressReporter::ProgressReporter(std::string what, int total, std::FILE* out)
    : what_(std::move(what)), total_(total), out_(out), bar_(out), start_(std::chrono::steady_clock::now()) {}

void ProgressReporter::step(int done, const std::string& label) {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double eta = done > 0 ? elapsed / done * (total_ - done) : 0.0;
  if (bar_.terminal()) {
    bar_.draw(progress_line(what_, {done, total_, elapsed, eta}, fmt::format("{:<24}", label)));
  } else {
    fmt::print(out_, "{} {}/{} {} ({} elapsed, ETA {})\n", what_, done, total_, label, clock_text(elapsed),
               clock_text(eta));
    std::fflush(out_);
  }
}

void ProgressReporter::finish() {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  bar_.end();  // only a drawn bar has a line to close: no blank line before the summary otherwise
  fmt::print(out_, "{}: {} in {:.1f} s\n", what_, total_, elapsed);
  std::fflush(out_);
}

}  // namespace unet::data
