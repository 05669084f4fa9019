#include "runtime/local_launch.h"

#include <fcntl.h>
#include <hwloc.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <map>
#include <thread>

#include <fmt/format.h>

#include "net/connection.h"
#include "runtime/runtime_error.h"

namespace unet::runtime {

namespace {

struct Core {
  unsigned cpu;  // its first hardware thread this process may use
  int numa_node;
};

// The cores this process may run on, in order, with their NUMA nodes.
std::vector<Core> usable_cores() {
  hwloc_topology_t topo;
  hwloc_topology_init(&topo);
  hwloc_topology_load(topo);
  hwloc_bitmap_t allowed = hwloc_bitmap_alloc();
  const bool bound = hwloc_get_cpubind(topo, allowed, HWLOC_CPUBIND_PROCESS) == 0;
  std::vector<Core> cores;
  const int n = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE);
  for (int k = 0; k < n; ++k) {
    hwloc_obj_t core = hwloc_get_obj_by_type(topo, HWLOC_OBJ_CORE, k);
    if (!core || !core->cpuset) continue;
    hwloc_bitmap_t mine = hwloc_bitmap_dup(core->cpuset);
    if (bound) hwloc_bitmap_and(mine, mine, allowed);
    const int first = hwloc_bitmap_first(mine);
    int node = -1;
    if (first >= 0 && core->nodeset && hwloc_bitmap_weight(core->nodeset) == 1) node = hwloc_bitmap_first(core->nodeset);
    hwloc_bitmap_free(mine);
    if (first >= 0) cores.push_back({static_cast<unsigned>(first), node});
  }
  hwloc_bitmap_free(allowed);
  hwloc_topology_destroy(topo);
  return cores;
}

int common_node(const std::vector<Core>& cores, size_t begin, size_t end) {
  const int node = cores[begin].numa_node;
  for (size_t k = begin; k < end; ++k)
    if (cores[k].numa_node != node) return -1;
  return node;
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) return fmt::format("exited with status {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return fmt::format("was killed by signal {} ({})", WTERMSIG(status), strsignal(WTERMSIG(status)));
  return "stopped";
}

}  // namespace

std::vector<Placement> place_workers(size_t workers) {
  const std::vector<Core> cores = usable_cores();
  if (workers == 0) throw RuntimeError("--workers must be at least 1");
  if (cores.size() < workers)
    throw RuntimeError(fmt::format("--workers {}: this process may use {} cores, fewer than one a worker", workers,
                                   cores.size()));
  std::vector<Placement> out;
  size_t at = 0;
  for (size_t w = 0; w < workers; ++w) {
    const size_t take = cores.size() / workers + (w < cores.size() % workers ? 1 : 0);
    Placement p;
    for (size_t k = at; k < at + take; ++k) p.cpus.push_back(cores[k].cpu);
    p.numa_node = common_node(cores, at, at + take);
    at += take;
    out.push_back(std::move(p));
  }
  return out;
}

std::vector<Placement> place_per_numa_node() {
  std::map<int, Placement> by_node;
  for (const Core& c : usable_cores()) {
    Placement& p = by_node[c.numa_node];
    p.numa_node = c.numa_node;
    p.cpus.push_back(c.cpu);
  }
  std::vector<Placement> out;
  for (auto& [node, p] : by_node) out.push_back(std::move(p));
  return out;
}

ProcessGroup::~ProcessGroup() {
  kill_all(SIGKILL);
  for (Running& r : children_)
    if (!r.done) waitpid(r.pid, nullptr, 0);
}

void ProcessGroup::start(const Child& child) {
  std::vector<char*> argv;
  for (const std::string& a : child.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) throw RuntimeError(fmt::format("cannot start {}: fork: {}", child.name, std::strerror(errno)));
  if (pid == 0) {
    // Only async-signal-safe calls from here to exec.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    setpgid(0, 0);  // a Ctrl-C at the terminal reaches the launcher only, which decides
    if (getppid() != parent) _exit(127);  // the launcher died before the line above
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    if (!child.cpus.empty()) {
      cpu_set_t set;
      CPU_ZERO(&set);
      for (unsigned c : child.cpus) CPU_SET(c, &set);
      sched_setaffinity(0, sizeof set, &set);
    }
    if (!child.output.empty()) {
      const int fd = open(child.output.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd < 0) _exit(126);
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    execv(argv[0], argv.data());
    _exit(127);
  }
  children_.push_back({child.name, pid, false});
}

void ProcessGroup::kill_all(int sig) {
  for (Running& r : children_)
    if (!r.done) kill(r.pid, sig);
}

std::string ProcessGroup::wait_all(const volatile std::sig_atomic_t& stop, const volatile std::sig_atomic_t& signals) {
  int forwarded = 0;
  for (;;) {
    if (signals >= 2) {  // a second Ctrl-C: the user wants it over now
      kill_all(SIGKILL);
      for (Running& r : children_)
        if (!r.done) {
          waitpid(r.pid, nullptr, 0);
          r.done = true;
        }
      return "stopped at once by a second signal; the last periodic checkpoint is the one to resume from";
    }
    if (stop && !forwarded) {
      // The chief stops after its step and writes the final checkpoint; its end ends the
      // others' run through the parameter servers.
      forwarded = stop;
      for (Running& r : children_)
        if (!r.done && r.name == stop_target_) kill(r.pid, forwarded);
      if (stop_target_.empty()) kill_all(forwarded);
    }
    bool running = false;
    // Of the failures seen in one pass, a child that died of a signal is named before one that
    // exited non-zero: the others of a run exit 1 right after it, because of it.
    std::vector<std::string> died, failed;
    for (Running& r : children_) {
      if (r.done) continue;
      int status = 0;
      const pid_t got = waitpid(r.pid, &status, WNOHANG);
      if (got == 0) {
        running = true;
        continue;
      }
      r.done = true;
      const bool stopped_cleanly = forwarded && (stop_target_.empty() || r.name == stop_target_) && WIFEXITED(status) &&
                                   WEXITSTATUS(status) == 128 + forwarded;
      if (!stopped_cleanly && (got < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
        const std::string why = fmt::format("{} (pid {}) {}", r.name, r.pid, got < 0 ? "vanished" : describe_status(status));
        (got > 0 && WIFSIGNALED(status) ? died : failed).push_back(why);
      }
    }
    if (!died.empty() || !failed.empty()) {
      kill_all(SIGKILL);
      for (Running& o : children_)
        if (!o.done) {
          waitpid(o.pid, nullptr, 0);
          o.done = true;
        }
      died.insert(died.end(), failed.begin(), failed.end());
      std::string all;
      for (const std::string& d : died) all += (all.empty() ? "" : "; ") + d;
      return all;
    }
    if (!running) return "";
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::string random_token() {
  unsigned char bytes[32];
  size_t got = 0;
  while (got < sizeof bytes) {
    const ssize_t n = getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw RuntimeError(fmt::format("cannot draw a cluster token: getrandom: {}", std::strerror(errno)));
    }
    got += static_cast<size_t>(n);
  }
  std::string hex;
  for (unsigned char b : bytes) hex += fmt::format("{:02x}", b);
  return hex;
}

uint16_t free_loopback_port() {
  net::Listener l({"127.0.0.1", 0});
  return l.port();
}

}  // namespace unet::runtime
