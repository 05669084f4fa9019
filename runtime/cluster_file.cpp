#include "runtime/cluster_file.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <string_view>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "base/limits.h"
#include "runtime/runtime_error.h"

namespace unet::runtime {
namespace {


std::string_view type_name(toml::node_type t) {
  switch (t) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a floating-point number";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    default: return "nothing";
  }
}

// Reads one file's tables, each mistake a RuntimeError "<path>:<line>: <why>".
class Reader {
 public:
  explicit Reader(const std::string& path) : path_(path) {}

  RuntimeError error(const toml::source_region& at, const std::string& why) const {
    return RuntimeError(fmt::format("{}:{}: {}", path_, at.begin.line, why));
  }
  RuntimeError error(const std::string& why) const { return RuntimeError(fmt::format("{}: {}", path_, why)); }

  // Typos must not be silent: a key we do not know is refused, with the ones we do.
  void known_keys(const toml::table& t, std::string_view where, std::initializer_list<std::string_view> known) const {
    for (auto&& [key, value] : t) {
      bool ok = false;
      for (std::string_view k : known) ok = ok || key.str() == k;
      if (ok) continue;
      std::string list;
      for (std::string_view k : known) list += fmt::format("{}{}", list.empty() ? "" : ", ", k);
      throw error(key.source(), fmt::format("unknown key '{}'{}{} (known: {})", key.str(), where.empty() ? "" : " in ",
                                            where, list));
    }
  }

  int64_t integer(const toml::node& n, std::string_view name, int64_t lo, int64_t hi) const {
    const auto* v = n.as_integer();
    if (!v) throw error(n.source(), fmt::format("{} must be an integer, not {}", name, type_name(n.type())));
    const int64_t x = v->get();
    if (x < lo || x > hi) throw error(n.source(), fmt::format("{} {} out of range ({}..{})", name, x, lo, hi));
    return x;
  }

  int numa_node(const toml::node& n) const {
    const auto* v = n.as_integer();
    if (v && v->get() < 0)
      throw error(n.source(), fmt::format("numa_node {} is negative (leave it out for memory anywhere)", v->get()));
    return static_cast<int>(integer(n, "numa_node", 0, 4095));
  }

  int threads(const toml::node& n) const {
    return static_cast<int>(integer(n, "threads", 1, limits::kMaxClusterThreads));
  }

  uint16_t port(const toml::node& n, std::string_view name) const {
    return static_cast<uint16_t>(integer(n, name, 1, 65535));
  }

  std::string string(const toml::node& n, std::string_view name) const {
    const auto* v = n.as_string();
    if (!v) throw error(n.source(), fmt::format("{} must be a string, not {}", name, type_name(n.type())));
    if (v->get().empty()) throw error(n.source(), fmt::format("{} is empty", name));
    return v->get();
  }

  // Relative paths are taken from the file's folder, so that one file works from any
  // directory a launcher starts the processes in.
  std::string path_value(const toml::node& n, std::string_view name) const {
    const std::string s = string(n, name);
    if (s.front() == '~')
      throw error(n.source(), fmt::format("{} '{}': '~' is not expanded here; write the full path", name, s));
    const std::filesystem::path p(s);
    if (p.is_absolute()) return s;
    const std::filesystem::path folder = std::filesystem::path(path_).parent_path();
    return folder.empty() ? s : (folder / p).lexically_normal().string();
  }

  double seconds(const toml::node& n, std::string_view name, double lo, double hi) const {
    double x;
    if (const auto* i = n.as_integer()) {
      x = static_cast<double>(i->get());
    } else if (const auto* f = n.as_floating_point()) {
      x = f->get();
    } else {
      throw error(n.source(), fmt::format("{} must be a number of seconds, not {}", name, type_name(n.type())));
    }
    if (!(x >= lo && x <= hi)) throw error(n.source(), fmt::format("{} {} out of range ({}..{} seconds)", name, x, lo, hi));
    return x;
  }

