// The trace recorder in process: --trace_steps' parser, the executor recording only while it
// holds the recorder, several compute threads' rows, names that need JSON escapes, and a trace
// that cannot be written at the end of a run (the run's results are kept).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include <fmt/format.h>

#include "base/limits.h"
#include "plan/plan_dump.h"
#include "runtime/engine.h"
#include "runtime/runtime_error.h"
#include "runtime/trace_writer.h"
#include "runtime/trainer.h"
#include "runtime/training_log.h"
#include "runtime_fixtures.h"

namespace unet::runtime {
namespace {

namespace fs = std::filesystem;
using test::run;
using test::read_file;

TEST(TraceSteps, ParsesAToBAndOneStep) {
  const StepRange a = parse_step_range("2:3");
  EXPECT_EQ(a.first, 2u);
  EXPECT_EQ(a.last, 3u);
  const StepRange b = parse_step_range("7");
  EXPECT_EQ(b.first, 7u);
  EXPECT_EQ(b.last, 7u);
  EXPECT_TRUE(b.contains(7));
  EXPECT_FALSE(b.contains(6));
  EXPECT_FALSE(b.contains(8));
  const StepRange c = parse_step_range("18446744073709551615");  // the largest step there is
  EXPECT_EQ(c.last, UINT64_MAX);
  const StepRange d = parse_step_range(fmt::format("5:{}", 5 + limits::kMaxTraceSteps - 1));  // the widest window
  EXPECT_EQ(d.last - d.first + 1, limits::kMaxTraceSteps);
}

// The recorder holds the window's events in memory: a window wider than kMaxTraceSteps is
// refused, naming the flag, the text and the limit.
TEST(TraceSteps, RefusesAWindowWiderThanTheLimit) {
  const std::string text = fmt::format("5:{}", 5 + limits::kMaxTraceSteps);
  try {
    parse_step_range(text);
    ADD_FAILURE() << text << " accepted";
  } catch (const RuntimeError& e) {
    EXPECT_EQ(std::string(e.what()),
              fmt::format("--trace_steps '{}': {} steps; a trace holds at most {} (its events stay in memory until "
                          "the window ends)",
                          text, limits::kMaxTraceSteps + 1, limits::kMaxTraceSteps));
  }
  try {
    parse_step_range("1:18446744073709551615");
    ADD_FAILURE() << "1:UINT64_MAX accepted";
  } catch (const RuntimeError&) {
  }
}

TEST(TraceSteps, RefusesAnythingElseNamingFlagAndText) {
  for (const char* bad : {"5:2", "x", "0", "0:3", "", ":", "3:", ":3", "1:2:3", "-1:2", "+1:2", " 2:3", "2:3 ", "2.0:3",
                          "18446744073709551616", "1:99999999999999999999"}) {
    try {
      parse_step_range(bad);
      ADD_FAILURE() << "'" << bad << "' accepted";
    } catch (const RuntimeError& e) {
      const std::string what = e.what();
      EXPECT_EQ(what.rfind(fmt::format("--trace_steps '{}': ", bad), 0), 0u) << what;
      EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    }
  }
}

EngineOptions threads(int n) {
  EngineOptions o;
  o.threads.num_threads = n;
  o.threads.pin = false;
  return o;
}

TrainOptions options_for(const std::string& data_dir) {
  TrainOptions o;
  o.data_dir = data_dir;
  o.selection.channels = {2, 3};  // flair, t1ce: the tiny model takes two channels
  o.shuffle = false;
  o.test_at_end = false;
  o.epochs = 1;
  o.batch_size = 2;
  o.lr.initial = 0.002f;
  o.lr.constant = true;
  return o;
}

class Recorder : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::temp_dir(std::string("recorder_") + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    test::write_dataset(dir_ + "/data", "train", 8, 16, 16, 41);
    test::write_dataset(dir_ + "/data", "test", 2, 16, 16, 42);
  }
  std::pair<int, std::string> check(const std::string& file, const std::string& dump, const std::string& args) const {
    std::ofstream(dir_ + "/dump.txt") << dump;
    return run(fmt::format("/usr/bin/python3 {}/tests/trace/check_trace.py '{}' --dump {}/dump.txt {}", UNET_SOURCE_DIR,
                           file, dir_, args));
  }
  std::string dir_;
};

// Three compute threads, a model name that needs escapes in JSON: the file parses, every op of
// the window's steps is there once per pass, on named threads; nothing of the steps outside
// the window.
TEST_F(Recorder, SeveralThreadsAndEscapedNames) {
  plan::Plan p = test::compile(test::kTinyModel, 2);
  p.model_name = "ti\"ny\\\n\x01";
  Engine engine(std::move(p), threads(3));
  TraceRecorder trace(dir_ + "/t.json", engine.threads().size(), StepRange{2, 3}, engine.plan());
  TrainOptions o = options_for(dir_ + "/data");
  o.trace = &trace;
  TrainingLog log(dir_ + "/t.log", false);
  Trainer trainer(engine, o, log);
  const TrainSummary s = trainer.run();
  EXPECT_EQ(s.global_step, 4u);
  ASSERT_TRUE(trace.written());
  EXPECT_EQ(trace.steps_traced(), 2u);
  const auto [status, out] = check(trace.path(), plan::dump_plan(engine.plan()), "--steps 2:3 --min-threads 1 --max-threads 3");
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find(R"("model": "ti\"ny\\\n\u0001")"), std::string::npos) << out;
  EXPECT_NE(out.find(fmt::format("\"op_events\": {}", trace.op_events())), std::string::npos) << out;
}

// The executor records only while it holds the recorder: ops run without it add nothing.
TEST_F(Recorder, ExecutorRecordsOnlyWhileItHoldsTheRecorder) {
  Engine engine(test::compile(test::kTinyModel, 2), threads(2));
  TraceRecorder trace(dir_ + "/e.json", engine.threads().size(), StepRange{1, 1}, engine.plan());
  kernels::StepScalars scalars{};
  engine.executor().run(OpList::forward, scalars, true);
  EXPECT_EQ(trace.op_events(), 0u);
  trace.begin_step(1);
  engine.executor().set_tracer(&trace);
  engine.executor().run(OpList::forward, scalars, true);
  engine.executor().set_tracer(nullptr);
  trace.end_step();
  const size_t recorded = trace.op_events();
  EXPECT_GE(recorded, engine.plan().forward.size());
  engine.executor().run(OpList::forward, scalars, true);
  EXPECT_EQ(trace.op_events(), recorded);
  trace.write();
  // Only the forward list ran: the check wants every forward op and no other list.
  const std::string dump = plan::dump_plan(engine.plan());
  const std::string forward_only = dump.substr(0, dump.find("\nbackward ops"));
  const auto [status, out] = check(trace.path(), forward_only, "--steps 1:1");
  EXPECT_EQ(status, 0) << out;
}

// Each pool slot that ran a share of an op is its own row, named by the slot, in slot order;
// the slot-0 thread that writes the file (the training thread) says so. The executor's
// threads are up to TBB; here two threads report as slots 0 and 1 themselves.
TEST_F(Recorder, EachSlotIsANamedRow) {
  Engine engine(test::compile(test::kTinyModel, 2), threads(1));
  const plan::Plan& p = engine.plan();
  TraceRecorder trace(dir_ + "/slots.json", 2, StepRange{1, 1}, p);
  trace.begin_step(1);
  trace.begin_list(TraceList::forward);
  const plan::Op* op = &p.forward.front();
  int64_t t = TraceRecorder::now();
  trace.op_chunk(0, op, 0, 3, 7, t, t + 1000);
  std::thread([&] { trace.op_chunk(1, op, 3, 7, 7, t, t + 2000); }).join();
  trace.end_list();
  trace.end_step();
  EXPECT_EQ(trace.op_events(), 2u);
  trace.write();
  const auto [status, out] = check(trace.path(), "", "--summary");
  ASSERT_EQ(status, 0) << out;
  EXPECT_NE(out.find(R"x("threads": ["compute 0 (training thread)", "compute 1"])x"), std::string::npos) << out;
  EXPECT_NE(out.find(R"("steps": [1])"), std::string::npos) << out;
  const std::string json = read_file(trace.path());
  EXPECT_NE(json.find(fmt::format(R"("args": {{"kernel": "{}", "items": "3-7", "of": 7, "step": 1, "pass": 0}})",
                                  op->kernel)),
            std::string::npos)
      << json;
  EXPECT_NE(json.find(R"("dur": 2.000)"), std::string::npos) << json;  // microseconds
}

// The trace's folder is gone by the end of the window (the path was fine at the start): a
// one-line warning naming the file, and the run goes on to its checkpoint and test Dice.
TEST_F(Recorder, TraceThatCannotBeWrittenAtTheEndKeepsTheRunsResults) {
  Engine engine(test::compile(test::kTinyModel, 2), threads(1));
  const std::string path = dir_ + "/sub/t.json";
  TraceRecorder trace(path, engine.threads().size(), StepRange{2, 3}, engine.plan());
  ASSERT_TRUE(fs::is_directory(dir_ + "/sub"));
  fs::remove_all(dir_ + "/sub");
  std::ofstream(dir_ + "/sub") << "a file where the folder was";
  TrainOptions o = options_for(dir_ + "/data");
  o.trace = &trace;
  o.test_at_end = true;
  o.checkpoint_dir = dir_ + "/ck";
  TrainingLog log(dir_ + "/w.log", false);
  Trainer trainer(engine, o, log);
  TrainSummary s;
  ASSERT_NO_THROW(s = trainer.run());
  EXPECT_EQ(s.global_step, 4u);
  EXPECT_GE(s.test_dice, 0.0);
  EXPECT_TRUE(fs::exists(dir_ + "/ck/latest.npz"));
  EXPECT_FALSE(trace.written());
  const std::string text = read_file(dir_ + "/w.log");
  const size_t at = text.find("Warning: --trace: " + path + ": ");
  ASSERT_NE(at, std::string::npos) << text;
  EXPECT_NE(text.find("; no trace written, training goes on\n", at), std::string::npos) << text;
  // Tried once, after step 3, not again at the end; the steps after it still logged.
  EXPECT_EQ(text.find("Warning: --trace", at + 1), std::string::npos) << text;
  EXPECT_LT(at, text.find("Global Step: 4,")) << text;
  EXPECT_NE(text.find("Test Dice Coef"), std::string::npos) << text;
}

}  // namespace
}  // namespace unet::runtime
