// Running a whole distributed job on one machine (unetlaunch --local): where each worker's
// threads and memory go, and a group of child processes that lives and dies together.
#pragma once
#include <csignal>
#include <string>
#include <vector>

namespace unet::runtime {

// One worker's share of the machine: the CPUs its threads are pinned to (one hardware
// thread a core) and the NUMA node its memory is preferred on (-1: wherever).
struct Placement {
  std::vector<unsigned> cpus;
  int numa_node = -1;
};

// `workers` disjoint sets of whole cores out of those this process may run on, in core order,
// as even as possible (the first sets take the remainder); each set's NUMA node when all its
// cores are on one. RuntimeError when there are fewer cores than workers.
std::vector<Placement> place_workers(size_t workers);
// One worker per NUMA node that has cores this process may use: all of that node's cores,
// its memory there.
std::vector<Placement> place_per_numa_node();

// Child processes started together; when one exits non-zero or dies, the others are killed.
// Children die with the launcher too (PR_SET_PDEATHSIG), so none is ever left behind.
class ProcessGroup {
 public:
  struct Child {
    std::string name;               // "worker 1", for messages
    std::vector<std::string> argv;  // argv[0] is the program's path
    std::vector<unsigned> cpus;     // empty: unpinned
    std::string output;             // file for stdout and stderr ("" = the launcher's own)
  };
  ProcessGroup() = default;
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;
  ~ProcessGroup();  // kills and reaps whatever still runs

  void start(const Child& child);  // RuntimeError when it cannot be started
  // Waits until every child has exited 0 (returns ""), or one failed: kills the others, reaps
  // them, and returns one line naming it ("worker 1 (pid 4242) was killed by signal 9").
  // When `stop` becomes non-zero (a signal the launcher caught), sends it to the child named
  // by set_stop_target (every child when none is) and goes on waiting: a stopped run that
  // ends cleanly (that child exiting 128 + the signal, as a stopped unetrun does, the others
  // 0) returns "". When `signals` (how many were caught) reaches 2, kills every child at once.
  std::string wait_all(const volatile std::sig_atomic_t& stop, const volatile std::sig_atomic_t& signals);
  void set_stop_target(const std::string& name) { stop_target_ = name; }

 private:
  struct Running {
    std::string name;
    int pid;
    bool done = false;
  };
  void kill_all(int sig);
  std::vector<Running> children_;
  std::string stop_target_;
};

// A fresh cluster token: 32 random bytes from the OS, hex.
std::string random_token();
// A TCP port on 127.0.0.1 free at the time of the call.
uint16_t free_loopback_port();

}  // namespace unet::runtime
