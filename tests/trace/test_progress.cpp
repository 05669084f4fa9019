// The progress bar every tool draws (data/progress_bar.h) and unetrun's live epoch line: the
// rendered text (bar, step/steps, elapsed, ETA, rate), its width bound, the in-place redraw,
// the plain lines of a stream that is no terminal, and training.log keeping the seed's lines
// while stdout shows the bar (in process, and unetrun on a pseudo-terminal).
#include <gtest/gtest.h>
#include <pty.h>
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

#include "data/progress_bar.h"
#include "plan/plan_io.h"
#include "runtime/training_log.h"
#include "runtime_fixtures.h"

namespace unet {
namespace {

namespace fs = std::filesystem;
using runtime::StepRecord;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// What was written to a tmpfile().
std::string contents(std::FILE* f) {
  std::fflush(f);
  std::rewind(f);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  return out;
}

TEST(Progress, ClockText) {
  EXPECT_EQ(data::clock_text(0), "0:00");
  EXPECT_EQ(data::clock_text(59.4), "0:59");
  EXPECT_EQ(data::clock_text(59.6), "1:00");
  EXPECT_EQ(data::clock_text(61), "1:01");
  EXPECT_EQ(data::clock_text(3599), "59:59");
  EXPECT_EQ(data::clock_text(3600), "1:00:00");
  EXPECT_EQ(data::clock_text(3725), "1:02:05");
  EXPECT_EQ(data::clock_text(-5), "0:00");
  EXPECT_EQ(data::clock_text(std::nan("")), "0:00");
  // An ETA from a rate near zero: bounded, never negative.
  EXPECT_EQ(data::clock_text(1e30), "277777:46:40");
}

TEST(Progress, LineHasBarStepsElapsedAndEta) {
  EXPECT_EQ(data::progress_line("Epoch 2/10", {12, 48, 5, 15}, "tail"),
            "Epoch 2/10 [#######.......................] 12/48  0:05 elapsed, ETA 0:15  tail");
  EXPECT_EQ(data::progress_line("x", {0, 4, 0, 0}, "", 4), "x [....] 0/4  0:00 elapsed, ETA 0:00  ");
  EXPECT_EQ(data::progress_line("x", {3, 4, 65, 3725}, "t", 4), "x [###.] 3/4  1:05 elapsed, ETA 1:02:05  t");
  EXPECT_EQ(data::progress_line("x", {4, 4, 1, 0}, "t", 4), "x [####] 4/4  0:01 elapsed, ETA 0:00  t");
  // Out of range counts fill nothing or everything, never more cells than asked.
  EXPECT_EQ(data::progress_line("x", {9, 4, 0, 0}, "", 4).substr(0, 8), "x [####]");
  EXPECT_EQ(data::progress_line("x", {-2, 4, 0, 0}, "", 4).substr(0, 8), "x [....]");
  EXPECT_EQ(data::progress_line("x", {0, 0, 0, 0}, "", 4).substr(0, 8), "x [####]");
  EXPECT_EQ(data::progress_line("x", {1, 2, 0, 0}, "", -3).substr(0, 5), "x [] ");
  // The default bar has kProgressBarCells cells.
  const std::string line = data::progress_line("x", {1, 3, 0, 0}, "");
  EXPECT_EQ(line.find(']') - line.find('[') - 1, static_cast<size_t>(data::kProgressBarCells));
}

StepRecord record(int epoch, size_t batch, double epoch_seconds, double loss) {
  StepRecord r;
  r.epoch = epoch;
  r.epochs = 10;
  r.batch = batch;
  r.batches = 48;
  r.global_step = static_cast<uint64_t>(epoch) * 48 + batch + 1;
  r.loss = loss;
  r.dice = 0.599;
  r.lr = 0.0005;
  r.epoch_seconds = epoch_seconds;
  r.seconds_remaining = 15;
  r.images = 8;
  r.seconds = 1;
  r.images_per_s = 8;
  return r;
}

TEST(Progress, EpochLineHasRateLossDiceAndFitsTheTerminal) {
  const StepRecord r = record(1, 11, 5, 0.512);
  const std::string full = runtime::progress_text(r, 96);
  EXPECT_EQ(full, "Epoch 2/10 [#######.......................] 12/48  0:05 elapsed, ETA 0:15  96.0 images/s, "
                  "Loss: 0.512, Dice: 0.599");
  EXPECT_EQ(runtime::progress_text(r, 96, 0), full);  // 0: no terminal width known
  // Cut to columns - 1, so the terminal never wraps it (a wrapped line is not redrawn in place).
  for (const size_t columns : std::vector<size_t>{1, 2, 40, 80, full.size(), full.size() + 1, 500}) {
    const std::string cut = runtime::progress_text(r, 96, columns);
    EXPECT_LE(cut.size(), columns - 1) << columns;
    EXPECT_EQ(cut, full.substr(0, std::min(full.size(), columns - 1))) << columns;
  }
}

TEST(Progress, BarRedrawsInPlaceAndEndsItsLineOnce) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  {
    data::ProgressBar bar(f, true);
    EXPECT_FALSE(bar.open());
    bar.end();  // nothing open: nothing written
    bar.draw("one");
    bar.draw("two");
    EXPECT_TRUE(bar.open());
    bar.end();
    bar.end();
    EXPECT_FALSE(bar.open());
  }
  EXPECT_EQ(contents(f), "\rone\rtwo\n");
  std::fclose(f);
}

// A stream that is not a terminal (a file, a pipe, CI) gets one plain line per item, no '\r',
// and the summary with no blank line before it.
TEST(Progress, ReporterWritesPlainLinesWhenNotATerminal) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  data::ProgressReporter reporter("Converting", 3, f);
  reporter.step(1, "BraTS_001");
  reporter.step(2, "BraTS_002");
  reporter.step(3, "BraTS_003");
  reporter.finish();
  const std::string text = contents(f);
  std::fclose(f);
  EXPECT_EQ(text.find('\r'), std::string::npos) << text;
  const std::regex expected(R"(Converting 1/3 BraTS_001 \(0:00 elapsed, ETA 0:00\)
Converting 2/3 BraTS_002 \(0:00 elapsed, ETA 0:00\)
Converting 3/3 BraTS_003 \(0:00 elapsed, ETA 0:00\)
Converting: 3 in \d+\.\d s
)");
  EXPECT_TRUE(std::regex_match(text, expected)) << text;
}