  std::string host(const toml::node& n) const {
    std::string h = string(n, "host");
    if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);  // [::1]
    for (char c : h)
      if (c == ' ' || c == '\t' || c == '[' || c == ']' || c == '/')
        throw error(n.source(), fmt::format("host '{}' is not a name or address", h));
    if (std::count(h.begin(), h.end(), ':') == 1)
      throw error(n.source(), fmt::format("host '{}' has a port in it: give the port as port = {}", h,
                                          h.substr(h.find(':') + 1)));
    return h;
  }

  // [[ps]] / [[worker]]: one table a task, in task order.
  std::vector<HostEntry> hosts(const toml::node& n, std::string_view name) const {
    const auto* array = n.as_array();
    if (array && array->empty()) throw error(n.source(), fmt::format("{} is an empty list", name));
    if (!array || !array->is_array_of_tables())
      throw error(n.source(), fmt::format("{} must be a list of [[{}]] sections, not {}", name, name,
                                          array ? "an array of other values" : type_name(n.type())));
    std::vector<HostEntry> out;
    for (const toml::node& item : *array) {
      const toml::table& t = *item.as_table();
      const std::string where = fmt::format("[[{}]]", name);
      known_keys(t, where, {"host", "port", "numa_node", "threads"});
      HostEntry e;
      e.line = static_cast<int>(t.source().begin.line);
      const toml::node* h = t.get("host");
      const toml::node* p = t.get("port");
      if (!h) throw error(t.source(), fmt::format("{} has no host", where));
      if (!p) throw error(t.source(), fmt::format("{} has no port", where));
      e.endpoint = {host(*h), port(*p, "port")};
      if (const toml::node* x = t.get("numa_node")) e.numa_node = numa_node(*x);
      if (const toml::node* x = t.get("threads")) e.threads = threads(*x);
      out.push_back(std::move(e));
    }
    return out;
  }

  SlurmHosts slurm(const toml::node& n) const {
    const auto* t = n.as_table();
    if (!t) throw error(n.source(), fmt::format("slurm must be a [slurm] table, not {}", type_name(n.type())));
    known_keys(*t, "[slurm]", {"ps_tasks", "port", "ps_port", "worker_port", "numa_node", "threads"});
    SlurmHosts s;
    s.line = static_cast<int>(t->source().begin.line);
    if (const toml::node* x = t->get("ps_tasks"))
      s.ps_tasks = static_cast<size_t>(integer(*x, "ps_tasks", 1, limits::kMaxClusterPsTasks));
    uint16_t port_all = 0;
    if (const toml::node* x = t->get("port")) port_all = port(*x, "port");
    s.ps_port = s.worker_port = port_all;
    if (const toml::node* x = t->get("ps_port")) s.ps_port = port(*x, "ps_port");
    if (const toml::node* x = t->get("worker_port")) s.worker_port = port(*x, "worker_port");
    if (s.ps_port == 0 || s.worker_port == 0)
      throw error(t->source(), "[slurm] needs port (or ps_port and worker_port)");
    if (const toml::node* x = t->get("numa_node")) s.numa_node = numa_node(*x);
    if (const toml::node* x = t->get("threads")) s.threads = threads(*x);
    return s;
  }

 private:
  const std::string& path_;
};

toml::table parse_toml(const std::string& path, const Reader& r) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw r.error("is a folder, not a cluster file");
  // A FIFO would block the open forever.
  if (std::filesystem::exists(path, ec) && !std::filesystem::is_regular_file(path, ec))
    throw r.error("not a regular file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw r.error(fmt::format("cannot read: {}", std::strerror(errno)));
  std::ostringstream text;
  text << in.rdbuf();
  try {
    return toml::parse(text.str(), path);
  } catch (const toml::parse_error& e) {
    throw r.error(e.source(), std::string(e.description()));
  }
}

std::optional<std::string> env(const GetEnv& getenv, const char* name) {
  const char* v = getenv(name);
  if (v == nullptr || *v == '\0') return std::nullopt;
  return std::string(v);
}

// A launcher's rank or size: a whole number from 0.
std::optional<size_t> whole_number(const std::string& s) {
  if (s.empty() || s.size() > 9) return std::nullopt;
  size_t x = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    x = x * 10 + static_cast<size_t>(c - '0');
  }
  return x;
}

