// bench_ps_exchange: what the parameter server costs, in one run on loopback.
//
// Part 1, exchange throughput. One round moves every parameter's gradient to the PS and every
// updated value back, the real model's volume in its real chunk sizes (one chunk a parameter,
// in the order the backward finalises them). Five ways, their rounds interleaved so a noisy
// machine disturbs them alike:
//   raw TCP, one way then the other  POSIX sockets (TCP_NODELAY, 4 MiB buffers, as
//                                    net::Connection sets): client sends every chunk, then
//                                    the server sends every chunk back;
//   raw TCP, both ways at once       the same, the two directions concurrently;
//   net::Connection frames           the same two over the protocol's framing (48-byte header,
//                                    CRC32C of every payload), one way then the other, and both
//                                    ways at once;
//   parameter server                 an in-process ParameterServer (1 worker) driven by a real
//                                    RemoteExchange as a worker's step drives it: a gradient
//                                    frame per parameter after each backward op, pulls for the
//                                    next step, update(), sync_state(step + 1): Adam on the PS
//                                    is part of it.
// Part 2, step time: the built unetrun as 1 standalone process x 1 thread on batch b, against
// 1 PS + 2 worker processes x 1 thread on a global batch 2b (b a worker), on synthetic
// 128x128 data; the step time from the time each "Global Step: N" line arrives (warm-up steps
// left out) and each worker's time blocked on the network (its own summary line).
//
//   bench_ps_exchange [--plan plan.bin | --model models/unet_brats.def] [--batch 2]
//                     [--rounds 20] [--steps 30] [--reps 3] [--unetrun PATH] [--work_dir DIR | --keep]
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <numeric>
#include <optional>
#include <random>
#include <regex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "data/npy.h"
#include "runtime/arena.h"
#include "graph/graph_ir.h"
#include "graph/lower.h"
#include "kernels/isa_tier.h"
#include "kernels/kernel_registry.h"
#include "net/connection.h"
#include "base/crc32c.h"
#include "plan/plan_io.h"
#include "plan/plan_validate.h"
#include "runtime/cluster.h"
#include "runtime/engine.h"
#include "runtime/param_init.h"
#include "runtime/param_schedule.h"
#include "runtime/parameter_server.h"
#include "runtime/remote_exchange.h"
#include "runtime/step_exchange.h"

