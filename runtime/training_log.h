// Progress lines, to stdout and appended to training.log, as the seed's users read them: the
// text form of the trainer's records (runtime/training_sink.h), plus free lines for what
// the tools and the parameter server have to say.
#pragma once
#include <cstdio>
#include <string>

#include "runtime/training_sink.h"

namespace unet::runtime {

class TrainingLog : public TrainingSink {
 public:
  explicit TrainingLog(const std::string& path, bool echo = true);  // "" = stdout only
  ~TrainingLog() override;
  TrainingLog(const TrainingLog&) = delete;
  TrainingLog& operator=(const TrainingLog&) = delete;
  void line(const std::string& text);  // one line, flushed, so `tail -f` follows a run

  void note(const std::string& text) override;
  void step(const StepRecord& r) override;
  void stopping(uint64_t global_step, int signal) override;
  void epoch(const EpochRecord& r) override;
  void final_checkpoint(uint64_t global_step, const std::string& path) override;
  void test(const TestRecord& r) override;
  void run_end(const RunEndRecord& r) override;

 private:
  std::FILE* file_ = nullptr;
  bool echo_;
};

}  // namespace unet::runtime
