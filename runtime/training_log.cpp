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

}  // namespace unet::runtime