// Two epochs of three steps, the run's end lines, through a log.
void feed(runtime::TrainingLog& log) {
  log.note("Note: a note");
  const double losses[] = {10.5, 0.75, 0.5};
  for (int epoch = 0; epoch < 2; ++epoch) {
    for (size_t b = 0; b < 3; ++b) {
      StepRecord r = record(epoch, b, static_cast<double>(b + 1), losses[b]);
      r.batches = 3;
      log.step(r);
    }
    runtime::EpochRecord e;
    e.epoch = epoch;
    e.epochs = 10;
    e.seconds = 3;
    e.images_per_s = 8;
    e.train_dice = 0.5;
    log.epoch(e);
  }
  log.test({6, 0.7});
  log.run_end({6, 3, 6.5});
}

// Live: training.log has exactly the lines of a run that is not live; stdout has the bar, one
// line an epoch, redrawn in place, and every other line on a line of its own.
TEST(Progress, LiveKeepsTheLogsPlainLinesAndDrawsTheBarOnStdout) {
  const std::string dir = test::temp_dir("progress_live");
  std::string plain_stdout, live_stdout;
  {
    testing::internal::CaptureStdout();
    runtime::TrainingLog log(dir + "/plain.log");
    log.set_live(false);
    feed(log);
  }
  plain_stdout = testing::internal::GetCapturedStdout();
  {
    testing::internal::CaptureStdout();
    runtime::TrainingLog log(dir + "/live.log");
    log.set_live(true);
    EXPECT_TRUE(log.live());
    feed(log);
  }
  live_stdout = testing::internal::GetCapturedStdout();
  const std::string plain_log = read_file(dir + "/plain.log"), live_log = read_file(dir + "/live.log");
  EXPECT_EQ(live_log, plain_log);
  EXPECT_EQ(plain_stdout, plain_log);  // not live: stdout is the log
  EXPECT_NE(plain_log.find("Epoch 1/10, ETE: 15 s, Batch: 1/3, Loss: 10.500, Dice: 0.599, Global Step: 1, Learn rate: "
                           "0.000500\n"),
            std::string::npos)
      << plain_log;
  EXPECT_EQ(plain_stdout.find('\r'), std::string::npos);

  EXPECT_EQ(live_stdout.find("ETE:"), std::string::npos) << live_stdout;  // the step lines are the log's only
  // The images/s is the epoch's so far: 8 images a step over 1, 2, 3 s of the epoch. A text
  // shorter than the last drawn (loss 10.500, then 0.750) is padded over it with spaces.
  const std::string expected =
      "Note: a note\n"
      "\rEpoch 1/10 [##########....................] 1/3  0:01 elapsed, ETA 0:15  8.0 images/s, Loss: 10.500, Dice: 0.599"
      "\rEpoch 1/10 [####################..........] 2/3  0:02 elapsed, ETA 0:15  8.0 images/s, Loss: 0.750, Dice: 0.599 "
      "\rEpoch 1/10 [##############################] 3/3  0:03 elapsed, ETA 0:15  8.0 images/s, Loss: 0.500, Dice: 0.599\n"
      "Epoch 1/10 finished in 3.0 s (8.00 images/s), training Dice 0.500\n"
      "\rEpoch 2/10 [##########....................] 1/3  0:01 elapsed, ETA 0:15  8.0 images/s, Loss: 10.500, Dice: 0.599"
      "\rEpoch 2/10 [####################..........] 2/3  0:02 elapsed, ETA 0:15  8.0 images/s, Loss: 0.750, Dice: 0.599 "
      "\rEpoch 2/10 [##############################] 3/3  0:03 elapsed, ETA 0:15  8.0 images/s, Loss: 0.500, Dice: 0.599\n"
      "Epoch 2/10 finished in 3.0 s (8.00 images/s), training Dice 0.500\n"
      "Test Dice Coef = 0.700\n"
      "Average time per epoch: 3.0 s\n"
      "Total time: 6.5 s\n";
  EXPECT_EQ(live_stdout, expected);
}

