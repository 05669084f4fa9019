#include "runtime/training_log.h"

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <sys/ioctl.h>
#include <unistd.h>

#include <fmt/format.h>

#include "runtime/runtime_error.h"

namespace unet::runtime {

TrainingLog::TrainingLog(const std::string& path, bool echo) : echo_(echo) {
  if (path.empty()) return;
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);  // fopen names the failure
  file_ = std::fopen(path.c_str(), "a");
  if (!file_) throw RuntimeError(fmt::format("{}: cannot open the training log: {}", path, std::strerror(errno)));
}

TrainingLog::~TrainingLog() {
  bar_.end();  // an error message after us starts on a line of its own
  if (file_) std::fclose(file_);
}

void TrainingLog::to_file(const std::string& text) {
  if (!file_) return;
  std::fputs(text.c_str(), file_);
  std::fputc('\n', file_);
  std::fflush(file_);
}

void TrainingLog::line(const std::string& text) {
  if (echo_) {
    bar_.end();
    std::fputs(text.c_str(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
  }
  to_file(text);
}

std::string progress_text(const StepRecord& r, double images_per_s, size_t columns) {
  const data::ProgressState state{static_cast<int64_t>(r.batch + 1), static_cast<int64_t>(r.batches), r.epoch_seconds,
                                  r.seconds_remaining};
  std::string text = data::progress_line(fmt::format("Epoch {}/{}", r.epoch + 1, r.epochs), state,
                                         fmt::format("{:.1f} images/s, Loss: {:.3f}, Dice: {:.3f}", images_per_s,
                                                     r.loss, r.dice));
  if (columns > 0 && text.size() > columns - 1) text.resize(columns - 1);
  return text;
}

namespace {

size_t terminal_columns() {
  winsize w{};
  return ioctl(STDOUT_FILENO, TIOCGWINSZ, &w) == 0 ? w.ws_col : 0;
}

}  // namespace

void TrainingLog::draw_progress(const StepRecord& r) {
  if (r.epoch != bar_epoch_ || !bar_.open()) {  // a new epoch's line (or the line after another line)
    if (r.epoch != bar_epoch_) bar_images_ = 0;
    bar_.end();
    bar_epoch_ = r.epoch;
    drawn_ = 0;
  }
  bar_images_ += static_cast<double>(r.images);
  std::string text = progress_text(r, r.epoch_seconds > 0 ? bar_images_ / r.epoch_seconds : r.images_per_s,
                                   terminal_columns());
  const size_t length = text.size();
  if (length < drawn_) text.append(drawn_ - length, ' ');  // over a longer last text
  bar_.draw(text);
  drawn_ = length;
}

// The seed's lines, character for character: scripts and users parse them.
void TrainingLog::note(const std::string& text) { line(text); }

void TrainingLog::step(const StepRecord& r) {
  // Live: the seed's lines go to the log file, stdout gets the bar.
  auto out = [&](const std::string& text) { live_ ? to_file(text) : line(text); };
  out(fmt::format("Epoch {}/{}, ETE: {:.0f} s, Batch: {}/{}, Loss: {:.3f}, Dice: {:.3f}, Global Step: {}, "
                  "Learn rate: {:.6f}",
                  r.epoch + 1, r.epochs, r.seconds_remaining, r.batch + 1, r.batches, r.loss, r.dice, r.global_step,
                  r.lr));
  if (r.profiled) {
    const double blocked = r.network.blocked_seconds;
    out(fmt::format("Step {}: {:.3f} s, compute {:.3f} s, blocked on the network {:.3f} s, sent {:.2f} MB, "
                    "received {:.2f} MB",
                    r.global_step, r.seconds, r.seconds - blocked, blocked,
                    static_cast<double>(r.network.bytes_sent) / 1e6,
                    static_cast<double>(r.network.bytes_received) / 1e6));
  }
  if (live_) draw_progress(r);
}

void TrainingLog::stopping(uint64_t global_step, int signal) {
  line(fmt::format("Stopping after global step {} (signal {})", global_step, signal));
}

void TrainingLog::epoch(const EpochRecord& r) {
  line(fmt::format("Epoch {}/{} finished in {:.1f} s ({:.2f} images/s), training Dice {:.3f}", r.epoch + 1, r.epochs,
                   r.seconds, r.images_per_s, r.train_dice));
}

void TrainingLog::final_checkpoint(uint64_t, const std::string& path) { line(fmt::format("Saved checkpoint {}", path)); }

void TrainingLog::test(const TestRecord& r) { line(fmt::format("Test Dice Coef = {:.3f}", r.dice)); }

void TrainingLog::run_end(const RunEndRecord& r) {
  line(fmt::format("Average time per epoch: {:.1f} s", r.mean_epoch_seconds));
  line(fmt::format("Total time: {:.1f} s", r.total_seconds));
}

}  // namespace unet::runtime
