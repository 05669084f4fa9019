// unetlaunch --local: a parameter server and N workers of a distributed run on this machine,
// each worker on its own cores (and NUMA node), with a fresh token and free ports.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "runtime/local_launch.h"
#include "runtime/runtime_error.h"

using namespace unet::runtime;
namespace fs = std::filesystem;

namespace {

volatile std::sig_atomic_t g_stop = 0, g_signals = 0;
void on_signal(int sig) {
  if (!g_stop) g_stop = sig;
  g_signals = g_signals + 1;
}

// unetrun beside this program (build/tools/unetlaunch -> build/tools/unetrun), else on PATH.
std::string find_unetrun() {
  const fs::path self = fs::read_symlink("/proc/self/exe").parent_path();
  for (const fs::path& p : {self / "unetrun", self.parent_path() / "unetrun" / "unetrun"})
    if (access(p.c_str(), X_OK) == 0) return p.string();
  if (const char* path = std::getenv("PATH")) {
    std::string dirs = path;
    for (size_t at = 0; at <= dirs.size();) {
      const size_t end = std::min(dirs.find(':', at), dirs.size());
      const fs::path p = fs::path(dirs.substr(at, end - at)) / "unetrun";
      if (access(p.c_str(), X_OK) == 0) return p.string();
      at = end + 1;
    }
  }
  throw RuntimeError("cannot find unetrun beside unetlaunch or on PATH (give --unetrun PATH)");
}

bool has_flag(const std::vector<std::string>& args, const std::string& flag) {
  for (const std::string& a : args)
    if (a == flag || a.rfind(flag + "=", 0) == 0) return true;
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"unetlaunch: run a parameter server and several workers of one training run on this machine"};
  bool local = false, per_numa = false;
  size_t workers = 2;
  std::string plan, unetrun, run_dir = ".";
  app.add_flag("--local", local, "run every task here (the one mode so far)")->required();
  app.add_option("--workers", workers, "workers, each on its own share of the cores")->capture_default_str();
  app.add_flag("--per_numa_node", per_numa, "one worker per NUMA node, its memory there (instead of --workers)");
  app.add_option("--unetrun", unetrun, "the unetrun to start (default: beside unetlaunch, else on PATH)");
  app.add_option("--run_dir", run_dir, "where the token and the non-chief tasks' output go")->capture_default_str();
  app.add_option("plan", plan, "plan.bin compiled by unetc")->required();
  app.allow_extras();  // everything else is unetrun's: --data, --batch_size, --epochs, ...
  app.failure_message(
      [](const CLI::App*, const CLI::Error& e) { return "unetlaunch: " + std::string(e.what()) + "\n"; });
  CLI11_PARSE(app, argc, argv);

  try {
    const std::vector<std::string> extras = app.remaining();
    for (const char* own : {"--ps", "--worker", "--task_index", "--ps_hosts", "--worker_hosts", "--token_file",
                            "--numa_node"})
      if (has_flag(extras, own)) throw RuntimeError(fmt::format("{}: unetlaunch sets it for each task", own));
    if (unetrun.empty()) unetrun = find_unetrun();
    const std::vector<Placement> places = per_numa ? place_per_numa_node() : place_workers(workers);

    fs::create_directories(run_dir);
    const std::string token_file = (fs::path(run_dir) / "cluster.token").string();
    {
      const std::string tmp = token_file + ".tmp";
      std::ofstream out(tmp, std::ios::trunc);
      chmod(tmp.c_str(), 0600);
      out << random_token() << "\n";
      out.close();
      if (!out) throw RuntimeError(fmt::format("{}: cannot write the cluster token", tmp));
      fs::rename(tmp, token_file);
    }
    std::string ps_hosts = fmt::format("127.0.0.1:{}", free_loopback_port()), worker_hosts;
    for (size_t k = 0; k < places.size(); ++k) worker_hosts += fmt::format("{}127.0.0.1:{}", k ? "," : "", free_loopback_port());

    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    ProcessGroup group;
    group.set_stop_target("worker 0");
    auto argv_for = [&](std::vector<std::string> role) {
      std::vector<std::string> a = {unetrun, plan};
      a.insert(a.end(), role.begin(), role.end());
      for (const std::string& s : {std::string("--ps_hosts"), ps_hosts, std::string("--worker_hosts"), worker_hosts,
                                   std::string("--token_file"), token_file})
        a.push_back(s);
      a.insert(a.end(), extras.begin(), extras.end());
      return a;
    };
    group.start({"the parameter server", argv_for({"--ps", "--task_index", "0"}), {},
                 (fs::path(run_dir) / "ps.0.out").string()});
    for (size_t k = 0; k < places.size(); ++k) {
      std::vector<std::string> role = {"--worker", "--task_index", std::to_string(k)};
      if (!has_flag(extras, "--num_threads")) role.insert(role.end(), {"--num_threads", std::to_string(places[k].cpus.size())});
      if (places[k].numa_node >= 0) role.insert(role.end(), {"--numa_node", std::to_string(places[k].numa_node)});
      std::string cpus;
      for (unsigned c : places[k].cpus) cpus += fmt::format("{}{}", cpus.empty() ? "" : ",", c);
      std::fprintf(stderr, "unetlaunch: worker %zu on CPUs %s%s\n", k, cpus.c_str(),
                   places[k].numa_node >= 0 ? fmt::format(", memory on NUMA node {}", places[k].numa_node).c_str() : "");
      // The chief's lines come to this terminal; the others' go to files in --run_dir.
      group.start({fmt::format("worker {}", k), argv_for(role), places[k].cpus,
                   k == 0 ? "" : (fs::path(run_dir) / fmt::format("worker.{}.out", k)).string()});
    }
    const std::string failure = group.wait_all(g_stop, g_signals);
    if (!failure.empty()) {
      std::fprintf(stderr, "unetlaunch: %s; see %s for the other tasks' output\n", failure.c_str(), run_dir.c_str());
      return g_stop ? 128 + g_stop : 1;
    }
    return g_stop ? 128 + g_stop : 0;  // stopped by a signal, as a shell reports it
  } catch (const std::exception& e) {
    std::fprintf(stderr, "unetlaunch: %s\n", e.what());
    return 1;
  }
}