std::string plural(size_t n, std::string_view one, std::string_view many) {
  return fmt::format("{} {}", n, n == 1 ? one : many);
}

}  // namespace

ClusterFile read_cluster_file(const std::string& path) {
  const Reader r(path);
  const toml::table root = parse_toml(path, r);
  r.known_keys(root, "", {"token_file", "data", "checkpoint_dir", "peer_timeout", "loss_scope", "ps_ranks", "ps",
                          "worker", "slurm"});
  ClusterFile f;
  f.path = path;
  f.hosts_source = path;
  if (const toml::node* n = root.get("token_file")) f.token_file = r.path_value(*n, "token_file");
  if (const toml::node* n = root.get("data")) f.data_dir = r.path_value(*n, "data");
  if (const toml::node* n = root.get("checkpoint_dir")) f.checkpoint_dir = r.path_value(*n, "checkpoint_dir");
  // The bounds of unetrun --peer_timeout.
  if (const toml::node* n = root.get("peer_timeout")) f.peer_timeout = r.seconds(*n, "peer_timeout", 0.05, 86400);
  if (const toml::node* n = root.get("loss_scope")) {
    f.loss_scope = r.string(*n, "loss_scope");
    if (f.loss_scope != "global" && f.loss_scope != "worker")
      throw r.error(n->source(), fmt::format("loss_scope must be \"global\" or \"worker\", not \"{}\"", f.loss_scope));
  }

  const toml::node* ps = root.get("ps");
  const toml::node* workers = root.get("worker");
  const toml::node* slurm = root.get("slurm");
  if (slurm) {
    if (ps || workers) {
      const toml::node& list = ps ? *ps : *workers;
      throw r.error(list.source(), fmt::format("[[{}]] hosts and a [slurm] table (line {}) do not go together: the "
                                               "hosts come from one or the other",
                                               ps ? "ps" : "worker", slurm->source().begin.line));
    }
    f.slurm = r.slurm(*slurm);
    f.ps_ranks = f.slurm->ps_tasks;
    if (const toml::node* n = root.get("ps_ranks"))
      throw r.error(n->source(), "ps_ranks does not go with [slurm]: every node of the job runs one task, the first "
                                 "ps_tasks of them the parameter servers");
    return f;
  }
  if (!ps && !workers)
    throw r.error("no hosts: add [[ps]] and [[worker]] sections, or a [slurm] table to take them from the Slurm job");
  if (!ps) throw r.error("no parameter servers: add a [[ps]] section");
  if (!workers) throw r.error("no workers: add a [[worker]] section");
  f.ps = r.hosts(*ps, "ps");
  f.workers = r.hosts(*workers, "worker");

  // Two tasks on one address would fight over the port; this is a copy-paste slip.
  std::vector<std::pair<std::string, int>> seen;
  for (const auto* list : {&f.ps, &f.workers}) {
    for (const HostEntry& e : *list) {
      const std::string s = e.endpoint.str();
      for (const auto& [other, line] : seen)
        if (other == s)
          throw RuntimeError(fmt::format("{}:{}: {} is already given on line {}", path, e.line, s, line));
      seen.emplace_back(s, e.line);
    }
  }

  f.ps_ranks = f.ps.size();
  if (const toml::node* n = root.get("ps_ranks"))
    f.ps_ranks = static_cast<size_t>(r.integer(*n, "ps_ranks", 0, static_cast<int64_t>(f.ps.size())));
  return f;
}