// A log that does not echo (a parameter server's, a test's) is never live.
TEST(Progress, NoEchoIsNeverLive) {
  runtime::TrainingLog log("", false);
  log.set_live(true);
  EXPECT_FALSE(log.live());
}

// unetrun on a pseudo-terminal: the bar on stdout, the seed's lines in training.log.
TEST(Progress, UnetrunOnATerminalDrawsTheBarAndLogsThePlainLines) {
  const std::string dir = test::temp_dir("progress_pty");
  test::write_dataset(dir + "/data", "train", 8, 16, 16, 51);
  test::write_dataset(dir + "/data", "test", 2, 16, 16, 52);
  plan::write_plan_file(test::compile(test::kTinyModel, 2), dir + "/plan.bin");
  const std::string log = dir + "/training.log";
  const std::vector<std::string> args = {UNETRUN_PATH, dir + "/plan.bin", "--num_threads", "1", "--no_pin",
                                         "--channels", "flair,t1ce", "--data", dir + "/data", "--batch_size", "2",
                                         "--epochs", "2", "--no_tensorboard", "--log", log, "--checkpoint_dir",
                                         dir + "/ck"};
  int master = -1;
  winsize size{};
  size.ws_col = 200;
  size.ws_row = 50;
  const pid_t pid = forkpty(&master, nullptr, nullptr, &size);
  ASSERT_GE(pid, 0) << "forkpty failed";
  if (pid == 0) {
    std::vector<char*> argv;
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = read(master, buf, sizeof buf);
    if (n <= 0) break;  // EIO once the child has closed the terminal
    out.append(buf, static_cast<size_t>(n));
  }
  close(master);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << out;
  const std::string text = read_file(log);
  // stdout: one bar an epoch, its last state left above the epoch's line; no step lines.
  EXPECT_EQ(out.find("ETE:"), std::string::npos) << out;
  EXPECT_NE(out.find("\rEpoch 1/2 [##############################] 4/4  "), std::string::npos) << out;
  EXPECT_NE(out.find("\rEpoch 2/2 [###############...............] 2/4  "), std::string::npos) << out;
  EXPECT_TRUE(std::regex_search(out, std::regex(R"(Dice: \d\.\d{3} *\r?\nEpoch 1/2 finished in)"))) << out;
  // training.log: the eight step lines, as when stdout is not a terminal, and no bar.
  const std::regex step_line(R"(Epoch \d/2, ETE: \d+ s, Batch: \d/4, Loss: \d\.\d{3}, Dice: \d\.\d{3}, )"
                             R"(Global Step: \d+, Learn rate: 0\.\d{6})");
  std::istringstream lines(text);
  std::string line;
  int steps = 0;
  while (std::getline(lines, line)) steps += std::regex_match(line, step_line);
  EXPECT_EQ(steps, 8) << text;
  EXPECT_EQ(text.find('\r'), std::string::npos) << text;
  EXPECT_EQ(text.find("[###"), std::string::npos) << text;
  EXPECT_NE(text.find("Epoch 2/2 finished in"), std::string::npos) << text;
}

}  // namespace
}  // namespace unet
