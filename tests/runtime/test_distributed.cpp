// Distributed training on loopback, with real processes: parameter servers and workers started
// by the test (ports picked free), their final checkpoints against one standalone process on
// the same global batch from the same initial weights and data.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/stat.h>
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
#include "kernels/isa_tier.h"
#include "runtime/arena.h"
#include "runtime/checkpoint.h"
#include "runtime/dataset.h"
#include "runtime/engine.h"
#include "runtime/param_init.h"
#include "runtime/train_step.h"
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
    plan_ = test::compile(test::kTinyModel, 2, true, tier());
    plan::write_plan_file(plan_, dir_ + "/plan.bin");
  }

  // Flags every process of a run shares (standalone too).
  std::string common(int64_t batch, int max_steps) const {
    return fmt::format("'{}' {}/plan.bin {}", UNETRUN_PATH, dir_, training_flags(batch, max_steps));
  }
  std::string training_flags(int64_t batch, int max_steps) const {
    return fmt::format("--num_threads 1 --no_pin --channels flair,t1ce --data {}/data --batch_size {} --epochs 20 "
                       "--max_steps {} --learningrate 0.002 --decay_steps 10 --save_secs 1000000",
                       dir_, batch, max_steps);
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
                        const std::string& name = "cluster", const std::string& checkpoints = "cluster",
                        int peer_timeout = 3) {
    const std::string hosts =
        fmt::format("--ps_hosts {} --worker_hosts {}", host_list(ps_tasks), host_list(workers));
    const std::string base = common(batch, max_steps) + " " + hosts + " --checkpoint_dir " + dir_ + "/" +
                             checkpoints + " --peer_timeout " + std::to_string(peer_timeout) + " " + extra;
    Cluster c;
    for (size_t j = 0; j < ps_tasks; ++j)
      c.ps.push_back(spawn(fmt::format("{} --ps --task_index {}", base, j), fmt::format("{}/{}.ps{}.out", dir_, name, j)));
    for (size_t k = 0; k < workers; ++k)
      c.workers.push_back(spawn(fmt::format("{} --worker --task_index {} --log {}/{}.log", base, k, dir_, name),
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

  virtual kernels::Tier tier() const { return kernels::Tier::scalar; }

  std::string dir_;
  plan::Plan plan_;
};

// The same on the AVX-512 kernels where the host has them (the PS runs the plan's Adam kernel
// a parameter at a time, the standalone process once over the region).
class DistributedBestTier : public Distributed {
  kernels::Tier tier() const override {
    return kernels::missing_features(kernels::Tier::avx512).empty() ? kernels::Tier::avx512 : kernels::Tier::scalar;
  }
};

// Batch 4 is two micro-batches of 2: standalone sums them in order; two workers with one
// micro-batch each, summed by the PS in worker order, must give the same bits.
TEST_F(Distributed, OnePsTwoWorkersEqualStandaloneToTheBit) {
  const std::string reference = standalone(4, 10);
  Cluster c = start_cluster(1, 2, 4, 10, "--profile");
  expect_all_exit(c, 0);
  expect_same_state(dir_ + "/cluster/latest.npz", reference);
  // --profile: a line a step with the time blocked and the bytes. Each step sends every
  // weight's gradient and receives its next value (which may land in the next step's
  // accounting, and the last step's in the final sync): over the 10 steps, at least 9 times
  // the parameters' bytes each way.
  const std::string chief = read_text(dir_ + "/cluster.log");
  double sent = 0, received = 0;
  int lines = 0;
  for (size_t at = chief.find("Step "); at != std::string::npos; at = chief.find("Step ", at + 1)) {
    int step;
    double total, compute, blocked, sent_mb, received_mb;
    if (std::sscanf(chief.c_str() + at, "Step %d: %lf s, compute %lf s, blocked on the network %lf s, sent %lf MB, "
                                        "received %lf MB",
                    &step, &total, &compute, &blocked, &sent_mb, &received_mb) != 6)
      continue;
    ++lines;
    EXPECT_GE(blocked, 0);
    EXPECT_LE(blocked, total + 1e-3);
    sent += sent_mb * 1e6;
    received += received_mb * 1e6;
  }
  EXPECT_EQ(lines, 10) << chief;
  const double params = static_cast<double>(plan_.params_region.bytes);
  EXPECT_GE(sent, 9 * params * 0.9);  // (each line rounds to 10 kB)
  EXPECT_GE(received, 9 * params * 0.9);
  EXPECT_NE(read_text(dir_ + "/cluster.log").find("Test Dice Coef"), std::string::npos);
  EXPECT_NE(read_text(dir_ + "/cluster.1.log").find("Global Step: 10"), std::string::npos);
}

TEST_F(DistributedBestTier, OnePsTwoWorkersEqualStandaloneToTheBit) {
  const std::string reference = standalone(4, 10);
  Cluster c = start_cluster(1, 2, 4, 10, "");
  expect_all_exit(c, 0);
  expect_same_state(dir_ + "/cluster/latest.npz", reference);
}

// Three workers (one micro-batch each) over two PS shards against one process summing three
// micro-batches: the shards split the parameters, each sums in worker order.
TEST_F(Distributed, TwoPsThreeWorkersEqualStandaloneToTheBit) {
  const std::string reference = standalone(6, 10);
  Cluster c = start_cluster(2, 3, 6, 10, "");
  expect_all_exit(c, 0);
  expect_same_state(dir_ + "/cluster/latest.npz", reference);
}

// The steps of --loss_scope worker by its definition, in one process: each worker's share
// gets the gradient of its own -log Dice, the gradients are summed in worker order and Adam
// takes their mean (grad_scale 1/N).
class OwnDiceOnly final : public StepExchange {
 public:
  DiceSums dice_sums(uint64_t, std::span<const float> partials) override {
    DiceSums s;
    s.add_partials(partials.data(), partials.size() / 3);
    return s;
  }
  void update(uint64_t, double) override {}
};

TEST_F(Distributed, WorkerLossScopeAveragesEachWorkersOwnDiceGradient) {
  const int steps = 5, workers = 2, share = 2, batch = workers * share;
  Cluster c = start_cluster(1, workers, batch, steps, "--loss_scope worker --no_shuffle");
  expect_all_exit(c, 0);

  EngineOptions eo;
  eo.threads.num_threads = 1;
  eo.threads.pin = false;
  Engine e(plan_, eo);
  initialise_params(plan_, e.arena());
  OwnDiceOnly own;
  StepRunner runner(e, own, 1);
  DataSelection sel;
  sel.channels = {2, 3};
  Dataset train(dir_ + "/data", "train", sel, plan_);
  LearningRate lr;
  lr.initial = 0.002f;
  lr.decay_steps = 10;
  lr.fraction = plan_.optimizer.lr_fraction;
  float* grads = reinterpret_cast<float*>(e.arena() + plan_.grads_region.offset);
  std::vector<float> sum(plan_.grads_region.bytes / sizeof(float));
  const size_t steps_per_epoch = train.size() / batch;
  for (int s = 0; s < steps; ++s) {
    for (int k = 0; k < workers; ++k) {
      std::vector<size_t> idx(share);
      for (int i = 0; i < share; ++i) idx[i] = (s % steps_per_epoch) * batch + k * share + i;
      StepShare sh;
      sh.step = s;
      sh.image_base = k * share;
      runner.run(sh, lr, [&](size_t) { train.load(idx.data(), share, e.view(plan_.input), e.view(plan_.target)); });
      for (size_t j = 0; j < sum.size(); ++j) sum[j] = k == 0 ? grads[j] : sum[j] + grads[j];
    }
    std::memcpy(grads, sum.data(), plan_.grads_region.bytes);
    e.executor().run(OpList::update, adam_scalars(plan_.optimizer, s, lr.at(s), 1.f / workers));
  }
  const std::string reference = save_checkpoint(dir_ + "/reference", plan_, e.arena(), steps);
  expect_same_state(dir_ + "/cluster/latest.npz", reference);
}

// Polls `path` until it contains `needle` (a run's progress), up to `limit`.
bool wait_for_text(const std::string& path, const std::string& needle, std::chrono::seconds limit = 60s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (read_text(path).find(needle) != std::string::npos) return true;
    std::this_thread::sleep_for(2ms);
  }
  return false;
}

// SIGKILL on a worker mid-run: the PS names it, writes the checkpoint of the last completed
// step, everyone exits non-zero; restarting everyone with --resume ends where an
// uninterrupted run ends, to the bit.
TEST_F(Distributed, KilledWorkerStopsTheRunAndResumeFinishesItExactly) {
  const int steps = 60;  // 20 epochs of 3 steps
  const std::string reference = standalone(4, steps);
  Cluster c = start_cluster(1, 2, 4, steps, "");
  ASSERT_TRUE(wait_for_text(dir_ + "/cluster.1.log", "Global Step: 20")) << read_text(dir_ + "/cluster.1.log");
  kill(c.workers[1].pid, SIGKILL);
  EXPECT_EQ(wait_exit(c.workers[1]), -SIGKILL);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(wait_exit(c.ps[0]), 1);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 4s);  // within --peer_timeout 3
  EXPECT_EQ(wait_exit(c.workers[0]), 1);
  const std::string ps_out = read_text(c.ps[0].log), chief_out = read_text(c.workers[0].log);
  EXPECT_NE(ps_out.find("worker 1"), std::string::npos) << ps_out;
  EXPECT_NE(ps_out.find("checkpoint of step"), std::string::npos) << ps_out;
  EXPECT_NE(chief_out.find("worker 1"), std::string::npos) << chief_out;
  ASSERT_TRUE(std::filesystem::exists(dir_ + "/cluster/latest.npz"));
  Arena a(plan_.arena_bytes, -1);
  const uint64_t stopped_at = load_checkpoint(dir_ + "/cluster/latest.npz", plan_, a.data(), CheckpointUse::resume);
  EXPECT_GE(stopped_at, 19u);
  EXPECT_LT(stopped_at, static_cast<uint64_t>(steps));

  Cluster again = start_cluster(1, 2, 4, steps, "--resume", "resumed", "cluster");
  expect_all_exit(again, 0);
  expect_same_state(dir_ + "/cluster/latest.npz", reference);
}