std::vector<std::string> expand_slurm_nodelist(const std::string& list, const std::string& what) {
  std::vector<std::string> out;
  size_t begin = 0;
  while (begin <= list.size()) {
    // The next item ends at a comma outside brackets.
    size_t end = begin;
    int depth = 0;
    while (end < list.size() && !(list[end] == ',' && depth == 0)) {
      if (list[end] == '[') ++depth;
      if (list[end] == ']') --depth;
      ++end;
    }
    const std::string item = list.substr(begin, end - begin);
    auto fail = [&](const std::string& why) { return RuntimeError(fmt::format("{}: '{}': {}", what, item, why)); };
    if (item.empty()) throw RuntimeError(fmt::format("{}: empty item in '{}'", what, list));

    std::vector<std::string> names{""};
    size_t i = 0;
    while (i < item.size()) {
      if (item[i] == ']') throw fail("']' without '['");
      if (item[i] != '[') {
        const size_t next = std::min(item.find_first_of("[]", i), item.size());
        for (std::string& n : names) n += item.substr(i, next - i);
        i = next;
        continue;
      }
      const size_t close = item.find(']', i);
      if (close == std::string::npos) throw fail("no closing ']'");
      const std::string inside = item.substr(i + 1, close - i - 1);
      if (inside.find('[') != std::string::npos) throw fail("brackets inside brackets");
      // "01-03,07": each part a number or a range; a range keeps the width of its first number.
      std::vector<std::string> choices;
      size_t p = 0;
      while (p <= inside.size()) {
        const size_t comma = std::min(inside.find(',', p), inside.size());
        const std::string part = inside.substr(p, comma - p);
        const size_t dash = part.find('-');
        const std::string lo_s = part.substr(0, dash), hi_s = dash == std::string::npos ? lo_s : part.substr(dash + 1);
        const std::optional<size_t> lo = whole_number(lo_s), hi = whole_number(hi_s);
        if (!lo || !hi) throw fail(fmt::format("'{}' is not a number or a range such as 01-04", part));
        if (*hi < *lo) throw fail(fmt::format("range '{}' goes down", part));
        if (*hi - *lo >= limits::kMaxClusterNodes || choices.size() + (*hi - *lo) >= limits::kMaxClusterNodes)
          throw fail(fmt::format("more than {} hosts", limits::kMaxClusterNodes));
        for (size_t x = *lo; x <= *hi; ++x) choices.push_back(fmt::format("{:0{}}", x, lo_s.size()));
        p = comma + 1;
      }
      if (names.size() * choices.size() + out.size() > limits::kMaxClusterNodes) throw fail(fmt::format("more than {} hosts", limits::kMaxClusterNodes));
      std::vector<std::string> grown;
      grown.reserve(names.size() * choices.size());
      for (const std::string& n : names)
        for (const std::string& c : choices) grown.push_back(n + c);
      names = std::move(grown);
      i = close + 1;
    }
    out.insert(out.end(), names.begin(), names.end());
    begin = end + 1;
  }
  return out;
}

void hosts_from_environment(ClusterFile& f, const GetEnv& getenv) {
  if (!f.slurm) return;
  const SlurmHosts& s = *f.slurm;
  // The step's nodes are the ones srun's tasks run on, in task order; the job's, outside srun.
  const char* var = "SLURM_STEP_NODELIST";
  std::optional<std::string> list = env(getenv, var);
  if (!list) list = env(getenv, var = "SLURM_JOB_NODELIST");
  if (!list)
    throw RuntimeError(fmt::format("{}:{}: [slurm] takes the hosts from the Slurm job, but neither "
                                   "SLURM_STEP_NODELIST nor SLURM_JOB_NODELIST is set (run under srun, or list "
                                   "[[ps]] and [[worker]] hosts)",
                                   f.path, s.line));
  const std::vector<std::string> nodes = expand_slurm_nodelist(*list, var);
  if (nodes.size() <= s.ps_tasks)
    throw RuntimeError(fmt::format("{}={}: {}, but {}:{} puts {} on the first and leaves no worker", var, *list,
                                   plural(nodes.size(), "node", "nodes"), f.path, s.line,
                                   plural(s.ps_tasks, "parameter server", "parameter servers")));
  f.ps.clear();
  f.workers.clear();
  for (size_t k = 0; k < nodes.size(); ++k) {
    const bool ps = k < s.ps_tasks;
    (ps ? f.ps : f.workers).push_back(HostEntry{{nodes[k], ps ? s.ps_port : s.worker_port}, s.numa_node, s.threads, 0});
  }
  f.ps_ranks = s.ps_tasks;
  f.hosts_source = fmt::format("{}={}", var, *list);
}

