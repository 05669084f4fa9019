// unetrun's event files, read back the way TensorBoard reads them by check_events.py: every
// record's two CRCs, the tags and steps, the PNGs, the histograms, the graph against the plan's
// --dump; a file cut inside its last record; the training log unchanged beside it; the flags'
// errors; and, under the parameter server, one event file, the chief's.
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

std::vector<std::string> event_files(const std::string& logdir) {
  std::vector<std::string> found;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(logdir, ec))
    if (e.path().filename().string().rfind("events.out.tfevents.", 0) == 0) found.push_back(e.path().string());
  return found;
}

// Where each record starts, walking the framing (length, 4 bytes, data, 4 bytes).
std::vector<size_t> record_offsets(const std::string& bytes) {
  std::vector<size_t> at;
  size_t pos = 0;
  while (pos + 12 <= bytes.size()) {
    uint64_t length = 0;
    for (int k = 7; k >= 0; --k) length = length << 8 | static_cast<unsigned char>(bytes[pos + static_cast<size_t>(k)]);
    at.push_back(pos);
    pos += 16 + length;
  }
  EXPECT_EQ(pos, bytes.size()) << "the records do not tile the file";
  return at;
}

class EventFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::temp_dir(std::string("tb_") + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    test::write_dataset(dir_ + "/data", "train", 8, 16, 16, 21);
    test::write_dataset(dir_ + "/data", "test", 2, 16, 16, 22);
    const plan::Plan p = test::compile(test::kTinyModel, 2);
    plan::write_plan_file(p, dir_ + "/plan.bin");
    write_file(dir_ + "/dump.txt", plan::dump_plan(p));
    // The decoder's message classes, generated from events.proto.
    const std::string protoc = UNET_PROTOC;
    ASSERT_TRUE(fs::exists(protoc)) << "protoc is missing: run scripts/setup.sh (protobuf-compiler)";
    ASSERT_TRUE(fs::exists(kPython)) << kPython << " is missing: run scripts/setup.sh";
    fs::create_directories(dir_ + "/pb");
    const auto [status, out] = run(fmt::format("'{}' --proto_path={}/tests/tensorboard --python_out={}/pb events.proto",
                                               protoc, UNET_SOURCE_DIR, dir_));
    ASSERT_EQ(status, 0) << out;
    const auto [py, pyout] = run(fmt::format("{} -c 'import google.protobuf, png'", kPython));
    ASSERT_EQ(py, 0) << "python3-protobuf and python3-png are needed (scripts/setup.sh): " << pyout;
  }

  // Flags of a small standalone run: 8 images in batches of 2, so 4 steps an epoch.
  std::string train_flags(const std::string& name) const {
    return fmt::format("{}/plan.bin --num_threads 1 --no_pin --channels flair,t1ce --data {}/data --batch_size 2 "
                       "--learningrate 0.002 --log {}/{}.log --checkpoint_dir {}/{}_ck",
                       dir_, dir_, dir_, name, dir_, name);
  }
  std::pair<int, std::string> unetrun(const std::string& args) const {
    return run(fmt::format("'{}' {}", UNETRUN_PATH, args));
  }
  std::pair<int, std::string> check(const std::string& file, const std::string& args) const {
    return run(fmt::format("{} {}/tests/tensorboard/check_events.py --pb {}/pb '{}' {}", kPython, UNET_SOURCE_DIR,
                           dir_, file, args));
  }
  // A run of `epochs` epochs with images every 2 steps and histograms every 3; its event file.
  std::string trained_event_file(int epochs = 2) {
    const auto [status, out] = unetrun(train_flags("tb") + fmt::format(" --epochs {} --logdir {}/tb --image_steps 2 "
                                                                       "--histogram_steps 3",
                                                                       epochs, dir_));
    EXPECT_EQ(status, 0) << out;
    const std::vector<std::string> files = event_files(dir_ + "/tb");
    EXPECT_EQ(files.size(), 1u) << out;
    return files.empty() ? "" : files.front();
  }

  std::string dir_;
};

