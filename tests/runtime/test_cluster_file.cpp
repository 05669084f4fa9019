// The cluster file and the role a launcher's environment gives: the parser's good files and its
// messages for bad ones, each rank convention (set here through an injected getenv), and the
// expansion of Slurm's compressed node lists.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "runtime/cluster_file.h"
#include "runtime/runtime_error.h"

namespace unet::runtime {
namespace {

namespace fs = std::filesystem;

class ClusterFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           fmt_name(::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  static std::string fmt_name(const std::string& test) {
    std::string s = "unet_cluster_file_" + std::to_string(::getpid()) + "_" + test;
    for (char& c : s)
      if (c == '/') c = '_';
    return s;
  }

  std::string write(const std::string& text, const std::string& name = "cluster.toml") {
    const std::string path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }

  // The message read_cluster_file gives for `text`, without the "<path>" in front.
  std::string error_of(const std::string& text) {
    const std::string path = write(text);
    try {
      read_cluster_file(path);
    } catch (const RuntimeError& e) {
      const std::string what = e.what();
      if (what.rfind(path, 0) != 0) return "message does not start with the path: " + what;
      return what.substr(path.size());
    }
    return "no error";
  }

  fs::path dir_;
};

using Env = std::map<std::string, std::string>;
GetEnv fake(const Env& env) {
  return [env](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  };
}

constexpr const char* kOnePsFourWorkers = R"(
[[ps]]
host = "h0"
port = 2222
[[worker]]
host = "h1"
port = 2223
[[worker]]
host = "h2"
port = 2223
[[worker]]
host = "h3"
port = 2223
[[worker]]
host = "h4"
port = 2223
)";

TEST_F(ClusterFileTest, ReadsEveryKey) {
  const std::string path = write(R"(# the original's shape: a PS and a worker, both on NUMA node 1
token_file = "/home/me/.unet_token"
data = "slices"                # relative: from this file's folder
checkpoint_dir = "/scratch/ckpt"
peer_timeout = 2.5
loss_scope = "worker"

[[ps]]
host = "h0"
port = 2222
numa_node = 1

[[worker]]
host = "h1"
port = 2223
threads = 62
numa_node = 1

[[worker]]
host = "[::1]"
port = 2224
)");
  const ClusterFile f = read_cluster_file(path);
  EXPECT_EQ(f.path, path);
  EXPECT_EQ(f.token_file, "/home/me/.unet_token");
  EXPECT_EQ(f.data_dir, (dir_ / "slices").string());
  EXPECT_EQ(f.checkpoint_dir, "/scratch/ckpt");
  EXPECT_DOUBLE_EQ(f.peer_timeout, 2.5);
  EXPECT_EQ(f.loss_scope, "worker");
  EXPECT_FALSE(f.slurm);
  ASSERT_EQ(f.ps.size(), 1u);
  EXPECT_EQ(f.ps[0].endpoint.str(), "h0:2222");
  EXPECT_EQ(f.ps[0].numa_node, 1);
  EXPECT_EQ(f.ps[0].threads, 0);
  EXPECT_EQ(f.ps[0].line, 8);
  ASSERT_EQ(f.workers.size(), 2u);
  EXPECT_EQ(f.workers[0].endpoint.str(), "h1:2223");
  EXPECT_EQ(f.workers[0].threads, 62);
  EXPECT_EQ(f.workers[0].numa_node, 1);
  EXPECT_EQ(f.workers[1].endpoint.host, "::1");
  EXPECT_EQ(f.workers[1].endpoint.str(), "[::1]:2224");
  EXPECT_EQ(f.workers[1].numa_node, -1);
  EXPECT_EQ(f.ps_ranks, 1u);
  EXPECT_EQ(f.ranks(), 3u);
  EXPECT_EQ(endpoints(f.workers).at(0).str(), "h1:2223");
}

TEST_F(ClusterFileTest, LeavesOutWhatIsNotGiven) {
  const ClusterFile f = read_cluster_file(write(R"(
ps = [{ host = "127.0.0.1", port = 2222 }, { host = "127.0.0.1", port = 2224 }]
worker = [{ host = "127.0.0.1", port = 2223 }]
ps_ranks = 0   # the parameter servers are started by hand
)"));
  EXPECT_EQ(f.token_file, "");
  EXPECT_EQ(f.data_dir, "");
  EXPECT_EQ(f.checkpoint_dir, "");
  EXPECT_EQ(f.peer_timeout, -1);
  EXPECT_EQ(f.loss_scope, "");
  EXPECT_EQ(f.ps.size(), 2u);
  EXPECT_EQ(f.ps_ranks, 0u);
  EXPECT_EQ(f.ranks(), 1u);
}

// Each mistake, and the one line that names it (after the file's path).
TEST_F(ClusterFileTest, RefusesMistakesNamingTheLine) {
  const std::string ps = "[[ps]]\nhost = \"h0\"\nport = 2222\n";
  const std::string worker = "[[worker]]\nhost = \"h1\"\nport = 2223\n";
  const struct {
    std::string text, message;
  } cases[] = {
      {ps + "[[worker]]\nhost = \"h1\"\nport = 2223\nthread = 4\n",
       ":7: unknown key 'thread' in [[worker]] (known: host, port, numa_node, threads)"},
      {ps + "[[workers]]\nhost = \"h1\"\nport = 2223\n",
       ":4: unknown key 'workers' (known: token_file, data, checkpoint_dir, peer_timeout, loss_scope, ps_ranks, ps, "
       "worker, slurm)"},
      {ps + "[[worker]]\nhost = \"h1\"\nport = \"2223\"\n", ":6: port must be an integer, not a string"},
      {ps + "[[worker]]\nhost = \"h1\"\nport = 70000\n", ":6: port 70000 out of range (1..65535)"},
      {ps + "[[worker]]\nhost = \"h1\"\nport = 0\n", ":6: port 0 out of range (1..65535)"},
      {ps + worker + "numa_node = -1\n", ":7: numa_node -1 is negative (leave it out for memory anywhere)"},
      {ps + worker + "threads = 0\n", ":7: threads 0 out of range (1..65536)"},
      {ps + worker + "numa_node = 1.5\n", ":7: numa_node must be an integer, not a floating-point number"},
      {ps, ": no workers: add a [[worker]] section"},
      {"worker = []\n" + ps, ":1: worker is an empty list"},
      {worker, ": no parameter servers: add a [[ps]] section"},
      {"data = \"x\"\n",
       ": no hosts: add [[ps]] and [[worker]] sections, or a [slurm] table to take them from the Slurm job"},
      {"[ps]\nhost = \"h0\"\nport = 2222\n" + worker, ":1: ps must be a list of [[ps]] sections, not a table"},
      {"ps = \"h0:2222\"\n" + worker, ":1: ps must be a list of [[ps]] sections, not a string"},
      {ps + "[[worker]]\nport = 2223\n", ":4: [[worker]] has no host"},
      {ps + "[[worker]]\nhost = \"h1\"\n", ":4: [[worker]] has no port"},
      {ps + "[[worker]]\nhost = \"h1:2223\"\nport = 2223\n",
       ":5: host 'h1:2223' has a port in it: give the port as port = 2223"},
      {ps + worker + "[[worker]]\nhost = \"h0\"\nport = 2222\n", ":7: h0:2222 is already given on line 1"},
      {"peer_timeout = 0\n" + ps + worker, ":1: peer_timeout 0 out of range (0.05..86400 seconds)"},
      {"peer_timeout = \"30s\"\n" + ps + worker, ":1: peer_timeout must be a number of seconds, not a string"},
      {"loss_scope = \"local\"\n" + ps + worker, ":1: loss_scope must be \"global\" or \"worker\", not \"local\""},
      {"token_file = \"~/.unet_token\"\n" + ps + worker,
       ":1: token_file '~/.unet_token': '~' is not expanded here; write the full path"},
      {"data = 5\n" + ps + worker, ":1: data must be a string, not an integer"},
      {"checkpoint_dir = \"\"\n" + ps + worker, ":1: checkpoint_dir is empty"},
      {"ps_ranks = 2\n" + ps + worker, ":1: ps_ranks 2 out of range (0..1)"},
      {ps + worker + "[slurm]\nport = 2222\n",
       ":1: [[ps]] hosts and a [slurm] table (line 7) do not go together: the hosts come from one or the other"},
      {"[slurm]\nps_tasks = 1\n", ":1: [slurm] needs port (or ps_port and worker_port)"},
      {"[slurm]\nport = 2222\nps_tasks = 0\n", ":3: ps_tasks 0 out of range (1..1024)"},
      {"[slurm]\nport = 2222\nnodes = 4\n",
       ":3: unknown key 'nodes' in [slurm] (known: ps_tasks, port, ps_port, worker_port, numa_node, threads)"},
      {"ps_ranks = 1\n[slurm]\nport = 2222\n",
       ":1: ps_ranks does not go with [slurm]: every node of the job runs one task, the first ps_tasks of them the "
       "parameter servers"},
      {"slurm = true\n", ":1: slurm must be a [slurm] table, not a boolean"},
  };
  for (const auto& c : cases) EXPECT_EQ(error_of(c.text), c.message) << c.text;
}

TEST_F(ClusterFileTest, SyntaxErrorsNameTheLine) {
  // The wording is toml++'s; the place is ours to promise.
  const std::string m = error_of("[[ps]]\nhost = \"h0\"\nport = 2222\nport = 2223\n");
  EXPECT_EQ(m.rfind(":4: ", 0), 0u) << m;
  const std::string n = error_of("[[ps]]\nhost = \"h0\n");
  EXPECT_EQ(n.rfind(":2: ", 0), 0u) << n;
  EXPECT_GT(n.size(), 5u);
}

TEST_F(ClusterFileTest, MissingFile) {
  const std::string path = (dir_ / "nowhere.toml").string();
  try {
    read_cluster_file(path);
    FAIL() << "no error";
  } catch (const RuntimeError& e) {
    EXPECT_EQ(std::string(e.what()), path + ": cannot read: No such file or directory");
  }
  try {
    read_cluster_file(dir_.string());
    FAIL() << "no error";
  } catch (const RuntimeError& e) {
    EXPECT_EQ(std::string(e.what()), dir_.string() + ": is a folder, not a cluster file");
  }
}

std::string rank_error(const ClusterFile& f, const Env& env) {
  try {
    return rank_from_environment(f, fake(env)).str();
  } catch (const RuntimeError& e) {
    return e.what();
  }
}

TEST_F(ClusterFileTest, RankFromEachLauncher) {
  const ClusterFile f = read_cluster_file(write(kOnePsFourWorkers));
  Rank r = rank_from_environment(f, fake({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "5"}}));
  EXPECT_TRUE(r.ps);
  EXPECT_EQ(r.task_index, 0u);
  EXPECT_EQ(r.source, "SLURM_PROCID=0");
  EXPECT_EQ(r.str(), "parameter server 0 (SLURM_PROCID=0)");
  r = rank_from_environment(f, fake({{"SLURM_PROCID", "3"}}));
  EXPECT_FALSE(r.ps);
  EXPECT_EQ(r.task_index, 2u);
  EXPECT_EQ(r.str(), "worker 2 (SLURM_PROCID=3)");
  EXPECT_EQ(rank_error(f, {{"OMPI_COMM_WORLD_RANK", "4"}, {"OMPI_COMM_WORLD_SIZE", "5"}}),
            "worker 3 (OMPI_COMM_WORLD_RANK=4)");
  EXPECT_EQ(rank_error(f, {{"PMI_RANK", "1"}, {"PMI_SIZE", "5"}}), "worker 0 (PMI_RANK=1)");
  // In that order; an empty variable counts as unset.
  EXPECT_EQ(rank_error(f, {{"SLURM_PROCID", "2"}, {"PMI_RANK", "2"}}), "worker 1 (SLURM_PROCID=2)");
  EXPECT_EQ(rank_error(f, {{"OMPI_COMM_WORLD_RANK", "2"}, {"PMI_RANK", "3"}}), "worker 1 (OMPI_COMM_WORLD_RANK=2)");
  EXPECT_EQ(rank_error(f, {{"SLURM_PROCID", ""}, {"PMI_RANK", "3"}}), "worker 2 (PMI_RANK=3)");
  // mpirun inside an allocation: every process sees its daemon's SLURM_PROCID.
  EXPECT_EQ(rank_error(f, {{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "1"}, {"OMPI_COMM_WORLD_RANK", "3"},
                           {"OMPI_COMM_WORLD_SIZE", "5"}}),
            "worker 2 (OMPI_COMM_WORLD_RANK=3; SLURM_PROCID=0 is that of mpirun's daemon)");
}

TEST_F(ClusterFileTest, RankMistakes) {
  const std::string path = write(kOnePsFourWorkers);
  const ClusterFile f = read_cluster_file(path);
  EXPECT_EQ(rank_error(f, {}),
            "no rank in the environment: none of SLURM_PROCID, OMPI_COMM_WORLD_RANK, PMI_RANK is set (start under "
            "srun or mpirun, or give --ps or --worker with --task_index)");
  EXPECT_EQ(rank_error(f, {{"SLURM_PROCID", "5"}}),
            "SLURM_PROCID=5 out of range: " + path + " has ranks 0..4 (1 PS rank + 4 workers)");
  EXPECT_EQ(rank_error(f, {{"PMI_RANK", "99999999999"}}), "PMI_RANK='99999999999' is not a rank (a whole number from 0)");
  EXPECT_EQ(rank_error(f, {{"PMI_RANK", "-1"}}), "PMI_RANK='-1' is not a rank (a whole number from 0)");
  EXPECT_EQ(rank_error(f, {{"SLURM_PROCID", "1"}, {"SLURM_NTASKS", "4"}}),
            "SLURM_NTASKS=4, but " + path + " makes 5 ranks (1 PS rank + 4 workers): start 5 tasks");
  EXPECT_EQ(rank_error(f, {{"OMPI_COMM_WORLD_RANK", "1"}, {"OMPI_COMM_WORLD_SIZE", "6"}}),
            "OMPI_COMM_WORLD_SIZE=6, but " + path + " makes 5 ranks (1 PS rank + 4 workers): start 5 tasks");
}

TEST_F(ClusterFileTest, PsRanksShiftTheWorkers) {
  const std::string hosts = "ps = [{ host = \"h0\", port = 1 }, { host = \"h0\", port = 2 }]\n"
                            "worker = [{ host = \"h1\", port = 3 }, { host = \"h2\", port = 3 }]\n";
  const ClusterFile two = read_cluster_file(write(hosts));
  EXPECT_EQ(rank_error(two, {{"SLURM_PROCID", "1"}}), "parameter server 1 (SLURM_PROCID=1)");
  EXPECT_EQ(rank_error(two, {{"SLURM_PROCID", "2"}}), "worker 0 (SLURM_PROCID=2)");
  const ClusterFile none = read_cluster_file(write("ps_ranks = 0\n" + hosts));
  EXPECT_EQ(rank_error(none, {{"SLURM_PROCID", "0"}}), "worker 0 (SLURM_PROCID=0)");
  EXPECT_EQ(rank_error(none, {{"SLURM_PROCID", "1"}, {"SLURM_NTASKS", "2"}}), "worker 1 (SLURM_PROCID=1)");
}

TEST_F(ClusterFileTest, HostsFromTheSlurmJob) {
  const std::string path = write(R"(
data = "/scratch/brats"
[slurm]
ps_tasks = 1
port = 2222
worker_port = 2223
numa_node = 1
)");
  ClusterFile f = read_cluster_file(path);
  ASSERT_TRUE(f.slurm);
  EXPECT_TRUE(f.ps.empty());
  EXPECT_TRUE(f.workers.empty());
  EXPECT_EQ(f.slurm->line, 3);
  EXPECT_EQ(rank_error(f, {{"SLURM_PROCID", "0"}}), path + ": no hosts yet: a [slurm] file takes them from the job "
                                                           "(hosts_from_environment)");
  const ClusterFile unresolved = f;

  hosts_from_environment(f, fake({{"SLURM_JOB_NODELIST", "c[7-8],gpu[01-02]"}}));
  ASSERT_EQ(f.ps.size(), 1u);
  EXPECT_EQ(f.ps[0].endpoint.str(), "c7:2222");
  EXPECT_EQ(f.ps[0].numa_node, 1);
  ASSERT_EQ(f.workers.size(), 3u);
  EXPECT_EQ(f.workers[0].endpoint.str(), "c8:2223");
  EXPECT_EQ(f.workers[2].endpoint.str(), "gpu02:2223");
  EXPECT_EQ(f.hosts_source, "SLURM_JOB_NODELIST=c[7-8],gpu[01-02]");
  EXPECT_EQ(rank_error(f, {{"SLURM_PROCID", "2"}, {"SLURM_NTASKS", "4"}, {"SLURMD_NODENAME", "gpu01"}}),
            "worker 1 (SLURM_PROCID=2)");
  EXPECT_EQ(rank_error(f, {{"SLURM_PROCID", "1"}, {"SLURM_NTASKS", "8"}}),
            "SLURM_NTASKS=8, but SLURM_JOB_NODELIST=c[7-8],gpu[01-02] makes 4 ranks (1 PS rank + 3 workers): start 4 "
            "tasks, one a node");
  EXPECT_EQ(rank_error(f, {{"SLURM_PROCID", "1"}, {"SLURMD_NODENAME", "c7"}}),
            "SLURM_PROCID=1 runs on c7, but worker 0 is on c8: start one task a node (srun --ntasks-per-node=1)");

  // srun's step, when there is one, is where the tasks are.
  ClusterFile g = unresolved;
  hosts_from_environment(g, fake({{"SLURM_JOB_NODELIST", "c[1-9]"}, {"SLURM_STEP_NODELIST", "c[3-4]"}}));
  EXPECT_EQ(g.ps[0].endpoint.host, "c3");
  ASSERT_EQ(g.workers.size(), 1u);
  EXPECT_EQ(g.workers[0].endpoint.host, "c4");

  ClusterFile h = unresolved;
  try {
    hosts_from_environment(h, fake({}));
    FAIL() << "no error";
  } catch (const RuntimeError& e) {
    EXPECT_EQ(std::string(e.what()), path + ":3: [slurm] takes the hosts from the Slurm job, but neither "
                                            "SLURM_STEP_NODELIST nor SLURM_JOB_NODELIST is set (run under srun, or "
                                            "list [[ps]] and [[worker]] hosts)");
  }
  try {
    hosts_from_environment(h, fake({{"SLURM_JOB_NODELIST", "c1"}}));
    FAIL() << "no error";
  } catch (const RuntimeError& e) {
    EXPECT_EQ(std::string(e.what()), "SLURM_JOB_NODELIST=c1: 1 node, but " + path +
                                         ":3 puts 1 parameter server on the first and leaves no worker");
  }

  // A file with host lists keeps them.
  ClusterFile listed = read_cluster_file(write(kOnePsFourWorkers));
  hosts_from_environment(listed, fake({{"SLURM_JOB_NODELIST", "c[1-2]"}}));
  EXPECT_EQ(listed.workers.size(), 4u);
  EXPECT_EQ(listed.ps[0].endpoint.host, "h0");
}

using Names = std::vector<std::string>;

TEST(SlurmNodelist, Expands) {
  EXPECT_EQ(expand_slurm_nodelist("node[01-03,07],gpu5", "L"), (Names{"node01", "node02", "node03", "node07", "gpu5"}));
  EXPECT_EQ(expand_slurm_nodelist("h0", "L"), (Names{"h0"}));
  EXPECT_EQ(expand_slurm_nodelist("login-1,c[3]", "L"), (Names{"login-1", "c3"}));
  EXPECT_EQ(expand_slurm_nodelist("n[8-11]", "L"), (Names{"n8", "n9", "n10", "n11"}));
  EXPECT_EQ(expand_slurm_nodelist("n[098-101]", "L"), (Names{"n098", "n099", "n100", "n101"}));
  EXPECT_EQ(expand_slurm_nodelist("n[0007-0008]", "L"), (Names{"n0007", "n0008"}));
  EXPECT_EQ(expand_slurm_nodelist("rack[1-2]-node[01-02].ib", "L"),
            (Names{"rack1-node01.ib", "rack1-node02.ib", "rack2-node01.ib", "rack2-node02.ib"}));
  EXPECT_EQ(expand_slurm_nodelist("a[1,3],b[00-01],c", "L"), (Names{"a1", "a3", "b00", "b01", "c"}));
  EXPECT_EQ(expand_slurm_nodelist("[1-2]x", "L"), (Names{"1x", "2x"}));
}

TEST(SlurmNodelist, Mistakes) {
  auto error_of = [](const std::string& list) -> std::string {
    try {
      expand_slurm_nodelist(list, "SLURM_JOB_NODELIST");
    } catch (const RuntimeError& e) {
      return e.what();
    }
    return "no error";
  };
  EXPECT_EQ(error_of("n[01-"), "SLURM_JOB_NODELIST: 'n[01-': no closing ']'");
  EXPECT_EQ(error_of("n01]"), "SLURM_JOB_NODELIST: 'n01]': ']' without '['");
  EXPECT_EQ(error_of("n[3-1]"), "SLURM_JOB_NODELIST: 'n[3-1]': range '3-1' goes down");
  EXPECT_EQ(error_of("n[a-c]"), "SLURM_JOB_NODELIST: 'n[a-c]': 'a-c' is not a number or a range such as 01-04");
  EXPECT_EQ(error_of("n[1,,2]"), "SLURM_JOB_NODELIST: 'n[1,,2]': '' is not a number or a range such as 01-04");
  EXPECT_EQ(error_of("n[[1]]"), "SLURM_JOB_NODELIST: 'n[[1]]': brackets inside brackets");
  EXPECT_EQ(error_of("a,,b"), "SLURM_JOB_NODELIST: empty item in 'a,,b'");
  EXPECT_EQ(error_of(""), "SLURM_JOB_NODELIST: empty item in ''");
  EXPECT_EQ(error_of("n[0-99999999]"), "SLURM_JOB_NODELIST: 'n[0-99999999]': more than 65536 hosts");
  EXPECT_EQ(error_of("a[0-999]b[0-999]"), "SLURM_JOB_NODELIST: 'a[0-999]b[0-999]': more than 65536 hosts");
}

}  // namespace
}  // namespace unet::runtime