std::string Rank::role() const { return fmt::format("{} {}", ps ? "parameter server" : "worker", task_index); }
std::string Rank::str() const { return fmt::format("{} ({})", role(), source); }

Rank rank_from_environment(const ClusterFile& f, const GetEnv& getenv) {
  struct Convention {
    const char* rank;
    const char* size;
  };
  static constexpr Convention kConventions[] = {
      {"SLURM_PROCID", "SLURM_NTASKS"}, {"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"}, {"PMI_RANK", "PMI_SIZE"}};

  const Convention* used = nullptr;
  std::optional<std::string> value;
  for (const Convention& c : kConventions) {
    if ((value = env(getenv, c.rank))) {
      used = &c;
      break;
    }
  }
  if (!used)
    throw RuntimeError("no rank in the environment: none of SLURM_PROCID, OMPI_COMM_WORLD_RANK, PMI_RANK is set "
                       "(start under srun or mpirun, or give --ps or --worker with --task_index)");
  std::string source = fmt::format("{}={}", used->rank, *value);
  // mpirun inside a Slurm allocation starts its daemons with srun, so its processes inherit the
  // daemon's SLURM_PROCID (one a node, or the batch script's 0); their MPI rank is the real one.
  if (used == &kConventions[0]) {
    for (const Convention* c = &kConventions[1]; c != std::end(kConventions); ++c) {
      const std::optional<std::string> mpi = env(getenv, c->rank);
      if (mpi && *mpi != *value) {
        source = fmt::format("{}={}; SLURM_PROCID={} is that of mpirun's daemon", c->rank, *mpi, *value);
        used = c;
        value = mpi;
        break;
      }
    }
  }
  const std::optional<size_t> rank = whole_number(*value);
  if (!rank) throw RuntimeError(fmt::format("{}='{}' is not a rank (a whole number from 0)", used->rank, *value));

  if (f.workers.empty())
    throw RuntimeError(fmt::format("{}: no hosts yet: a [slurm] file takes them from the job (hosts_from_environment)",
                                   f.path));
  const std::string shape = fmt::format("{} + {}", plural(f.ps_ranks, "PS rank", "PS ranks"),
                                        plural(f.workers.size(), "worker", "workers"));
  if (const std::optional<std::string> size_s = env(getenv, used->size)) {
    const std::optional<size_t> size = whole_number(*size_s);
    if (!size || *size != f.ranks())
      throw RuntimeError(fmt::format("{}={}, but {} makes {} ({}): start {} tasks{}", used->size, *size_s,
                                     f.hosts_source, plural(f.ranks(), "rank", "ranks"), shape, f.ranks(),
                                     f.slurm ? ", one a node" : ""));
  }
  if (*rank >= f.ranks())
    throw RuntimeError(fmt::format("{}={} out of range: {} has ranks 0..{} ({})", used->rank, *value, f.hosts_source,
                                   f.ranks() - 1, shape));

  Rank r;
  r.ps = *rank < f.ps_ranks;
  r.task_index = r.ps ? *rank : *rank - f.ps_ranks;
  r.source = std::move(source);
  // Hosts from the node list are only right when task k runs on node k.
  if (f.slurm && used == &kConventions[0]) {
    const HostEntry& mine = r.ps ? f.ps[r.task_index] : f.workers[r.task_index];
    const std::optional<std::string> node = env(getenv, "SLURMD_NODENAME");
    if (node && *node != mine.endpoint.host)
      throw RuntimeError(fmt::format("{} runs on {}, but {} is on {}: start one task a node (srun --ntasks-per-node=1)",
                                     r.source, *node, r.role(), mine.endpoint.host));
  }
  return r;
}

std::vector<net::Endpoint> endpoints(const std::vector<HostEntry>& hosts) {
  std::vector<net::Endpoint> out;
  out.reserve(hosts.size());
  for (const HostEntry& h : hosts) out.push_back(h.endpoint);
  return out;
}

}  // namespace unet::runtime
