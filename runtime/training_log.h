// Progress lines, to stdout and appended to training.log, as the seed's users read them.
#pragma once
#include <cstdio>
#include <string>

namespace unet::runtime {

class TrainingLog {
 public:
  explicit TrainingLog(const std::string& path, bool echo = true);  // "" = stdout only
  ~TrainingLog();
  TrainingLog(const TrainingLog&) = delete;
  TrainingLog& operator=(const TrainingLog&) = delete;
  void line(const std::string& text);  // one line, flushed, so `tail -f` follows a run

 private:
  std::FILE* file_ = nullptr;
  bool echo_;
};

}  // namespace unet::runtime