// A lost parameter server: every worker stops with one line naming it.
TEST_F(Distributed, LostParameterServerStopsEveryWorkerNamingIt) {
  Cluster c = start_cluster(2, 2, 4, 60, "");
  ASSERT_TRUE(wait_for_text(dir_ + "/cluster.log", "Global Step: 5")) << read_text(dir_ + "/cluster.log");
  kill(c.ps[1].pid, SIGKILL);
  EXPECT_EQ(wait_exit(c.ps[1]), -SIGKILL);
  for (auto& w : c.workers) {
    EXPECT_EQ(wait_exit(w), 1);
    const std::string out = read_text(w.log);
    const std::string last = out.substr(out.rfind('\n', out.size() - 2) + 1);
    EXPECT_NE(last.find("lost parameter server 1"), std::string::npos) << out;  // the cause, whoever tells it
  }
  EXPECT_EQ(wait_exit(c.ps[0]), 1);  // the workers it served vanished mid-run
}

// A worker that hangs (SIGSTOP) with two PS shards: each PS notices the silence within
// --peer_timeout and aborts; the chief gathers both shards' state at the last completed step
// and writes the checkpoint; --resume finishes the run exactly.
TEST_F(Distributed, HungWorkerIsCaughtByTheTimeoutAndTheChiefCheckpointsEveryShard) {
  const int steps = 60;
  const std::string reference = standalone(6, steps / 2);  // 12 images: 2 steps an epoch
  Cluster c = start_cluster(2, 3, 6, steps / 2, "", "cluster", "cluster", 1);
  ASSERT_TRUE(wait_for_text(dir_ + "/cluster.2.log", "Global Step: 6")) << read_text(dir_ + "/cluster.2.log");
  kill(c.workers[2].pid, SIGSTOP);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(wait_exit(c.workers[0]), 1);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  EXPECT_EQ(wait_exit(c.workers[1]), 1);
  EXPECT_EQ(wait_exit(c.ps[0]), 1);
  EXPECT_EQ(wait_exit(c.ps[1]), 1);
  kill(c.workers[2].pid, SIGKILL);
  wait_exit(c.workers[2]);
  const std::string chief_out = read_text(c.workers[0].log);
  EXPECT_NE(chief_out.find("worker 2"), std::string::npos) << chief_out;
  EXPECT_NE(chief_out.find("sent nothing"), std::string::npos) << chief_out;
  EXPECT_NE(chief_out.find("checkpoint of step"), std::string::npos) << chief_out;
  Arena a(plan_.arena_bytes, -1);
  const uint64_t stopped_at = load_checkpoint(dir_ + "/cluster/latest.npz", plan_, a.data(), CheckpointUse::resume);
  EXPECT_GE(stopped_at, 5u);
  EXPECT_LT(stopped_at, static_cast<uint64_t>(steps / 2));

  Cluster again = start_cluster(2, 3, 6, steps / 2, "--resume", "resumed", "cluster", 1);
  expect_all_exit(again, 0);
  expect_same_state(dir_ + "/cluster/latest.npz", reference);
}

