#include "runtime/training_log.h"

#include <cerrno>
#include <cstring>
#include <filesystem>

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
  if (file_) std::fclose(file_);
}

void TrainingLog::line(const std::string& text) {
  if (echo_) {
    std::fputs(text.c_str(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
  }
  if (file_) {
    std::fputs(text.c_str(), file_);
    std::fputc('\n', file_);
    std::fflush(file_);
  }
}

// The seed's lines, character for character: scripts and users parse them.
void TrainingLog::note(const std::string& text) { line(text); }

void TrainingLog::step(const StepRecord& r) {
  line(fmt::format("Epoch {}/{}, ETE: {:.0f} s, Batch: {}/{}, Loss: {:.3f}, Dice: {:.3f}, Global Step: {}, "
                   "Learn rate: {:.6f}",
                   r.epoch + 1, r.epochs, r.seconds_remaining, r.batch + 1, r.batches, r.loss, r.dice, r.global_step,
                   r.lr));
  if (!r.profiled) return;
  const double blocked = r.network.blocked_seconds;
  line(fmt::format("Step {}: {:.3f} s, compute {:.3f} s, blocked on the network {:.3f} s, sent {:.2f} MB, "
                   "received {:.2f} MB",
                   r.global_step, r.seconds, r.seconds - blocked, blocked,
                   static_cast<double>(r.network.bytes_sent) / 1e6,
                   static_cast<double>(r.network.bytes_received) / 1e6));
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