namespace {

using namespace unet;
using Clock = std::chrono::steady_clock;
const Clock::time_point g_t0 = Clock::now();

double now_s() { return std::chrono::duration<double>(Clock::now() - g_t0).count(); }

// CPU seconds (user + system) of every thread of this process so far.
double process_cpu_s() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  auto secs = [](const timeval& t) { return static_cast<double>(t.tv_sec) + 1e-6 * static_cast<double>(t.tv_usec); };
  return secs(u.ru_utime) + secs(u.ru_stime);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

[[noreturn]] void die_errno(const std::string& what) {
  throw std::runtime_error(fmt::format("{}: {}", what, std::strerror(errno)));
}

// ---------------------------------------------------------------------------------------------
// Raw TCP on loopback.

constexpr int kSocketBufferBytes = 4 << 20;  // what net::Connection asks for

void tune_socket(int fd) {
  int one = 1, buf = kSocketBufferBytes;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
}

struct SocketPair {
  int client = -1, server = -1;
  SocketPair() {
    const int l = ::socket(AF_INET, SOCK_STREAM, 0);
    if (l < 0) die_errno("socket");
    tune_socket(l);  // accepted sockets inherit the buffer sizes
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    if (::bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0) die_errno("bind");
    if (::listen(l, 1) < 0) die_errno("listen");
    socklen_t len = sizeof a;
    ::getsockname(l, reinterpret_cast<sockaddr*>(&a), &len);
    client = ::socket(AF_INET, SOCK_STREAM, 0);
    tune_socket(client);
    if (::connect(client, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0) die_errno("connect");
    server = ::accept(l, nullptr, nullptr);
    if (server < 0) die_errno("accept");
    tune_socket(server);
    ::close(l);
  }
  ~SocketPair() {
    ::close(client);
    ::close(server);
  }
};

void write_all(int fd, const std::byte* p, size_t n) {
  while (n) {
    const ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      die_errno("send");
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
}

void read_all(int fd, std::byte* p, size_t n) {
  while (n) {
    const ssize_t r = ::recv(fd, p, n, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      die_errno("recv");
    }
    if (r == 0) throw std::runtime_error("recv: the peer closed the connection");
    p += r;
    n -= static_cast<size_t>(r);
  }
}

// The chunks of one round: one a parameter, in the order the backward finalises them.
struct Chunks {
  std::vector<size_t> param, offset, bytes;
  size_t total = 0;
};

Chunks round_chunks(const plan::Plan& plan) {
  runtime::ParamSchedule schedule(plan);
  Chunks c;
  std::vector<uint8_t> seen(plan.params.size(), 0);
  for (const auto& ks : schedule.grads_final)
    for (size_t k : ks) {
      if (seen[k]++) continue;
      c.param.push_back(k);
      c.offset.push_back(c.total);
      c.bytes.push_back(runtime::param_bytes(plan, k));
      c.total += c.bytes.back();
    }
  if (c.param.size() != plan.params.size())
    throw std::runtime_error(fmt::format("the backward finalises {} of the plan's {} gradients", c.param.size(),
                                         plan.params.size()));
  return c;
}

struct Buffers {  // each side's source and destination of a round's bytes
  std::vector<std::byte> client_send, client_recv, server_send, server_recv;
  explicit Buffers(size_t n) : client_send(n), client_recv(n), server_send(n), server_recv(n) {
    std::mt19937 rng(7);
    for (auto* v : {&client_send, &server_send})
      for (auto& b : *v) b = static_cast<std::byte>(rng());
  }
};

void send_chunks(int fd, const Chunks& c, const std::vector<std::byte>& from) {
  for (size_t i = 0; i < c.bytes.size(); ++i) write_all(fd, from.data() + c.offset[i], c.bytes[i]);
}
void recv_chunks(int fd, const Chunks& c, std::vector<std::byte>& into) {
  for (size_t i = 0; i < c.bytes.size(); ++i) read_all(fd, into.data() + c.offset[i], c.bytes[i]);
}

double raw_one_way_then_other(SocketPair& s, const Chunks& c, Buffers& b) {
  const double t0 = now_s();
  std::thread server([&] {
    recv_chunks(s.server, c, b.server_recv);
    send_chunks(s.server, c, b.server_send);
  });
  send_chunks(s.client, c, b.client_send);
  recv_chunks(s.client, c, b.client_recv);
  server.join();
  return now_s() - t0;
}

double raw_both_at_once(SocketPair& s, const Chunks& c, Buffers& b) {
  const double t0 = now_s();
  std::thread server_in([&] { recv_chunks(s.server, c, b.server_recv); });
  std::thread server_out([&] { send_chunks(s.server, c, b.server_send); });
  std::thread client_out([&] { send_chunks(s.client, c, b.client_send); });
  recv_chunks(s.client, c, b.client_recv);
  client_out.join();
  server_out.join();
  server_in.join();
  return now_s() - t0;
}

// ---------------------------------------------------------------------------------------------
// The protocol's frames over net::Connection.

struct FramedPair {
  std::optional<net::Connection> client, server;
  FramedPair() {
    net::Listener l({"127.0.0.1", 0});
    std::thread t([&] { client.emplace(net::Connection::connect({"127.0.0.1", l.port()}, net::Millis(5000))); });
    server = l.accept(net::Millis(5000));
    t.join();
    if (!server || !client) throw std::runtime_error("net::Connection pair: no connection");
  }
};

void send_frames(net::Connection& conn, net::FrameType type, const Chunks& c, const std::vector<std::byte>& from) {
  for (size_t i = 0; i < c.bytes.size(); ++i) {
    net::FrameHeader h;
    h.type = type;
    h.step = 1;
    h.tensor = static_cast<uint32_t>(c.param[i]);
    const std::span<const std::byte> parts[1] = {{from.data() + c.offset[i], c.bytes[i]}};
    conn.send(h, parts);
  }
}
void recv_frames(net::Connection& conn, const Chunks& c, std::vector<std::byte>& into) {
  const net::Millis idle(30000);
  for (size_t i = 0; i < c.bytes.size(); ++i) {
    const net::FrameHeader h = conn.read_header(idle, net::kMaxPayloadBytes);
    if (h.tensor != c.param[i] || h.length != c.bytes[i]) throw std::runtime_error("framed: unexpected frame");
    conn.read_payload(h, {into.data() + c.offset[i], c.bytes[i]}, idle);
  }
}

double framed_one_way_then_other(FramedPair& f, const Chunks& c, Buffers& b) {
  const double t0 = now_s();
  std::thread server([&] {
    recv_frames(*f.server, c, b.server_recv);
    send_frames(*f.server, net::FrameType::value, c, b.server_send);
  });
  send_frames(*f.client, net::FrameType::gradient, c, b.client_send);
  recv_frames(*f.client, c, b.client_recv);
  server.join();
  return now_s() - t0;
}

double framed_both_at_once(FramedPair& f, const Chunks& c, Buffers& b) {
  const double t0 = now_s();
  std::thread server_in([&] { recv_frames(*f.server, c, b.server_recv); });
  std::thread server_out([&] { send_frames(*f.server, net::FrameType::value, c, b.server_send); });
  std::thread client_out([&] { send_frames(*f.client, net::FrameType::gradient, c, b.client_send); });
  recv_frames(*f.client, c, b.client_recv);
  client_out.join();
  server_out.join();
  server_in.join();
  return now_s() - t0;
}

// ---------------------------------------------------------------------------------------------
// The parameter server, in process, with one RemoteExchange worker.

struct PsPair {
  runtime::Engine engine;
  std::unique_ptr<runtime::ParameterServer> ps;
  std::thread serving;
  std::string serve_error;
  std::unique_ptr<runtime::RemoteExchange> worker;
  uint64_t step = 0;

  static runtime::EngineOptions one_thread() {
    runtime::EngineOptions o;
    o.threads.num_threads = 1;
    o.threads.pin = false;
    return o;
  }

  explicit PsPair(const plan::Plan& plan) : engine(plan, one_thread()) {
    runtime::ClusterSpec cluster;
    cluster.ps_hosts = {{"127.0.0.1", 0}};
    cluster.worker_hosts = {{"127.0.0.1", 0}};
    cluster.peer_timeout = std::chrono::milliseconds(60000);
    runtime::TrainConfig train;
    train.batch_size = plan.batch;
    train.lr.initial = plan.optimizer.learning_rate;
    train.lr.decay_steps = plan.optimizer.decay_steps;
    train.lr.fraction = plan.optimizer.lr_fraction;
    train.epochs = 1;
    runtime::PsOptions po;
    po.cluster = cluster;
    po.train = train;
    ps = std::make_unique<runtime::ParameterServer>(plan, po, [](const std::string&) {});
    cluster.ps_hosts[0].port = ps->port();
    serving = std::thread([this] {
      try {
        ps->serve();
      } catch (const std::exception& e) {
        serve_error = e.what();
      }
    });
    // The worker's gradients: small noise, like a real step's (Adam's arithmetic does not
    // depend on the values, but denormals or NaNs would).
    const plan::Plan& p = engine.plan();
    std::mt19937 rng(11);
    std::normal_distribution<float> noise(0.f, 1e-3f);
    for (const plan::Param& par : p.params) {
      const plan::Tensor& g = p.tensors[par.grad];
      float* d = reinterpret_cast<float*>(engine.arena() + g.offset);
      for (size_t e = 0; e < g.bytes / sizeof(float); ++e) d[e] = noise(rng);
    }
    try {
      worker = std::make_unique<runtime::RemoteExchange>(engine, cluster, train, 0, [](const std::string&) {});
      step = worker->start_step();
      worker->sync_state(step, false);  // the initial weights are in
    } catch (...) {
      worker.reset();
      ps->stop();
      serving.join();
      throw;
    }
  }

  // One worker step's exchange, as the training step drives it (no compute in between).
  double round() {
    const double t0 = now_s();
    const size_t ops = engine.plan().backward.size();
    for (size_t i = 0; i < ops; ++i) worker->after_final_backward_op(step, i);
    worker->update(step, 0);
    worker->sync_state(step + 1, false);
    ++step;
    return now_s() - t0;
  }

  ~PsPair() {
    try {
      worker->finish();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "bench_ps_exchange: worker finish: %s\n", e.what());
    }
    worker.reset();
    serving.join();
    if (!serve_error.empty()) std::fprintf(stderr, "bench_ps_exchange: PS: %s\n", serve_error.c_str());
  }
};

// Adam over every parameter, one call a parameter on one thread, exactly as the PS applies it:
// out of place, from one bank of value and moments into the other and back.
double adam_seconds(runtime::Engine& engine, int reps) {
  const plan::Plan& p = engine.plan();
  const kernels::KernelInfo* adam = kernels::find_kernel(p.update.at(0).kernel);
  auto flat = [](std::byte* d, uint64_t bytes) {
    kernels::TensorArg t;
    t.data = reinterpret_cast<float*>(d);
    t.n = t.c = t.h = 1;
    t.w = static_cast<int32_t>(bytes / sizeof(float));
    t.image_stride = t.w;
    return t;
  };
  const uint64_t region = p.params_region.bytes;
  runtime::Arena twin(3 * region, -1);
  std::vector<double> times;
  for (int r = 0; r < reps; ++r) {
    const kernels::StepScalars s = runtime::adam_scalars(p.optimizer, r, p.optimizer.learning_rate, 1.f);
    const double t0 = now_s();
    for (const plan::Param& par : p.params) {
      const plan::Tensor &w = p.tensors[par.value], &g = p.tensors[par.grad], &m = p.tensors[par.adam_m],
                         &v = p.tensors[par.adam_v];
      std::byte* const arena_bank[3] = {engine.arena() + w.offset, engine.arena() + m.offset,
                                        engine.arena() + v.offset};
      std::byte* const value = twin.data() + (w.offset - p.params_region.offset);
      std::byte* const twin_bank[3] = {value, value + region, value + 2 * region};
      std::byte* const* from = r % 2 ? twin_bank : arena_bank;
      std::byte* const* to = r % 2 ? arena_bank : twin_bank;
      kernels::KernelCall call;
      call.t[0] = flat(from[0], w.bytes);
      call.t[1] = flat(engine.arena() + g.offset, g.bytes);
      call.t[2] = flat(from[1], m.bytes);
      call.t[3] = flat(from[2], v.bytes);
      for (int k = 0; k < 3; ++k) call.t[4 + k] = flat(to[k], w.bytes);
      std::copy(p.update[0].f.begin(), p.update[0].f.end(), call.f);
      call.step = &s;
      adam->run(call, 0, adam->work(call));
    }
    times.push_back(now_s() - t0);
  }
  return median(times);
}

// One thread's CRC32C over a round's payload in its chunks (the protocol computes it four
// times a round: each direction's sender and receiver), the median of `reps`.
double crc_seconds(const Chunks& c, Buffers& b, int reps) {
  std::vector<double> crc;
  uint32_t sink = 0;
  for (int r = 0; r < reps; ++r) {
    const double t0 = now_s();
    for (size_t i = 0; i < c.bytes.size(); ++i) sink ^= base::crc32c(b.client_send.data() + c.offset[i], c.bytes[i]);
    crc.push_back(now_s() - t0);
  }
  if (sink == 0x12345678) std::fprintf(stderr, " ");  // keep the CRCs
  return median(crc);
}

struct ExchangeFigures {
  double raw_seq = 0, raw_both = 0, framed = 0, framed_both = 0, ps = 0;  // median seconds a round
  // Median CPU seconds a round, every thread of both ends together (they all run in this
  // process, one kind at a time): on a machine with few cores, how much work each kind is.
  double cpu_raw_seq = 0, cpu_raw_both = 0, cpu_framed = 0, cpu_framed_both = 0, cpu_ps = 0;
  double adam = 0, crc = 0;  // seconds a round of the parts (one thread)
  double ps_wire_bytes = 0;  // a PS round's bytes both ways, headers and heartbeats included
  size_t payload = 0;        // one direction's payload bytes a round
  size_t params = 0;
};

ExchangeFigures measure_exchange(const plan::Plan& plan, int rounds, int warmup) {
  const Chunks c = round_chunks(plan);
  Buffers b(c.total);
  SocketPair raw;
  FramedPair framed;
  PsPair ps(plan);
  std::vector<double> t_seq, t_both, t_framed, t_framed_both, t_ps;
  std::vector<double> cpu_seq, cpu_both, cpu_framed, cpu_framed_both, cpu_ps;
  runtime::RemoteExchange::Stats before{};
  for (int r = 0; r < warmup + rounds; ++r) {
    const bool timed = r >= warmup;
    if (r == warmup) before = ps.worker->stats();
    auto run = [&](auto&& kind, std::vector<double>& wall, std::vector<double>& cpu) {
      const double c0 = process_cpu_s();
      const double t = kind();
      const double c1 = process_cpu_s();
      if (timed) {
        wall.push_back(t);
        cpu.push_back(c1 - c0);
      }
    };
    run([&] { return raw_one_way_then_other(raw, c, b); }, t_seq, cpu_seq);
    run([&] { return ps.round(); }, t_ps, cpu_ps);
    run([&] { return raw_both_at_once(raw, c, b); }, t_both, cpu_both);
    run([&] { return framed_one_way_then_other(framed, c, b); }, t_framed, cpu_framed);
    run([&] { return framed_both_at_once(framed, c, b); }, t_framed_both, cpu_framed_both);
  }
  const runtime::RemoteExchange::Stats after = ps.worker->stats();
  if (std::memcmp(b.client_send.data(), b.server_recv.data(), c.total) ||
      std::memcmp(b.server_send.data(), b.client_recv.data(), c.total))
    throw std::runtime_error("the raw rounds did not deliver the bytes they sent");
  ExchangeFigures x;
  x.raw_seq = median(t_seq);
  x.raw_both = median(t_both);
  x.framed = median(t_framed);
  x.framed_both = median(t_framed_both);
  x.ps = median(t_ps);
  x.cpu_raw_seq = median(cpu_seq);
  x.cpu_raw_both = median(cpu_both);
  x.cpu_framed = median(cpu_framed);
  x.cpu_framed_both = median(cpu_framed_both);
  x.cpu_ps = median(cpu_ps);
  x.ps_wire_bytes = static_cast<double>((after.bytes_sent - before.bytes_sent) +
                                        (after.bytes_received - before.bytes_received)) /
                    rounds;
  x.payload = c.total;
  x.params = c.param.size();
  x.adam = adam_seconds(ps.engine, 5);
  x.crc = crc_seconds(c, b, 5);
  return x;
}

// ---------------------------------------------------------------------------------------------
// Part 2: unetrun processes.

void write_dataset(const std::string& dir, const std::string& split, int n, int h, int w, uint64_t seed) {
  std::filesystem::create_directories(dir);
  std::vector<float> imgs(static_cast<size_t>(n) * h * w * 4), msks(static_cast<size_t>(n) * h * w * 4, 0.f);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> uniform(0.f, 1.f);
  for (int i = 0; i < n; ++i) {
    const int size = 8 + static_cast<int>(uniform(rng) * (h / 3));
    const int y0 = static_cast<int>(uniform(rng) * (h - size)), x0 = static_cast<int>(uniform(rng) * (w - size));
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        const bool lesion = y >= y0 && y < y0 + size && x >= x0 && x < x0 + size;
        const size_t px = ((static_cast<size_t>(i) * h + y) * w + x) * 4;
        for (int ch = 0; ch < 4; ++ch)
          imgs[px + ch] = 0.3f * uniform(rng) + ((lesion && (ch == 2 || ch == 3)) ? 1.5f : 0.f);
        msks[px + (lesion ? 2 : 0)] = 1.f;
      }
  }
  data::write_npy_f32(dir + "/imgs_" + split + ".npy", {size_t(n), size_t(h), size_t(w), 4}, imgs.data());
  data::write_npy_f32(dir + "/msks_" + split + ".npy", {size_t(n), size_t(h), size_t(w), 4}, msks.data());
}

uint16_t free_port() {
  net::Listener l({"127.0.0.1", 0});
  return l.port();
}

// A child process whose output lines are timestamped as they arrive (and kept in `log`).
struct Child {
  std::string name, log;
  pid_t pid = -1;
  int fd = -1;
  std::thread reader;
  std::mutex mu;
  std::vector<std::pair<double, std::string>> lines;
  int status = -1;
  double cpu_seconds = 0, exit_time = 0;

