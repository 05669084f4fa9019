// SIGKILL at random moments of a run that checkpoints all the time: after every kill the
// newest checkpoint loads, old ones are pruned, and the next start sweeps the temporaries a
// killed writer left.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>

#include "plan/plan_io.h"
#include "runtime/checkpoint.h"
#include "runtime/engine.h"
#include "runtime_fixtures.h"

namespace unet {
namespace {

namespace fs = std::filesystem;

struct Files {
  size_t models = 0, temporaries = 0;
};

Files count_files(const std::string& dir) {
  Files f;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.find(".tmp.") != std::string::npos) ++f.temporaries;
    else if (name.rfind("model-", 0) == 0) ++f.models;
  }
  return f;
}

pid_t start(const std::string& command) {
  const pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", ("exec " + command).c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

TEST(CrashSafety, TwentyKillsWhileCheckpointingLeaveALoadableLatestAndNoTemporaries) {
  const std::string dir = test::temp_dir("kills");
  test::write_dataset(dir + "/data", "train", 64, 16, 16, 1);
  test::write_dataset(dir + "/data", "test", 2, 16, 16, 2);
  const plan::Plan plan = test::compile(test::kTinyModel, 2);
  plan::write_plan_file(plan, dir + "/plan.bin");
  const std::string ck = dir + "/ck";
  // --save_secs at its floor: a checkpoint every few steps, so kills land in and around writes.
  const std::string base = std::string(UNETRUN_PATH) + " " + dir + "/plan.bin --num_threads 1 --channels flair,t1ce "
                           "--data " + dir + "/data --batch_size 2 --save_secs 0.01 --checkpoint_dir " + ck +
                           " --log " + dir + "/training.log > " + dir + "/out.txt 2>&1";
  runtime::EngineOptions eo;
  eo.threads.num_threads = 1;
  runtime::Engine engine(plan, eo);
  std::mt19937 rng(11);
  uint64_t last_step = 0;
  int loaded = 0;
  // Under ASan (scripts/test.sh --sanitize) a run starts and steps several times slower: the
  // kills come later in proportion, so they still land among its checkpoints.
  const useconds_t slower = std::getenv("UNET_SANITIZED") ? 8 : 1;
  for (int kill_no = 0; kill_no < 20; ++kill_no) {
    const bool first = !fs::exists(ck + "/latest.npz");
    const pid_t pid = start(base + " --epochs 100000" + (first ? "" : " --resume"));
    usleep((60'000 + rng() % 200'000) * slower);
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "run " << kill_no << " ended by itself, status " << status;
    if (!fs::exists(ck + "/latest.npz")) continue;  // killed before its first checkpoint
    const uint64_t step = runtime::load_checkpoint(ck + "/latest.npz", plan, engine.arena(),
                                                   runtime::CheckpointUse::resume);
    EXPECT_GE(step, last_step) << "kill " << kill_no << ": the checkpoint went back";
    last_step = step;
    ++loaded;
    EXPECT_LE(count_files(ck).models, runtime::kDefaultKeepCheckpoints) << "kill " << kill_no;
  }
  EXPECT_GE(loaded, 15) << "too few runs reached a checkpoint to test anything";
  EXPECT_GT(last_step, 0u);
  // One more start that runs to its end: its saves sweep what the killed writers left.
  const pid_t pid = start(base + " --resume --epochs 100000 --max_steps " + std::to_string(last_step + 4));
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  const Files f = count_files(ck);
  EXPECT_EQ(f.temporaries, 0u);
  EXPECT_LE(f.models, runtime::kDefaultKeepCheckpoints);
  EXPECT_EQ(runtime::load_checkpoint(ck + "/latest.npz", plan, engine.arena(), runtime::CheckpointUse::resume),
            last_step + 4);
}

// A checkpoint folder on a 400 KB tmpfs (two checkpoints of the tiny model fit, a third does
// not): the run stops with one line naming the file and the cause, the previous checkpoint
// still loads, and no temporary is left. Mounting needs root, which the test suite runs as.
TEST(CrashSafety, FullDiskStopsWithTheLastCheckpointIntact) {
  const std::string dir = test::temp_dir("full_disk");
  test::write_dataset(dir + "/data", "train", 16, 16, 16, 1);
  test::write_dataset(dir + "/data", "test", 2, 16, 16, 2);
  const plan::Plan plan = test::compile(test::kTinyModel, 2);
  plan::write_plan_file(plan, dir + "/plan.bin");
  const std::string ck = dir + "/small_disk";
  fs::create_directories(ck);
  ASSERT_EQ(0, std::system(("mount -t tmpfs -o size=400k tmpfs " + ck).c_str()))
      << "cannot mount a tmpfs at " << ck << " (the suite runs as root on CI)";
  const std::string out = dir + "/out.txt";
  const int status = std::system((std::string(UNETRUN_PATH) + " " + dir + "/plan.bin --num_threads 1 --channels "
                                  "flair,t1ce --data " + dir + "/data --batch_size 2 --epochs 50 --save_secs 0 "
                                  "--keep_checkpoints 0 --checkpoint_dir " + ck + " --log " + dir +
                                  "/training.log > " + out + " 2>&1").c_str());
  std::string text;
  {
    std::FILE* f = std::fopen(out.c_str(), "r");
    char buf[4096];
    size_t n;
    while (f && (n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
    if (f) std::fclose(f);
  }
  const std::string last_line = text.substr(text.rfind('\n', text.size() - 2) + 1);
  EXPECT_NE(status, 0) << text;
  EXPECT_NE(last_line.find("No space left on device"), std::string::npos) << last_line;
  EXPECT_NE(last_line.find(".npz"), std::string::npos) << last_line;
  const Files f = count_files(ck);
  EXPECT_EQ(f.temporaries, 0u);
  EXPECT_GE(f.models, 1u);
  runtime::EngineOptions eo;
  eo.threads.num_threads = 1;
  runtime::Engine engine(plan, eo);
  uint64_t step = 0;
  EXPECT_NO_THROW(step = runtime::load_checkpoint(ck + "/latest.npz", plan, engine.arena(),
                                                  runtime::CheckpointUse::resume));
  EXPECT_GT(step, 0u);
  EXPECT_EQ(0, std::system(("umount " + ck).c_str()));
}

// Two signals at once (SIGINT and SIGTERM, both pending while the process is stopped, are
// delivered back to back): the first asks for a clean stop, the second exits at once with
// 128 + its number, writing no final checkpoint.
TEST(CrashSafety, SecondSignalExitsAtOnce) {
  const std::string dir = test::temp_dir("two_signals");
  test::write_dataset(dir + "/data", "train", 64, 16, 16, 1);
  test::write_dataset(dir + "/data", "test", 2, 16, 16, 2);
  plan::write_plan_file(test::compile(test::kTinyModel, 2), dir + "/plan.bin");
  const std::string out = dir + "/out.txt";
  const pid_t pid = start(std::string(UNETRUN_PATH) + " " + dir + "/plan.bin --num_threads 1 --channels flair,t1ce "
                          "--data " + dir + "/data --batch_size 2 --epochs 100000 --save_secs 100000 "
                          "--checkpoint_dir " + dir + "/ck --log " + dir + "/training.log > " + out + " 2>&1");
  auto text = [&] {
    std::string t;
    if (std::FILE* f = std::fopen(out.c_str(), "r")) {
      char buf[4096];
      size_t n;
      while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) t.append(buf, n);
      std::fclose(f);
    }
    return t;
  };
  for (int i = 0; i < 20000 && text().find("Global Step: 3,") == std::string::npos; ++i) usleep(1000);
  kill(pid, SIGSTOP);
  kill(pid, SIGINT);
  kill(pid, SIGTERM);
  kill(pid, SIGCONT);
  int status = 0;
  waitpid(pid, &status, 0);
  const std::string t = text();
  ASSERT_TRUE(WIFEXITED(status)) << t;
  // The kernel picks which of the two pending signals runs the handler first.
  EXPECT_TRUE(WEXITSTATUS(status) == 128 + SIGTERM || WEXITSTATUS(status) == 128 + SIGINT) << WEXITSTATUS(status);
  EXPECT_NE(t.find("second signal, exiting at once"), std::string::npos) << t;
  EXPECT_EQ(t.find("Saved checkpoint"), std::string::npos) << t;
}

}  // namespace
}  // namespace unet