TEST_F(EventFile, StandaloneRunHasEveryRecordTensorBoardReads) {
  const std::string file = trained_event_file();
  ASSERT_FALSE(file.empty());
  EXPECT_NE(fs::path(file).filename().string().find(fmt::format("events.out.tfevents.")), std::string::npos);
  const auto [status, out] = check(file, fmt::format("--dump {}/dump.txt --steps 8 --image-steps 2 "
                                                     "--histogram-steps 3 --image-size 16x16 --test-dice "
                                                     "--channel flair",
                                                     dir_));
  EXPECT_EQ(status, 0) << out;
  // 8 steps of 4 scalars; images at steps 2, 4, 6, 8; histograms at 3 and 6 of the tiny model's
  // 10 parameters, weights and gradients.
  EXPECT_NE(out.find("\"checked\": {\"scalars\": 32, \"images\": 12, \"histograms\": 40}"), std::string::npos) << out;
}

// A writer killed inside a record leaves part of it; TensorBoard's reader stops there and keeps
// every whole record before it. Cut inside the length, inside its CRC, inside the data and
// inside the data's CRC, of the last record and of one in the middle, and on a boundary.
TEST_F(EventFile, TruncatedLastRecordLeavesEveryWholeRecordBeforeIt) {
  const std::string file = trained_event_file(1);
  ASSERT_FALSE(file.empty());
  const std::string bytes = read_file(file);
  const std::vector<size_t> at = record_offsets(bytes);
  ASSERT_GE(at.size(), 6u);
  const std::string cut = dir_ + "/cut.tfevents";
  for (size_t k : {at.size() - 1, at.size() / 2, size_t{1}}) {
    const size_t start = at[k], end = k + 1 < at.size() ? at[k + 1] : bytes.size();
    for (size_t keep : {size_t{5}, size_t{10}, (end - start) / 2, end - start - 2, size_t{0}}) {
      write_file(cut, bytes.substr(0, start + keep));
      const auto [status, out] = check(cut, "--summary");
      ASSERT_EQ(status, 0) << "cut at " << start + keep << ": " << out;
      EXPECT_NE(out.find(fmt::format("\"records\": {}, \"end\": {}, \"truncated\": {}", k, start,
                                     keep == 0 ? "false" : "true")),
                std::string::npos)
          << "cut " << keep << " bytes into record " << k << ": " << out;
    }
  }
  // The whole file reads whole; a truncated one fails the full check by name.
  write_file(cut, bytes.substr(0, bytes.size() - 3));
  const auto [status, out] = check(cut, fmt::format("--dump {}/dump.txt --steps 4 --image-steps 2 --histogram-steps 3 "
                                                    "--image-size 16x16 --test-dice",
                                                    dir_));
  EXPECT_NE(status, 0) << out;
  EXPECT_NE(out.find("ends inside a record"), std::string::npos) << out;
}

// The reader checks both CRCs: one flipped bit in a record's data, or in its length, is an error.
TEST_F(EventFile, EveryRecordsCrcsAreChecked) {
  const std::string file = trained_event_file(1);
  ASSERT_FALSE(file.empty());
  const std::string bytes = read_file(file);
  const std::vector<size_t> at = record_offsets(bytes);
  ASSERT_GE(at.size(), 3u);
  const std::string bad = dir_ + "/bad.tfevents";
  std::string flipped = bytes;
  flipped[at[2] + 14] ^= 0x04;
  write_file(bad, flipped);
  auto [status, out] = check(bad, "--summary");
  EXPECT_NE(status, 0) << out;
  EXPECT_NE(out.find("the data's CRC does not match"), std::string::npos) << out;
  flipped = bytes;
  flipped[at[2] + 1] ^= 0x01;
  write_file(bad, flipped);
  std::tie(status, out) = check(bad, "--summary");
  EXPECT_NE(status, 0) << out;
  EXPECT_NE(out.find("the length's CRC does not match"), std::string::npos) << out;
}

