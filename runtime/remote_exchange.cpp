#include "runtime/remote_exchange.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "net/connection.h"
#include "net/handshake.h"
#include "plan/plan_io.h"
#include "runtime/param_schedule.h"
#include "runtime/ps_wire.h"
#include "runtime/runtime_error.h"

namespace unet::runtime {

namespace {

using net::FrameHeader;
using net::FrameType;
using ConnPtr = std::shared_ptr<net::Connection>;
using Clock = std::chrono::steady_clock;

constexpr uint64_t kNone = UINT64_MAX;

struct Outgoing {
  FrameType type;
  uint64_t step;
  uint32_t tensor;
  size_t ps;
  std::span<const std::byte> payload;
};

}  // namespace

struct RemoteExchange::State {
  Engine& engine;
  const plan::Plan& plan;
  ClusterSpec cluster;
  TrainConfig train;
  size_t index;
  Log log;
  ParamSchedule schedule;
  std::vector<uint32_t> shard;
  std::vector<ConnPtr> ps;
  uint64_t start = 0, max_frame = 0;

  std::mutex mu;
  std::condition_variable cv;
  std::vector<uint64_t> have;  // per parameter: the step its value in the arena is for
  bool has_sums = false;
  uint64_t sums_step = 0;
  DiceSums sums;
  size_t states_done = 0, done_acks = 0;
  std::vector<uint64_t> abort_step;  // per PS: the last step it completed, once it aborted
  std::vector<uint8_t> gone;         // per PS: its connection is over
  std::vector<uint8_t> acked;        // per PS: it acknowledged our done
  std::deque<Outgoing> queue;
  bool sending = false, failed = false, closing = false, finishing = false, ended = false;
  uint64_t steps_done = 0;  // global steps this worker completed (its done frame says so)
  uint64_t end_step = 0;    // with `ended`: the run's last step, as the chief ended it
  std::string reason;
  double blocked = 0;
  std::atomic<uint64_t> sent{0}, received{0};
  std::vector<std::thread> readers;
  std::thread sender, heartbeat;

  State(Engine& e, const ClusterSpec& c, const TrainConfig& t, size_t k, Log l)
      : engine(e), plan(e.plan()), cluster(c), train(t), index(k), log(std::move(l)), schedule(e.plan()) {}

  net::Millis timeout() const { return cluster.peer_timeout; }
  std::string ps_name(size_t j) const { return fmt::format("parameter server {} ({})", j, cluster.ps_hosts[j].str()); }

  void fail(const std::string& why) {
    std::lock_guard lock(mu);
    if (failed || closing) return;
    failed = true;
    reason = why;
    cv.notify_all();
  }

  // Waits (the compute thread) until `ready` holds, counting the time as blocked.
  // Waiting for something of global step `step` (kNone: of no step) when the chief has ended
  // the run at end_step <= step: it will never come (RunEnded). Earlier steps complete.
  template <class Pred>
  void wait(std::unique_lock<std::mutex>& lock, Pred ready, uint64_t step = kNone) {
    const auto past_the_end = [&] { return ended && step != kNone && step >= end_step; };
    if (!failed && !past_the_end() && ready()) return;
    const auto t0 = Clock::now();
    cv.wait(lock, [&] { return failed || past_the_end() || ready(); });
    blocked += std::chrono::duration<double>(Clock::now() - t0).count();
    if (failed) throw RuntimeError(reason);
    if (past_the_end()) throw RunEnded(fmt::format("the chief ended the run at step {}", end_step));
  }

  void enqueue(Outgoing o) {
    std::lock_guard lock(mu);
    queue.push_back(o);
    cv.notify_all();
  }

  void send_loop() {
    std::unique_lock lock(mu);
    for (;;) {
      cv.wait(lock, [&] { return closing || failed || !queue.empty(); });
      if (closing || failed) return;
      const Outgoing o = queue.front();
      queue.pop_front();
      sending = true;
      lock.unlock();
      try {
        const std::span<const std::byte> parts[1] = {o.payload};
        FrameHeader h;
        h.type = o.type;
        h.step = o.step;
        h.tensor = o.tensor;
        ps[o.ps]->send(h, o.payload.empty() ? std::span<const std::span<const std::byte>>{} : parts);
        sent += net::kFrameHeaderBytes + o.payload.size();
      } catch (const std::exception& e) {
        fail(fmt::format("lost {}: {}", ps_name(o.ps), e.what()));
      }
      lock.lock();
      sending = false;
      cv.notify_all();
    }
  }