// Every process whose command line mentions `needle` (the test's folder).
std::vector<pid_t> processes_mentioning(const std::string& needle) {
  std::vector<pid_t> found;
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmdline = read_text(e.path().string() + "/cmdline");
    if (cmdline.find(needle) != std::string::npos && std::stoi(name) != getpid()) found.push_back(std::stoi(name));
  }
  return found;
}

// unetlaunch --local --workers 2 is the hand-started cluster: the same final state as one
// standalone process (which OnePsTwoWorkers... shows equal to hand-started processes).
TEST_F(Distributed, LocalLauncherTrainsLikeTheHandStartedCluster) {
  const std::string reference = standalone(4, 10);
  Process p = spawn(fmt::format("'{}' --local --workers 2 --run_dir {}/launch {}/plan.bin {} --checkpoint_dir "
                                "{}/launched --log {}/launched.log",
                                UNETLAUNCH_PATH, dir_, dir_, training_flags(4, 10), dir_, dir_),
                    dir_ + "/launch.out");
  EXPECT_EQ(wait_exit(p), 0) << read_text(p.log);
  expect_same_state(dir_ + "/launched/latest.npz", reference);
  const std::string out = read_text(p.log);
  EXPECT_NE(out.find("worker 1 on CPUs"), std::string::npos) << out;
  EXPECT_NE(out.find("Test Dice Coef"), std::string::npos) << out;  // the chief's lines come through
  EXPECT_NE(read_text(dir_ + "/launch/ps.0.out").find("every worker is done"), std::string::npos);
  struct stat st;
  ASSERT_EQ(stat((dir_ + "/launch/cluster.token").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

// A child killed mid-run: unetlaunch names it, exits non-zero, and leaves no process behind.
TEST_F(Distributed, LocalLauncherNamesAKilledChildAndLeavesNoOrphans) {
  Process p = spawn(fmt::format("'{}' --local --workers 2 --run_dir {}/launch {}/plan.bin {} --checkpoint_dir "
                                "{}/launched --log {}/launched.log",
                                UNETLAUNCH_PATH, dir_, dir_, training_flags(4, 60), dir_, dir_),
                    dir_ + "/launch.out");
  ASSERT_TRUE(wait_for_text(dir_ + "/launched.log", "Global Step: 5")) << read_text(p.log);
  pid_t victim = -1;
  for (pid_t pid : processes_mentioning(dir_ + "/plan.bin"))
    if (read_text(fmt::format("/proc/{}/cmdline", pid)).find(std::string("--worker") + '\0' + "--task_index" + '\0' + "1" + '\0') !=
        std::string::npos)
      victim = pid;
  ASSERT_GT(victim, 0);
  kill(victim, SIGKILL);
  EXPECT_EQ(wait_exit(p), 1);
  const std::string out = read_text(p.log);
  EXPECT_NE(out.find(fmt::format("worker 1 (pid {}) was killed by signal 9", victim)), std::string::npos) << out;
  EXPECT_TRUE(processes_mentioning(dir_ + "/plan.bin").empty());
}

// Ctrl-C at unetlaunch: the chief finishes its step and writes the final checkpoint, the others
// are told the run ended, unetlaunch exits 130 as Ctrl-C's convention is; --resume ends where an uninterrupted
// run ends.
TEST_F(Distributed, InterruptedLauncherCheckpointsAndResumesExactly) {
  const int steps = 60;
  const std::string reference = standalone(4, steps);
  auto launch = [&](const std::string& extra, const std::string& name) {
    return spawn(fmt::format("'{}' --local --workers 2 --run_dir {}/{} {}/plan.bin {} --checkpoint_dir "
                             "{}/launched --log {}/{}.log {}",
                             UNETLAUNCH_PATH, dir_, name, dir_, training_flags(4, steps), dir_, dir_, name, extra),
                 dir_ + "/" + name + ".out");
  };
  Process p = launch("", "launch");
  ASSERT_TRUE(wait_for_text(dir_ + "/launch.log", "Global Step: 5")) << read_text(p.log);
  kill(p.pid, SIGINT);
  EXPECT_EQ(wait_exit(p), 128 + SIGINT) << read_text(p.log);
  const std::string out = read_text(p.log);
  EXPECT_NE(out.find("Stopping after global step"), std::string::npos) << out;
  EXPECT_EQ(out.find("Test Dice Coef"), std::string::npos) << out;
  EXPECT_NE(read_text(dir_ + "/launch/worker.1.out").find("the chief ended the run"), std::string::npos);
  Arena a(plan_.arena_bytes, -1);
  const uint64_t stopped_at = load_checkpoint(dir_ + "/launched/latest.npz", plan_, a.data(), CheckpointUse::resume);
  EXPECT_GE(stopped_at, 5u);
  EXPECT_LT(stopped_at, static_cast<uint64_t>(steps));
  EXPECT_TRUE(processes_mentioning(dir_ + "/plan.bin").empty());

  Process again = launch("--resume", "resumed");
  EXPECT_EQ(wait_exit(again), 0) << read_text(again.log);
  expect_same_state(dir_ + "/launched/latest.npz", reference);
}

// unetrun --cluster FILE, the role from the launcher's rank (PMI_RANK here, as mpirun sets
// it): rank 0 the PS, ranks 1 and 2 the workers; hosts, data and checkpoints from the file.
TEST_F(Distributed, ClusterFileAndRankFromTheEnvironmentTrainLikeTheFlags) {
  const std::string reference = standalone(4, 10);
  {
    std::ofstream f(dir_ + "/cluster.toml");
    f << fmt::format("data = \"data\"\ncheckpoint_dir = \"from_file\"\npeer_timeout = 5\n"
                     "[[ps]]\nhost = \"127.0.0.1\"\nport = {}\n"
                     "[[worker]]\nhost = \"127.0.0.1\"\nport = {}\n"
                     "[[worker]]\nhost = \"127.0.0.1\"\nport = {}\n",
                     free_port(), free_port(), free_port());
  }
  const std::string flags = "--num_threads 1 --no_pin --channels flair,t1ce --batch_size 4 --epochs 20 --max_steps 10 "
                            "--learningrate 0.002 --decay_steps 10 --save_secs 1000000";
  std::vector<Process> ranks;
  for (int r = 0; r < 3; ++r)
    ranks.push_back(spawn(fmt::format("env PMI_RANK={} PMI_SIZE=3 '{}' {}/plan.bin --cluster {}/cluster.toml {} "
                                      "--log {}/ranked.log",
                                      r, UNETRUN_PATH, dir_, dir_, flags, dir_),
                          fmt::format("{}/rank{}.out", dir_, r)));
  for (auto& p : ranks) EXPECT_EQ(wait_exit(p), 0) << read_text(p.log);
  expect_same_state(dir_ + "/from_file/latest.npz", reference);
  EXPECT_NE(read_text(dir_ + "/rank1.out").find("PMI_RANK=1"), std::string::npos) << read_text(dir_ + "/rank1.out");
}

}  // namespace
}  // namespace unet::runtime