// --no_tensorboard writes nothing; with or without the event file, the training log's lines
// are the same lines (the numbers that are times aside).
TEST_F(EventFile, NoTensorboardWritesNothingAndTheLogIsTheSame) {
  const std::string file = trained_event_file(2);
  ASSERT_FALSE(file.empty());
  const auto [status, out] = unetrun(train_flags("plain") + fmt::format(" --epochs 2 --no_tensorboard --logdir {}/none",
                                                                        dir_));
  ASSERT_EQ(status, 0) << out;
  EXPECT_FALSE(fs::exists(dir_ + "/none"));
  auto untimed = [](std::string text) {
    for (const char* pattern : {R"(ETE: \d+ s)", R"(finished in [0-9.]+ s \([0-9.]+ images/s\))",
                                R"(Average time per epoch: [0-9.]+ s)", R"(Total time: [0-9.]+ s)",
                                R"(checkpoint \S+)"})
      text = std::regex_replace(text, std::regex(pattern), "#");
    return text;
  };
  const std::string with = read_file(dir_ + "/tb.log"), without = read_file(dir_ + "/plain.log");
  EXPECT_EQ(untimed(with), untimed(without));
  // And they are the seed's lines.
  const std::regex step_line(R"(Epoch \d+/2, ETE: \d+ s, Batch: \d/4, Loss: \d\.\d{3}, Dice: \d\.\d{3}, )"
                             R"(Global Step: \d+, Learn rate: 0\.\d{6})");
  std::istringstream lines(without);
  std::string line;
  int steps = 0;
  while (std::getline(lines, line)) steps += std::regex_match(line, step_line);
  EXPECT_EQ(steps, 8) << without;
}

TEST_F(EventFile, UnwritableLogdirIsOneLineNamingIt) {
  write_file(dir_ + "/afile", "not a folder");
  const std::string logdir = dir_ + "/afile/tb";
  const auto [status, out] = unetrun(train_flags("bad") + " --epochs 1 --logdir " + logdir);
  EXPECT_NE(status, 0) << out;
  EXPECT_NE(out.find(logdir + ": cannot create the TensorBoard log directory"), std::string::npos) << out;
  EXPECT_EQ(out.find('\n'), out.size() - 1) << "not one line: " << out;
}

TEST_F(EventFile, InferTakesTheFlagsAndWritesNothing) {
  ASSERT_FALSE(trained_event_file(1).empty());
  const auto [status, out] = unetrun(fmt::format("{}/plan.bin --num_threads 1 --no_pin --channels flair,t1ce --data "
                                                 "{}/data --infer --checkpoint {}/tb_ck/latest.npz --out {}/pred "
                                                 "--logdir {}/infer_tb --image_steps 1 --histogram_steps 1",
                                                 dir_, dir_, dir_, dir_, dir_));
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("Test Dice Coef"), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(dir_ + "/infer_tb"));
}

// unetlaunch gives every process the same flags: the parameter server and worker 1 take
// --logdir and write nothing; the chief writes the one event file, test Dice included.
TEST_F(EventFile, OnlyTheChiefWritesUnderTheParameterServer) {
  const auto [status, out] =
      run(fmt::format("'{}' --local --workers 2 --run_dir {}/launch {}/plan.bin --num_threads 1 --no_pin --channels "
                      "flair,t1ce --data {}/data --batch_size 4 --epochs 20 --max_steps 4 --save_secs 1000000 "
                      "--checkpoint_dir {}/dist_ck --log {}/dist.log --logdir {}/dist_tb --image_steps 2 "
                      "--histogram_steps 2",
                      UNETLAUNCH_PATH, dir_, dir_, dir_, dir_, dir_, dir_));
  ASSERT_EQ(status, 0) << out;
  const std::vector<std::string> files = event_files(dir_ + "/dist_tb");
  ASSERT_EQ(files.size(), 1u) << out;
  const auto [cs, cout] = check(files.front(), fmt::format("--dump {}/dump.txt --steps 4 --image-steps 2 "
                                                           "--histogram-steps 2 --image-size 16x16 --test-dice",
                                                           dir_));
  EXPECT_EQ(cs, 0) << cout;
}

}  // namespace
}  // namespace unet