  std::byte* tensor_bytes(int32_t id) { return engine.arena() + plan.tensors[id].offset; }

  void read_loop(size_t j) {
    net::Connection& c = *ps[j];
    try {
      for (;;) {
        const FrameHeader h = c.read_header(timeout(), max_frame);
        received += net::kFrameHeaderBytes + h.length;
        switch (h.type) {
          case FrameType::value:
          case FrameType::adam_m:
          case FrameType::adam_v: {
            const size_t p = h.tensor;
            if (p >= plan.params.size() || shard[p] != j || h.offset != 0 || h.length != param_bytes(plan, p))
              throw RuntimeError(fmt::format("a {} frame for tensor {} (offset {}, length {}) that it does not hold",
                                             net::frame_type_name(h.type), h.tensor, h.offset, h.length));
            const plan::Param& par = plan.params[p];
            const int32_t id = h.type == FrameType::value ? par.value
                               : h.type == FrameType::adam_m ? par.adam_m
                                                              : par.adam_v;
            c.read_payload(h, {tensor_bytes(id), static_cast<size_t>(h.length)}, timeout());
            if (h.type == FrameType::value) {
              std::lock_guard lock(mu);
              if (have[p] == kNone || h.step > have[p]) have[p] = h.step;
              cv.notify_all();
            }
            break;
          }
          case FrameType::global_sums: {
            if (j != 0 || h.length != wire::kGlobalSumsBytes)
              throw RuntimeError(fmt::format("a global_sums frame of {} bytes", h.length));
            std::array<std::byte, wire::kGlobalSumsBytes> b;
            c.read_payload(h, b, timeout());
            std::lock_guard lock(mu);
            sums = wire::decode_sums(b);
            sums_step = h.step;
            has_sums = true;
            cv.notify_all();
            break;
          }
          case FrameType::state_done: {
            if (h.length != 0) throw RuntimeError("a state_done frame with a payload");
            std::lock_guard lock(mu);
            ++states_done;
            cv.notify_all();
            break;
          }
          case FrameType::done: {
            if (h.length != 0) throw RuntimeError("a done frame with a payload");
            std::lock_guard lock(mu);
            if (h.tensor == wire::kDoneAcknowledged) {
              acked[j] = 1;
              ++done_acks;
            } else if (!ended) {  // the chief ended the run after global step h.step
              ended = true;
              end_step = h.step;
            }
            cv.notify_all();
            break;
          }
          case FrameType::heartbeat:
            if (h.length != 0) throw RuntimeError("a heartbeat with a payload");
            break;
          case FrameType::abort: {
            if (h.length > limits::kMaxReasonBytes) throw RuntimeError("an abort with an oversized reason");
            const std::string why = wire::bytes_text(c.read_payload(h, timeout()));
            {
              std::lock_guard lock(mu);
              abort_step[j] = h.step;
              cv.notify_all();
            }
            fail(why);
            break;  // the PS may still answer a state request (recover_state)
          }
          default:
            throw RuntimeError(fmt::format("a {} frame, which a parameter server never sends",
                                           net::frame_type_name(h.type)));
        }
      }
    } catch (const std::exception& e) {
      bool acknowledged;
      {
        std::lock_guard lock(mu);
        acknowledged = acked[j] != 0;  // it said goodbye: its hanging up is no failure
      }
      if (!acknowledged) fail(fmt::format("lost {}: {}", ps_name(j), e.what()));
    }
    std::lock_guard lock(mu);
    gone[j] = 1;
    cv.notify_all();
  }
};

RemoteExchange::RemoteExchange(Engine& engine, const ClusterSpec& cluster, const TrainConfig& train, size_t task_index,
                               Log log)
    : s_(std::make_unique<State>(engine, cluster, train, task_index, std::move(log))) {
  State& s = *s_;
  const plan::Plan& p = s.plan;
  if (cluster.ps_tasks() == 0) throw RuntimeError("--ps_hosts lists no parameter servers");
  if (task_index >= cluster.workers())
    throw RuntimeError(fmt::format("--task_index {} is out of range: --worker_hosts lists {} workers", task_index,
                                   cluster.workers()));
  s.shard = shard_params(p, cluster.ps_tasks());
  s.have.assign(p.params.size(), kNone);
  s.abort_step.assign(cluster.ps_tasks(), kNone);
  s.gone.assign(cluster.ps_tasks(), 0);
  s.acked.assign(cluster.ps_tasks(), 0);
  s.max_frame = std::max<uint64_t>({wire::kGlobalSumsBytes, limits::kMaxReasonBytes, 64});
  for (size_t k = 0; k < p.params.size(); ++k) s.max_frame = std::max(s.max_frame, param_bytes(p, k));

  net::Hello hello;
  hello.role = 0;
  hello.task_index = static_cast<uint32_t>(task_index);
  hello.plan_fingerprint = plan::plan_fingerprint(p);
  hello.config_digest = config_digest(cluster, train);
  std::vector<uint64_t> steps;
  for (size_t j = 0; j < cluster.ps_tasks(); ++j) {
    try {
      auto c = std::make_shared<net::Connection>(
          net::Connection::connect(cluster.ps_hosts[j], std::max(cluster.peer_timeout, net::Millis(1000))));
      const std::vector<std::byte> app = net::client_handshake(*c, hello, cluster.token, cluster.peer_timeout);
      if (app.size() != wire::kWelcomeBytes)
        throw RuntimeError(fmt::format("a welcome of {} bytes (expected {})", app.size(), wire::kWelcomeBytes));
      steps.push_back(wire::get_u64(app.data()));
      s.ps.push_back(std::move(c));
    } catch (const std::exception& e) {
      throw RuntimeError(fmt::format("{}: {}", s.ps_name(j), e.what()));
    }
  }
  s.start = steps[0];
  for (size_t j = 1; j < steps.size(); ++j)
    if (steps[j] != s.start)
      throw RuntimeError(fmt::format("the parameter servers hold different global steps (PS 0: {}, PS {}: {}); "
                                     "restart them all with the same --resume",
                                     s.start, j, steps[j]));
  for (size_t j = 0; j < s.ps.size(); ++j) s.readers.emplace_back([&s, j] { s.read_loop(j); });
  s.sender = std::thread([&s] { s.send_loop(); });
  s.heartbeat = std::thread([&s] {
    const auto every = std::max(s.timeout() / 4, net::Millis(20));
    std::unique_lock lock(s.mu);
    const auto over = [&] { return s.closing || s.failed; };
    while (!over()) {
      if (s.cv.wait_for(lock, every, over)) break;  // (woken early only by the end)
      lock.unlock();
      for (auto& c : s.ps) {
        try {
          c->send(FrameType::heartbeat, 0, 0);
        } catch (const std::exception&) {  // the reader reports it
        }
      }
      lock.lock();
    }
  });
  for (size_t k = 0; k < p.params.size(); ++k)
    s.enqueue({FrameType::pull, s.start, static_cast<uint32_t>(k), s.shard[k], {}});
  s.log(fmt::format("worker {}: connected to {} parameter server(s), global step {}", task_index, s.ps.size(),
                    s.start));
}

RemoteExchange::~RemoteExchange() {
  State& s = *s_;
  std::string why;
  std::vector<uint8_t> gone;
  {
    std::lock_guard lock(s.mu);
    if (s.failed && !s.finishing) why = s.reason;
    gone = s.gone;
    s.closing = true;
    s.cv.notify_all();
  }
  // A worker leaving on an error tells every PS still there why, so that the run's other
  // processes name the cause (a lost PS) rather than this worker's hanging up.
  if (!why.empty())
    for (size_t j = 0; j < s.ps.size(); ++j)
      if (!gone[j]) {
        try {
          s.ps[j]->send(FrameType::abort, 0, 0, wire::text_bytes(why));
        } catch (const std::exception&) {
        }
      }
  for (auto& c : s.ps) c->shutdown();
  if (s.sender.joinable()) s.sender.join();
  if (s.heartbeat.joinable()) s.heartbeat.join();
  for (auto& t : s.readers) t.join();
}

uint64_t RemoteExchange::start_step() const { return s_->start; }

void RemoteExchange::before_forward_op(uint64_t step, size_t i) {
  State& s = *s_;
  const std::vector<size_t>& reads = s.schedule.forward_reads[i];
  if (reads.empty()) return;
  std::unique_lock lock(s.mu);
  s.wait(
      lock,
      [&] {
        for (size_t p : reads)
          if (s.have[p] == kNone || s.have[p] < step) return false;
        return true;
      },
      step);
}

void RemoteExchange::after_final_backward_op(uint64_t step, size_t i) {
  State& s = *s_;
  const plan::Plan& p = s.plan;
  for (size_t k : s.schedule.grads_final[i]) {
    const plan::Tensor& g = p.tensors[p.params[k].grad];
    s.enqueue({FrameType::gradient, step, static_cast<uint32_t>(k), s.shard[k],
               {s.engine.arena() + g.offset, static_cast<size_t>(g.bytes)}});
  }
  auto pull = [&](const std::vector<size_t>& params) {
    for (size_t k : params) s.enqueue({FrameType::pull, step + 1, static_cast<uint32_t>(k), s.shard[k], {}});
  };
  if (i == 0) pull(s.schedule.free_before_backward);
  pull(s.schedule.values_free[i]);
}

DiceSums RemoteExchange::dice_sums(uint64_t step, std::span<const float> partials) {
  State& s = *s_;
  if (s.cluster.loss_scope == LossScope::worker) {
    DiceSums own;
    own.add_partials(partials.data(), partials.size() / 3);
    return own;
  }
  {
    std::lock_guard lock(s.mu);
    s.has_sums = false;
  }
  try {
    s.ps[0]->send(FrameType::dice_partials, step, 0,
                  {reinterpret_cast<const std::byte*>(partials.data()), partials.size_bytes()});
    s.sent += net::kFrameHeaderBytes + partials.size_bytes();
  } catch (const std::exception& e) {
    s.fail(fmt::format("lost {}: {}", s.ps_name(0), e.what()));
  }
  std::unique_lock lock(s.mu);
  s.wait(lock, [&] { return s.has_sums && s.sums_step == step; }, step);
  return s.sums;
}

void RemoteExchange::update(uint64_t step, double) {
  // The parameter servers update; the next step zeroes the gradients, so they must be out.
  State& s = *s_;
  std::unique_lock lock(s.mu);
  s.wait(lock, [&] { return s.queue.empty() && !s.sending; });
  s.steps_done = step + 1;
}

void RemoteExchange::sync_state(uint64_t steps, bool moments) {
  State& s = *s_;
  {
    std::unique_lock lock(s.mu);
    s.wait(lock, [&] {
      for (uint64_t v : s.have)
        if (v == kNone || v < steps) return false;
      return s.queue.empty() && !s.sending;
    });
    if (!moments) return;
    s.states_done = 0;
  }
  for (size_t j = 0; j < s.ps.size(); ++j) s.enqueue({FrameType::state_request, steps, 0, j, {}});
  std::unique_lock lock(s.mu);
  s.wait(lock, [&] { return s.states_done == s.ps.size(); });
}

void RemoteExchange::finish() {
  State& s = *s_;
  std::unique_lock lock(s.mu);
  s.finishing = true;
  const uint64_t steps = std::max(s.steps_done, s.start);
  lock.unlock();
  for (size_t j = 0; j < s.ps.size(); ++j) s.enqueue({FrameType::done, steps, 0, j, {}});
  lock.lock();
  s.wait(lock, [&] { return s.done_acks == s.ps.size(); });
  s.closing = true;
  s.cv.notify_all();
}

std::optional<uint64_t> RemoteExchange::recover_state() {
  State& s = *s_;
  std::unique_lock lock(s.mu);
  if (!s.failed) return std::nullopt;
  const auto all_aborted = [&] {
    return std::none_of(s.abort_step.begin(), s.abort_step.end(), [](uint64_t v) { return v == kNone; });
  };
  // Each PS notices a lost worker itself, within the peer timeout; a lost PS never answers.
  const auto lost_one = [&] {
    for (size_t j = 0; j < s.ps.size(); ++j)
      if (s.gone[j] && s.abort_step[j] == kNone) return true;
    return false;
  };
  if (!s.cv.wait_for(lock, 2 * s.timeout(), [&] { return all_aborted() || lost_one(); }) || lost_one())
    return std::nullopt;
  const uint64_t step = *std::min_element(s.abort_step.begin(), s.abort_step.end());
  s.states_done = 0;
  lock.unlock();
  try {
    for (auto& c : s.ps) c->send(FrameType::state_request, step, 0);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  lock.lock();
  const auto lost_any = [&] { return std::any_of(s.gone.begin(), s.gone.end(), [](uint8_t g) { return g != 0; }); };
  if (!s.cv.wait_for(lock, 2 * s.timeout(), [&] { return s.states_done == s.ps.size() || lost_any(); }) ||
      s.states_done != s.ps.size())
    return std::nullopt;
  return step;
}

RemoteExchange::Stats RemoteExchange::stats() const {
  std::lock_guard lock(s_->mu);
  return {s_->blocked, s_->sent.load(), s_->received.load()};
}

}  // namespace unet::runtime
