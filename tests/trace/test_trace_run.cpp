// unetrun --trace / --trace_steps end to end: the file read back by check_trace.py (Python's
// json) against the plan's --dump; the window honoured (the default, a chosen one, one past the
// run's end, after a resume); the flags' errors; a path that cannot be written; under the
// parameter server, the chief's trace only. And, not on a terminal, the plain lines.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "plan/plan_dump.h"
#include "plan/plan_io.h"
#include "runtime_fixtures.h"

namespace unet {
namespace {

namespace fs = std::filesystem;
using test::run;
using test::read_file;
using test::write_file;

constexpr const char* kPython = "/usr/bin/python3";

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

// The index of the first line containing `what`, or -1.
int line_with(const std::vector<std::string>& lines, const std::string& what) {
  for (size_t k = 0; k < lines.size(); ++k)
    if (lines[k].find(what) != std::string::npos) return static_cast<int>(k);
  return -1;
}

class TraceRun : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::temp_dir(std::string("trace_") + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    test::write_dataset(dir_ + "/data", "train", 8, 16, 16, 31);
    test::write_dataset(dir_ + "/data", "test", 2, 16, 16, 32);
    const plan::Plan p = test::compile(test::kTinyModel, 2);
    plan::write_plan_file(p, dir_ + "/plan.bin");
    write_file(dir_ + "/dump.txt", plan::dump_plan(p));
    ASSERT_TRUE(fs::exists(kPython)) << kPython << " is missing: run scripts/setup.sh";
  }

  // A small standalone run: 8 images in batches of 2, 4 steps an epoch, no event file.
  std::string train_flags(const std::string& name, int threads = 1) const {
    return fmt::format("{}/plan.bin --num_threads {} --no_pin --channels flair,t1ce --data {}/data --batch_size 2 "
                       "--learningrate 0.002 --no_tensorboard --log {}/{}.log --checkpoint_dir {}/{}_ck",
                       dir_, threads, dir_, dir_, name, dir_, name);
  }
  std::pair<int, std::string> unetrun(const std::string& args) const {
    return run(fmt::format("'{}' {}", UNETRUN_PATH, args));
  }
  std::pair<int, std::string> check(const std::string& file, const std::string& args) const {
    return run(fmt::format("{} {}/tests/trace/check_trace.py '{}' --dump {}/dump.txt {}", kPython, UNET_SOURCE_DIR,
                           file, dir_, args));
  }

