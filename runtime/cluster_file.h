// The cluster file (docs/cluster.md): one TOML file that names a distributed run's parameter
// servers and workers, their ports, NUMA nodes and threads, the token, data and checkpoint
// folders, so that `unetrun --cluster FILE` under srun or mpirun, unetlaunch and the Ansible
// playbook all start the same cluster without host lists typed by hand. Also where a process
// started by a launcher learns its role: its rank from the launcher's environment.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "net/endpoint.h"

namespace unet::runtime {

struct HostEntry {
  net::Endpoint endpoint;
  int numa_node = -1;  // -1: not given (memory wherever)
  int threads = 0;     // 0: not given (unetrun's default)
  int line = 0;        // where the file gave it (0: from the Slurm node list)
};

// A [slurm] table instead of host lists: the hosts are the job's nodes, one task a node, the
// first ps_tasks of them parameter servers.
struct SlurmHosts {
  size_t ps_tasks = 1;
  uint16_t ps_port = 0, worker_port = 0;  // from `port`, or `ps_port` / `worker_port`
  int numa_node = -1;                     // for every task
  int threads = 0;
  int line = 0;
};

struct ClusterFile {
  std::string path;  // as given to read_cluster_file, for messages
  std::vector<HostEntry> ps, workers;
  std::optional<SlurmHosts> slurm;  // set when the file has [slurm]; ps/workers then empty until
                                    // hosts_from_environment fills them
  std::string hosts_source;         // "cluster.toml", "SLURM_STEP_NODELIST=n[0-4]"
  // Paths are absolute or made so against the file's folder; "" = not given.
  std::string token_file, data_dir, checkpoint_dir;
  double peer_timeout = -1;  // seconds; -1: not given
  std::string loss_scope;    // "global" / "worker"; "" = not given
  // How many leading ranks are PS tasks: ranks 0..ps_ranks-1 serve PS tasks 0..ps_ranks-1, the
  // others are workers 0, 1, ... in order. Fewer than the PS tasks (0: a PS started by hand,
  // e.g. on a login node) leaves the rest to be started with --ps --task_index.
  size_t ps_ranks = 0;

  size_t ranks() const { return ps_ranks + workers.size(); }  // what the launcher must start
};

// Reads and checks a cluster file. Every mistake is a RuntimeError of one line naming the file
// and the line ("cluster.toml:12: port 70000 out of range (1..65535)"): TOML syntax, unknown
// keys, wrong types, values out of range, duplicate endpoints, no workers.
ClusterFile read_cluster_file(const std::string& path);

using GetEnv = std::function<const char*(const char*)>;

// With [slurm], fills ps and workers from SLURM_STEP_NODELIST (srun's step) or else
// SLURM_JOB_NODELIST, expanded here; RuntimeError when neither is set or there are too few
// nodes. A file with host lists is left as it is.
void hosts_from_environment(ClusterFile& f, const GetEnv& getenv = ::getenv);

// Slurm's compressed host list, expanded in order: "node[01-03,07],gpu5" -> node01 node02
// node03 node07 gpu5; several brackets in a name multiply ("r[1-2]n[1-2]" -> r1n1 r1n2 r2n1
// r2n2); a range keeps the width of its first number. `what` names the list in errors.
std::vector<std::string> expand_slurm_nodelist(const std::string& list, const std::string& what);

struct Rank {
  bool ps = false;
  size_t task_index = 0;
  std::string source;  // "SLURM_PROCID=3"
  std::string role() const;  // "worker 2", "parameter server 0"
  std::string str() const;   // "worker 2 (SLURM_PROCID=3)"
};

// This process's role from the launcher's rank: SLURM_PROCID, OMPI_COMM_WORLD_RANK, PMI_RANK,
// in that order, except that a SLURM_PROCID beside a differing MPI rank is the one of the
// daemon mpirun started through srun, so the MPI rank wins. The launcher's task count
// (SLURM_NTASKS, OMPI_COMM_WORLD_SIZE, PMI_SIZE), when set, must be f.ranks(). RuntimeError
// when no rank is set, or it is not a number or out of range (naming the variable and value).
Rank rank_from_environment(const ClusterFile& f, const GetEnv& getenv = ::getenv);

std::vector<net::Endpoint> endpoints(const std::vector<HostEntry>& hosts);

}  // namespace unet::runtime