  Child(std::string n, const std::vector<std::string>& argv, std::string log_path)
      : name(std::move(n)), log(std::move(log_path)) {
    int p[2];
    if (::pipe(p) < 0) die_errno("pipe");
    pid = ::fork();
    if (pid < 0) die_errno("fork");
    if (pid == 0) {
      ::dup2(p[1], 1);
      ::dup2(p[1], 2);
      ::close(p[0]);
      ::close(p[1]);
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      _exit(127);
    }
    ::close(p[1]);
    fd = p[0];
    reader = std::thread([this] {
      std::ofstream out(log);
      std::string pending;
      char buf[4096];
      for (;;) {
        const ssize_t r = ::read(fd, buf, sizeof buf);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        const double t = now_s();
        out.write(buf, r);
        pending.append(buf, static_cast<size_t>(r));
        size_t nl;
        while ((nl = pending.find('\n')) != std::string::npos) {
          std::lock_guard lock(mu);
          lines.emplace_back(t, pending.substr(0, nl));
          pending.erase(0, nl + 1);
        }
      }
      if (!pending.empty()) {
        std::lock_guard lock(mu);
        lines.emplace_back(now_s(), pending);
      }
    });
  }

  // Waits for the exit (killing it after `limit` seconds); the exit status, or -SIGNAL.
  int wait(double limit) {
    const double deadline = now_s() + limit;
    int st = 0;
    rusage ru{};
    for (;;) {
      const pid_t r = ::wait4(pid, &st, WNOHANG, &ru);
      if (r == pid) break;
      if (now_s() > deadline) {
        ::kill(pid, SIGKILL);
        ::wait4(pid, &st, 0, &ru);
        std::fprintf(stderr, "bench_ps_exchange: %s still running after %.0f s: killed (log %s)\n", name.c_str(),
                     limit, log.c_str());
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    exit_time = now_s();
    reader.join();
    ::close(fd);
    cpu_seconds = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                  1e-6 * static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
    status = WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
    if (status != 0)
      std::fprintf(stderr, "bench_ps_exchange: %s exited with %d (log %s)\n", name.c_str(), status, log.c_str());
    return status;
  }

  // Arrival time of "Global Step: N" lines, by N.
  std::map<uint64_t, double> step_times() {
    static const std::regex re("Global Step: ([0-9]+)");
    std::map<uint64_t, double> m;
    std::lock_guard lock(mu);
    for (const auto& [t, l] : lines) {
      std::smatch s;
      if (std::regex_search(l, s, re)) m[std::stoull(s[1])] = t;
    }
    return m;
  }
  // The worker's summary: "worker k: X s, Y s of it blocked on the network; sent A MB, received B MB".
  std::optional<std::array<double, 4>> worker_summary() {
    static const std::regex re(
        "worker [0-9]+: ([0-9.]+) s, ([0-9.]+) s of it blocked on the network; sent ([0-9.]+) MB, received "
        "([0-9.]+) MB");
    std::lock_guard lock(mu);
    for (const auto& [t, l] : lines) {
      std::smatch s;
      if (std::regex_search(l, s, re))
        return std::array<double, 4>{std::stod(s[1]), std::stod(s[2]), std::stod(s[3]), std::stod(s[4])};
    }
    return std::nullopt;
  }
};

// Seconds a step over steps (warm, last], from the lines' arrival times.
double step_seconds(Child& c, int warm, int last) {
  const auto t = c.step_times();
  if (!t.count(warm) || !t.count(last))
    throw std::runtime_error(fmt::format("{}: no \"Global Step: {}\" or \"Global Step: {}\" line (log {})", c.name,
                                         warm, last, c.log));
  return (t.at(last) - t.at(warm)) / (last - warm);
}

struct StepRun {
  double step = 0;                             // seconds a global step (worker 0 / standalone)
  double step_w1 = 0;                          // worker 1's
  double blocked[2] = {0, 0}, total[2] = {0, 0};  // each worker's whole run
  double mb_sent[2] = {0, 0}, mb_received[2] = {0, 0};
  double cpu[3] = {0, 0, 0};                   // standalone | ps, w0, w1
};

std::vector<std::string> common_args(const std::string& unetrun, const std::string& plan, const std::string& data,
                                     int64_t batch, int steps) {
  return {unetrun, plan, "--data", data, "--num_threads", "1", "--no_pin", "--batch_size", std::to_string(batch),
          "--epochs", "1000", "--max_steps", std::to_string(steps), "--save_secs", "1000000000"};
}

StepRun run_standalone(const std::string& unetrun, const std::string& plan, const std::string& dir, int64_t b,
                       int steps, int warm, int rep) {
  auto args = common_args(unetrun, plan, dir + "/data", b, steps);
  const std::string tag = fmt::format("standalone.{}", rep);
  args.insert(args.end(), {"--checkpoint_dir", dir + "/" + tag + ".ckpt", "--log", dir + "/" + tag + ".log"});
  Child c(tag, args, dir + "/" + tag + ".out");
  if (c.wait(300) != 0) throw std::runtime_error(fmt::format("{} failed; see {}", tag, c.log));
  std::filesystem::remove_all(dir + "/" + tag + ".ckpt");  // ~90 MB a run, not needed
  StepRun r;
  r.step = step_seconds(c, warm, steps);
  r.cpu[0] = c.cpu_seconds;
  return r;
}

StepRun run_cluster(const std::string& unetrun, const std::string& plan, const std::string& dir, int64_t b,
                    int steps, int warm, int rep) {
  const int64_t global = 2 * b;
  const std::string ps_hosts = fmt::format("127.0.0.1:{}", free_port());
  const std::string worker_hosts = fmt::format("127.0.0.1:{},127.0.0.1:{}", free_port(), free_port());
  const std::string tag = fmt::format("cluster.{}", rep);
  auto base = common_args(unetrun, plan, dir + "/data", global, steps);
  base.insert(base.end(), {"--ps_hosts", ps_hosts, "--worker_hosts", worker_hosts, "--checkpoint_dir",
                           dir + "/" + tag + ".ckpt", "--peer_timeout", "60"});
  auto ps_args = base;
  ps_args.insert(ps_args.end(), {"--ps", "--task_index", "0"});
  std::vector<std::unique_ptr<Child>> procs;
  procs.push_back(std::make_unique<Child>(tag + ".ps", ps_args, dir + "/" + tag + ".ps.out"));
  for (int k = 0; k < 2; ++k) {
    auto w = base;
    w.insert(w.end(), {"--worker", "--task_index", std::to_string(k), "--log", fmt::format("{}/{}.w{}.log", dir, tag, k)});
    procs.push_back(std::make_unique<Child>(fmt::format("{}.w{}", tag, k), w, fmt::format("{}/{}.w{}.out", dir, tag, k)));
  }
  bool ok = true;
  for (size_t i = procs.size(); i-- > 0;) ok = procs[i]->wait(300) == 0 && ok;  // workers first, then the PS
  if (!ok) throw std::runtime_error(fmt::format("{} failed; see its logs in {}", tag, dir));
  std::filesystem::remove_all(dir + "/" + tag + ".ckpt");
  StepRun r;
  r.step = step_seconds(*procs[1], warm, steps);
  r.step_w1 = step_seconds(*procs[2], warm, steps);
  for (int k = 0; k < 2; ++k) {
    const auto s = procs[1 + k]->worker_summary();
    if (!s) throw std::runtime_error(fmt::format("{}: no summary line (log {})", procs[1 + k]->name, procs[1 + k]->log));
    r.total[k] = (*s)[0];
    r.blocked[k] = (*s)[1];
    r.mb_sent[k] = (*s)[2];
    r.mb_received[k] = (*s)[3];
  }
  for (int i = 0; i < 3; ++i) r.cpu[i] = procs[i]->cpu_seconds;
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench_ps_exchange: the parameter server's exchange on loopback against raw TCP, and the step time "
               "of 1 PS + 2 workers against one process"};
  std::string plan_path, model = std::string(UNET_SOURCE_DIR) + "/models/unet_brats.def", unetrun = UNETRUN_PATH;
  std::string work_dir;
  uint32_t batch = 2;
  int rounds = 20, warmup_rounds = 2, steps = 30, warm_steps = 3, reps = 3, images = 32;
  bool skip_exchange = false, skip_steps = false, keep = false;
  app.add_option("--plan", plan_path, "plan.bin to use (default: compile --model for --batch, native tier)");
  app.add_option("--model", model, "model.def compiled when no --plan is given")->capture_default_str();
  app.add_option("--batch", batch, "micro-batch b: standalone batch, and each worker's share of a global 2b")
      ->capture_default_str()->check(CLI::Range(1u, 1024u));
  app.add_option("--rounds", rounds, "timed exchange rounds of each kind")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--warmup_rounds", warmup_rounds, "untimed rounds first")->capture_default_str();
  app.add_option("--steps", steps, "training steps of each process run")->capture_default_str();
  app.add_option("--warm_steps", warm_steps, "steps left out of the step time")->capture_default_str();
  app.add_option("--reps", reps, "standalone / cluster runs, alternating")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--images", images, "synthetic training images (128x128, or the plan's size)")->capture_default_str();
  app.add_option("--unetrun", unetrun, "the unetrun binary of part 2")->capture_default_str();
  app.add_option("--work_dir", work_dir, "where data, plan and logs go (default: a fresh temp folder, removed at "
                                         "the end unless --keep)");
  app.add_flag("--keep", keep, "keep the default temp folder (data, plan, the processes' logs)");
  app.add_flag("--skip_exchange", skip_exchange, "skip part 1");
  app.add_flag("--skip_steps", skip_steps, "skip part 2");
  CLI11_PARSE(app, argc, argv);
  try {
    if (steps <= warm_steps) throw std::runtime_error("--steps must exceed --warm_steps");
    const bool own_dir = work_dir.empty() && !keep;
    if (work_dir.empty())
      work_dir = (std::filesystem::temp_directory_path() / fmt::format("bench_ps_exchange_{}", ::getpid())).string();
    std::filesystem::create_directories(work_dir);

    plan::Plan plan;
    if (!plan_path.empty()) {
      plan = runtime::load_plan(plan_path);
    } else {
      graph::Graph g = graph::parse_model_file(model);
      plan = graph::lower_to_plan(g, {batch, kernels::best_host_tier(), true});
      plan::validate_plan(plan, model);
      plan_path = work_dir + "/plan.bin";
      plan::write_plan_file(plan, plan_path);
    }
    uint64_t param_total = 0;
    for (size_t k = 0; k < plan.params.size(); ++k) param_total += runtime::param_bytes(plan, k);
    fmt::print("plan {}: {} tier {}, micro-batch {}, {}x{}x{}, {} parameters, {:.2f} MB of weights\n", plan_path,
               plan.model_name, kernels::tier_name(plan.tier), plan.batch, plan.in_h, plan.in_w, plan.in_c,
               plan.params.size(), static_cast<double>(param_total) / 1e6);
    fmt::print("host: {} CPUs; work dir {}\n\n", std::thread::hardware_concurrency(), work_dir);

    if (!skip_exchange) {
      const ExchangeFigures x = measure_exchange(plan, rounds, warmup_rounds);
      const double moved = 2.0 * static_cast<double>(x.payload);  // gradients up + values down
      auto mbs = [&](double s) { return moved / s / 1e6; };
      fmt::print("## Part 1: exchange throughput on loopback\n\n");
      fmt::print("A round: {} gradients up + {} values down, {:.2f} MB of payload in {} chunks each way (one a "
                 "parameter, the backward's order). Median of {} rounds after {} warm-up, the kinds interleaved.\n\n",
                 x.params, x.params, moved / 1e6, x.params, rounds, warmup_rounds);
      fmt::print("| exchange | ms a round | MB/s (payload both ways) | PS throughput as a share of it | CPU ms a "
                 "round (both ends) |\n"
                 "|---|---|---|---|---|\n");
      auto row = [&](const char* name, double t, double cpu) {
        fmt::print("| {} | {:.1f} | {:.0f} | {:.0f} % | {:.1f} |\n", name, t * 1e3, mbs(t), 100 * t / x.ps, cpu * 1e3);
      };
      row("raw TCP, one way then the other", x.raw_seq, x.cpu_raw_seq);
      row("raw TCP, both ways at once", x.raw_both, x.cpu_raw_both);
      row("net::Connection frames, one way then the other", x.framed, x.cpu_framed);
      row("net::Connection frames, both ways at once", x.framed_both, x.cpu_framed_both);
      row("parameter server: RemoteExchange -> ParameterServer, 1 worker, Adam included", x.ps, x.cpu_ps);
      fmt::print("\nPS round on the wire: {:.2f} MB both ways (headers, pulls and heartbeats included).\n",
                 x.ps_wire_bytes / 1e6);
      fmt::print("One thread's share of a round's work: CRC32C ({}) of one direction's payload {:.1f} ms ({:.1f} "
                 "GB/s; computed 4 times a round: each sender and receiver); Adam over every parameter, out of place "
                 "as the PS runs it, {:.1f} ms.\n",
                 base::crc32c_method_name(base::crc32c_fastest()), x.crc * 1e3,
                 static_cast<double>(x.payload) / x.crc / 1e9, x.adam * 1e3);
      fmt::print("PS / raw TCP: {:.0f} % of one way then the other, {:.0f} % of both ways at once.\n\n",
                 100 * x.raw_seq / x.ps, 100 * x.raw_both / x.ps);
    }

    if (!skip_steps) {
      const std::string dir = work_dir;
      write_dataset(dir + "/data", "train", images, static_cast<int>(plan.in_h), static_cast<int>(plan.in_w), 5);
      write_dataset(dir + "/data", "test", 2, static_cast<int>(plan.in_h), static_cast<int>(plan.in_w), 6);
      std::vector<StepRun> alone, cluster;
      for (int r = 0; r < reps; ++r) {
        alone.push_back(run_standalone(unetrun, plan_path, dir, plan.batch, steps, warm_steps, r));
        cluster.push_back(run_cluster(unetrun, plan_path, dir, plan.batch, steps, warm_steps, r));
      }
      fmt::print("## Part 2: step time, unetrun processes\n\n");
      fmt::print("Each run {} steps; the step time over steps {}..{} from the arrival of the \"Global Step\" lines. "
                 "unetrun --num_threads 1 --no_pin, batch {} a process (standalone batch {}; cluster global batch "
                 "{}), {} runs of each, alternating. Blocked: RemoteExchange::stats().blocked_seconds over the "
                 "worker's whole run (its first step, which waits for the other worker's start, included). "
                 "CPU: user + system seconds of each process's whole run.\n\n",
                 steps, warm_steps + 1, steps, plan.batch, plan.batch, 2 * plan.batch, reps);
      fmt::print("| run | rep | s a step (w0; w1) | images/s | blocked s (w0; w1) | blocked ms a step (w0; w1) | "
                 "CPU s (standalone or ps; w0; w1) |\n|---|---|---|---|---|---|---|\n");
      for (int r = 0; r < reps; ++r) {
        const StepRun& a = alone[r];
        fmt::print("| standalone, 1 process x 1 thread | {} | {:.3f} | {:.2f} | — | — | {:.1f} |\n", r, a.step,
                   plan.batch / a.step, a.cpu[0]);
        const StepRun& c = cluster[r];
        fmt::print("| 1 PS + 2 workers x 1 thread | {} | {:.3f}; {:.3f} | {:.2f} | {:.2f}; {:.2f} | {:.0f}; {:.0f} | "
                   "{:.1f}; {:.1f}; {:.1f} |\n",
                   r, c.step, c.step_w1, 2 * plan.batch / c.step, c.blocked[0], c.blocked[1],
                   1e3 * c.blocked[0] / steps, 1e3 * c.blocked[1] / steps, c.cpu[0], c.cpu[1], c.cpu[2]);
      }
      std::vector<double> sa, sc, bl;
      for (const auto& a : alone) sa.push_back(a.step);
      for (const auto& c : cluster) {
        sc.push_back(c.step);
        bl.push_back(0.5 * (c.blocked[0] + c.blocked[1]) / steps);
      }
      const double ma = median(sa), mc = median(sc);
      fmt::print("\nMedian step: standalone {:.3f} s ({:.2f} images/s), cluster {:.3f} s ({:.2f} images/s): the "
                 "cluster's step is {:.2f}x the standalone's, its throughput {:.2f}x (2 would be perfect scaling); "
                 "blocked on the network {:.0f} ms a step ({:.0f} % of the cluster's step).\n",
                 ma, plan.batch / ma, mc, 2 * plan.batch / mc, mc / ma, (2 * plan.batch / mc) / (plan.batch / ma),
                 1e3 * median(bl), 100 * median(bl) / mc);
      fmt::print("Worker 0's traffic (rep 0): sent {:.1f} MB, received {:.1f} MB in its {} steps (initial weights and "
                 "the final state with Adam's moments included).\n",
                 cluster[0].mb_sent[0], cluster[0].mb_received[0], steps);
    }
    if (own_dir) std::filesystem::remove_all(work_dir);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_ps_exchange: %s\n", e.what());
    return 1;
  }
}
