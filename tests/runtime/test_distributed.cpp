// Distributed training on loopback, with real processes: parameter servers and workers started
// by the test (ports picked free), their final checkpoints against one standalone process on
// the same global batch from the same initial weights and data.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "net/connection.h"
#include "plan/plan_io.h"
#include "runtime/arena.h"
#include "runtime/checkpoint.h"
#include "runtime_fixtures.h"

namespace unet::runtime {
namespace {

using namespace std::chrono_literals;

struct Process {
  pid_t pid = -1;
  std::string log;
};

// Starts `command` (its output to `log`); `exec` makes the shell become unetrun, so a signal
// sent to pid reaches it.
Process spawn(const std::string& command, const std::string& log) {
  const std::string line = "exec " + command + " > '" + log + "' 2>&1";
  const pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", line.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  return {pid, log};
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The exit status, or -SIGNAL; a process still running after `limit` is killed and fails the test.
int wait_exit(Process& p, std::chrono::seconds limit = 120s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  int status = 0;
  for (;;) {
    const pid_t r = waitpid(p.pid, &status, WNOHANG);
    if (r == p.pid) break;
    if (std::chrono::steady_clock::now() > deadline) {
      kill(p.pid, SIGKILL);
      waitpid(p.pid, &status, 0);
      ADD_FAILURE() << "still running after " << limit.count() << " s: " << read_text(p.log);
      return -SIGKILL;
    }
    std::this_thread::sleep_for(5ms);
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

uint16_t free_port() {
  net::Listener l({"127.0.0.1", 0});
  return l.port();
}

std::string host_list(size_t n) {
  std::string s;
  for (size_t k = 0; k < n; ++k) s += fmt::format("{}127.0.0.1:{}", k ? "," : "", free_port());
  return s;
}

class Distributed : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::temp_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    test::write_dataset(dir_ + "/data", "train", 12, 16, 16, 5);
    test::write_dataset(dir_ + "/data", "test", 2, 16, 16, 6);
    plan_ = test::compile(test::kTinyModel, 2);
    plan::write_plan_file(plan_, dir_ + "/plan.bin");
  }

  // Flags every process of a run shares (standalone too).
  std::string common(int64_t batch, int max_steps) const {
    return fmt::format("'{}' {}/plan.bin --num_threads 1 --no_pin --channels flair,t1ce --data {}/data "
                       "--batch_size {} --epochs 20 --max_steps {} --learningrate 0.002 --decay_steps 3 "
                       "--save_secs 1000000",
                       UNETRUN_PATH, dir_, dir_, batch, max_steps);
  }

  // The standalone run's checkpoint at its end.
  std::string standalone(int64_t batch, int max_steps, const std::string& extra = "") {
    Process p = spawn(common(batch, max_steps) + " --checkpoint_dir " + dir_ + "/standalone --log " + dir_ +
                          "/standalone.log " + extra,
                      dir_ + "/standalone.out");
    EXPECT_EQ(wait_exit(p), 0) << read_text(p.log);
    return dir_ + "/standalone/latest.npz";
  }

  struct Cluster {
    std::vector<Process> ps, workers;
  };
  Cluster start_cluster(size_t ps_tasks, size_t workers, int64_t batch, int max_steps, const std::string& extra,
                        const std::string& name = "cluster") {
    const std::string hosts =
        fmt::format("--ps_hosts {} --worker_hosts {}", host_list(ps_tasks), host_list(workers));
    const std::string base = common(batch, max_steps) + " " + hosts + " --checkpoint_dir " + dir_ + "/" + name +
                             " --peer_timeout 3 " + extra;
    Cluster c;
    for (size_t j = 0; j < ps_tasks; ++j)
      c.ps.push_back(spawn(fmt::format("{} --ps --task_index {}", base, j), fmt::format("{}/{}.ps{}.out", dir_, name, j)));
    for (size_t k = 0; k < workers; ++k)
      c.workers.push_back(spawn(fmt::format("{} --worker --task_index {} --log {}/{}.w{}.log", base, k, dir_, name, k),
                                fmt::format("{}/{}.w{}.out", dir_, name, k)));
    return c;
  }
  void expect_all_exit(Cluster& c, int code) {
    for (auto& p : c.workers) EXPECT_EQ(wait_exit(p), code) << read_text(p.log);
    for (auto& p : c.ps) EXPECT_EQ(wait_exit(p), code) << read_text(p.log);
  }

  // Every parameter and both Adam moments of two checkpoints, compared bit for bit.
  void expect_same_state(const std::string& a, const std::string& b) {
    Arena x(plan_.arena_bytes, -1), y(plan_.arena_bytes, -1);
    const uint64_t sa = load_checkpoint(a, plan_, x.data(), CheckpointUse::resume);
    const uint64_t sb = load_checkpoint(b, plan_, y.data(), CheckpointUse::resume);
    EXPECT_EQ(sa, sb);
    for (const plan::Param& p : plan_.params)
      for (int32_t id : {p.value, p.adam_m, p.adam_v}) {
        const plan::Tensor& t = plan_.tensors[id];
        EXPECT_EQ(std::memcmp(x.data() + t.offset, y.data() + t.offset, t.bytes), 0) << t.name << " differs";
      }
  }

  std::string dir_;
  plan::Plan plan_;
};

// Batch 4 is two micro-batches of 2: standalone sums them in order; two workers with one
// micro-batch each, summed by the PS in worker order, must give the same bits.
TEST_F(Distributed, OnePsTwoWorkersEqualStandaloneToTheBit) {
  const std::string reference = standalone(4, 10);
  Cluster c = start_cluster(1, 2, 4, 10, "");
  expect_all_exit(c, 0);
  expect_same_state(dir_ + "/cluster/latest.npz", reference);
  EXPECT_NE(read_text(dir_ + "/cluster.w0.log").find("Test Dice Coef"), std::string::npos);
  EXPECT_NE(read_text(dir_ + "/cluster.w1.log").find("Global Step: 10"), std::string::npos);
}

}  // namespace
}  // namespace unet::runtime