  std::string dir_;
};

// The default window (the run's 2nd and 3rd steps) with two compute threads: every op of every
// list, on the named row of each thread that ran a share of it, its chunks tiling its work
// items. (Whether the pool's second thread wakes in time to take a share is up to TBB on a
// loaded host; Recorder.EachSlotIsANamedRow names the rows deterministically.)
TEST_F(TraceRun, NamesEveryOpOfThePlanOnEachComputeThread) {
  const std::string trace = dir_ + "/out/step.json";  // its folder is made
  const auto [status, out] = unetrun(train_flags("t", 2) + " --blocktime 20 --epochs 1 --trace " + trace);
  ASSERT_EQ(status, 0) << out;
  const auto [cs, cout] = check(trace, "--steps 2:3 --min-threads 1 --max-threads 2");
  ASSERT_EQ(cs, 0) << cout;
  EXPECT_NE(cout.find("\"steps\": [2, 3]"), std::string::npos) << cout;
  EXPECT_TRUE(cout.find("\"threads\": [\"compute 0 (training thread)\"]") != std::string::npos ||
              cout.find("\"threads\": [\"compute 0 (training thread)\", \"compute 1\"]") != std::string::npos)
      << cout;
  // Every op of the plan, counted against the dump: forward, backward and update lists.
  const std::string dump = read_file(dir_ + "/dump.txt");
  size_t ops = 0;
  for (const char* list : {"forward", "backward", "update"}) {
    std::smatch m;
    const std::string pattern = std::string("\n") + list + " ops (\\d+)\n";
    ASSERT_TRUE(std::regex_search(dump, m, std::regex(pattern))) << list;
    ops += std::stoul(m[1]);
  }
  EXPECT_NE(cout.find(fmt::format("\"ops\": {},", ops)), std::string::npos) << "want " << ops << ": " << cout;
  // The note says so, and comes right after the window's last step, not at the run's end.
  const std::vector<std::string> log = lines_of(read_file(dir_ + "/t.log"));
  const int wrote = line_with(log, "Wrote the trace " + trace + ": global steps 2 to 3, ");
  ASSERT_GE(wrote, 0) << read_file(dir_ + "/t.log");
  EXPECT_EQ(wrote, line_with(log, "Global Step: 3,") + 1) << read_file(dir_ + "/t.log");
  EXPECT_NE(out.find("Wrote the trace " + trace), std::string::npos) << out;
  // No temporary left beside it.
  for (const auto& e : fs::directory_iterator(dir_ + "/out"))
    EXPECT_EQ(e.path().filename(), "step.json") << "left behind: " << e.path();
}

// Only the chosen steps; every other step of the run is absent.
TEST_F(TraceRun, TraceStepsPicksTheWindow) {
  const std::string trace = dir_ + "/w.json";
  const auto [status, out] = unetrun(train_flags("w") + " --epochs 2 --trace " + trace + " --trace_steps 5:6");
  ASSERT_EQ(status, 0) << out;
  const auto [cs, cout] = check(trace, "--steps 5:6");
  EXPECT_EQ(cs, 0) << cout;
  // One step N is N:N.
  const auto [s1, o1] = unetrun(train_flags("one") + " --epochs 1 --trace " + trace + " --trace_steps 4");
  ASSERT_EQ(s1, 0) << o1;
  const auto [c1, co1] = check(trace, "--steps 4:4");
  EXPECT_EQ(c1, 0) << co1;
}

// A window the run ends inside is written at the end with the steps it saw; one wholly past the
// end still leaves a file (no op in it) and says why.
TEST_F(TraceRun, WindowPastTheRunsEndIsWrittenAtTheEnd) {
  const std::string trace = dir_ + "/late.json";
  auto [status, out] = unetrun(train_flags("late") + " --epochs 1 --trace " + trace + " --trace_steps 3:10");
  ASSERT_EQ(status, 0) << out;
  auto [cs, cout] = check(trace, "--steps 3:4");
  EXPECT_EQ(cs, 0) << cout;
  std::vector<std::string> log = lines_of(read_file(dir_ + "/late.log"));
  const int wrote = line_with(log, "Wrote the trace " + trace + ": global steps 3 to 4, ");
  EXPECT_GT(wrote, line_with(log, "Epoch 1/1 finished")) << read_file(dir_ + "/late.log");

  const std::string none = dir_ + "/none.json";
  std::tie(status, out) = unetrun(train_flags("none") + " --epochs 1 --trace " + none + " --trace_steps 7:9");
  ASSERT_EQ(status, 0) << out;
  std::tie(cs, cout) = check(none, "");
  EXPECT_EQ(cs, 0) << cout;
  EXPECT_NE(cout.find("\"op_events\": 0"), std::string::npos) << cout;
  EXPECT_NE(out.find("Wrote the trace " + none + ": no step of 7:9 ran (this run's steps were 1 to 4)"),
            std::string::npos)
      << out;
}

// A run that fails inside the window (a learning rate of 1e30 sends a weight to infinity within
// a few steps, and the checkpoint after every step refuses it) still writes the trace of the
// steps it ran before it stops with its error.
TEST_F(TraceRun, FailedRunStillWritesTheStepsItRan) {
  const std::string trace = dir_ + "/failed.json";
  std::string flags = train_flags("failed");
  flags.replace(flags.find("--learningrate 0.002"), 20, "--learningrate 1e30 --const_learningrate");
  auto [status, out] = unetrun(flags + " --epochs 20 --save_secs 0 --trace " + trace + " --trace_steps 1:1000");
  ASSERT_NE(status, 0) << out;
  EXPECT_NE(out.find("the run diverged"), std::string::npos) << out;
  const std::smatch m = [&] {
    std::smatch found;
    static const std::regex wrote("Wrote the trace [^:]*: global steps 1 to ([0-9]+), ");
    std::regex_search(out, found, wrote);
    return found;
  }();
  ASSERT_EQ(m.size(), 2u) << out;
  const int last = std::stoi(m[1].str());
  EXPECT_GE(last, 1);
  auto [cs, cout] = check(trace, fmt::format("--steps 1:{}", last));
  EXPECT_EQ(cs, 0) << cout;
}

// The default window follows the run, not the global step: after a resume at step 4 it is 6:7.
TEST_F(TraceRun, DefaultWindowIsTheRunsSecondAndThirdStepAfterAResume) {
  auto [status, out] = unetrun(train_flags("r") + " --epochs 1 --save_secs 0");
  ASSERT_EQ(status, 0) << out;
  const std::string trace = dir_ + "/resumed.json";
  std::tie(status, out) = unetrun(train_flags("r") + " --epochs 2 --resume --trace " + trace);
  ASSERT_EQ(status, 0) << out;
  const auto [cs, cout] = check(trace, "--steps 6:7");
  EXPECT_EQ(cs, 0) << cout;
}

// Each bad window is refused before anything runs, in one line naming the flag and the text.
TEST_F(TraceRun, BadTraceStepsIsOneLineError) {
  const std::string trace = dir_ + "/bad.json";
  for (const char* steps : {"5:2", "x", "0:3", "3:", ":3", "1:2:3", "-1:2", "2:99999999999999999999"}) {
    const auto [status, out] = unetrun(train_flags("bad") + " --epochs 1 --trace " + trace + " --trace_steps '" +
                                       steps + "'");
    EXPECT_NE(status, 0) << steps << ": " << out;
    EXPECT_NE(out.find("--trace_steps"), std::string::npos) << steps << ": " << out;
    EXPECT_NE(out.find(steps), std::string::npos) << steps << ": " << out;
    EXPECT_EQ(out.find('\n'), out.size() - 1) << steps << ": not one line: " << out;
    EXPECT_FALSE(fs::exists(trace)) << steps;
    EXPECT_FALSE(fs::exists(dir_ + "/bad_ck")) << steps << ": it trained";
  }
  // --trace_steps alone traces nothing: it is refused too.
  const auto [status, out] = unetrun(train_flags("bad") + " --epochs 1 --trace_steps 2:3");
  EXPECT_NE(status, 0) << out;
  EXPECT_NE(out.find("--trace"), std::string::npos) << out;
  EXPECT_EQ(out.find('\n'), out.size() - 1) << "not one line: " << out;
}

// A trace path that cannot be written is refused when the run starts, naming it, before any step
// (cheaper to fix a typo than to lose the trace of a long run); a folder given as the path too.
// A trace that turns unwritable during the run is a warning (test_trace_recorder.cpp).
TEST_F(TraceRun, UnwritableTracePathIsOneLineNamingItBeforeTraining) {
  write_file(dir_ + "/afile", "not a folder");
  fs::create_directories(dir_ + "/afolder");
  for (const std::string& trace : {dir_ + "/afile/t.json", dir_ + "/afolder"}) {
    const auto [status, out] = unetrun(train_flags("unwritable") + " --epochs 1 --trace " + trace);
    EXPECT_NE(status, 0) << out;
    EXPECT_EQ(out.rfind("unetrun: --trace: " + trace + ": ", 0), 0u) << out;
    EXPECT_EQ(out.find('\n'), out.size() - 1) << "not one line: " << out;
    EXPECT_EQ(read_file(dir_ + "/unwritable.log").find("Global Step"), std::string::npos) << "it trained";
  }
}

// Not on a terminal (here, a pipe), stdout gets the seed's plain lines, no '\r' and no bar, with
// or without --trace; and they are the log file's lines.
TEST_F(TraceRun, NotATerminalGivesThePlainLines) {
  const auto [status, out] = unetrun(train_flags("plain") + " --epochs 1");
  ASSERT_EQ(status, 0) << out;
  EXPECT_EQ(out.find('\r'), std::string::npos) << out;
  EXPECT_EQ(out.find("[###"), std::string::npos) << out;
  const std::regex step_line(R"(Epoch 1/1, ETE: \d+ s, Batch: \d/4, Loss: \d\.\d{3}, Dice: \d\.\d{3}, )"
                             R"(Global Step: \d+, Learn rate: 0\.\d{6})");
  int steps = 0;
  for (const std::string& line : lines_of(out)) steps += std::regex_match(line, step_line);
  EXPECT_EQ(steps, 4) << out;
  EXPECT_EQ(out, read_file(dir_ + "/plain.log"));
}

// unetlaunch gives every process the same flags: the parameter server and worker 1 take --trace
// and write nothing; the chief writes the trace of its own ops.
TEST_F(TraceRun, OnlyTheChiefWritesUnderTheParameterServer) {
  const std::string trace = dir_ + "/dist.json";
  const auto [status, out] =
      run(fmt::format("'{}' --local --workers 2 --run_dir {}/launch {}/plan.bin --num_threads 1 --no_pin --channels "
                      "flair,t1ce --data {}/data --batch_size 4 --epochs 20 --max_steps 4 --save_secs 1000000 "
                      "--checkpoint_dir {}/dist_ck --log {}/dist.log --no_tensorboard --trace {} --trace_steps 2:3",
                      UNETLAUNCH_PATH, dir_, dir_, dir_, dir_, dir_, trace));
  ASSERT_EQ(status, 0) << out;
  // A worker runs the forward and backward lists; the parameter server, the update.
  const auto [cs, cout] = check(trace, "--steps 2:3 --max-threads 1 --lists forward,backward");
  EXPECT_EQ(cs, 0) << cout;
  EXPECT_NE(read_file(dir_ + "/dist.log").find("Wrote the trace " + trace), std::string::npos)
      << read_file(dir_ + "/dist.log");
  ASSERT_TRUE(fs::exists(dir_ + "/dist.1.log")) << out;
  EXPECT_EQ(read_file(dir_ + "/dist.1.log").find("Wrote the trace"), std::string::npos) << read_file(dir_ + "/dist.1.log");
  // One writer: the file and no temporary of another process beside it.
  for (const auto& e : fs::directory_iterator(dir_))
    EXPECT_EQ(e.path().filename().string().find("dist.json.tmp"), std::string::npos) << e.path();
}

}  // namespace
}  // namespace unet
