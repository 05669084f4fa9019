#include "runtime/parameter_server.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "kernels/kernel_registry.h"
#include "net/connection.h"
#include "net/handshake.h"
#include "plan/plan_io.h"
#include "runtime/arena.h"
#include "runtime/checkpoint.h"
#include "runtime/param_init.h"
#include "runtime/ps_wire.h"
#include "runtime/runtime_error.h"

namespace unet::runtime {

namespace {

using net::FrameHeader;
using net::FrameType;
using ConnPtr = std::shared_ptr<net::Connection>;

std::span<const std::byte> bytes_of(const std::byte* p, uint64_t n) { return {p, static_cast<size_t>(n)}; }

kernels::TensorArg flat(std::byte* p, uint64_t bytes) {
  kernels::TensorArg t;
  t.data = reinterpret_cast<float*>(p);
  t.n = t.c = t.h = 1;
  t.w = static_cast<int32_t>(bytes / sizeof(float));
  t.image_stride = t.w;
  return t;
}

}  // namespace

struct ParameterServer::State {
  plan::Plan plan;
  PsOptions opt;
  Log log;
  size_t workers = 0;
  uint64_t share_images = 0;  // images of each worker's share of the global batch
  uint64_t fingerprint = 0, digest = 0;
  std::unique_ptr<net::Listener> listener;
  // A parameter's value and moments live in two banks: the arena (the plan's layout, which also
  // holds the summed gradients) and the twin (value | m | v regions, region-relative). Adam
  // reads one bank and writes the other, so the state before each parameter's latest update
  // stays whole, for a failure checkpoint of the last completed step, at no copy.
  Arena arena;
  Arena twin;
  std::vector<uint8_t> bank;  // per parameter: the bank holding its state at `version`
  std::vector<std::unique_ptr<Arena>> received;  // per worker: a grads region its gradients land in
  std::vector<uint32_t> shard;
  std::vector<size_t> mine;  // parameters this task holds
  const kernels::KernelInfo* adam = nullptr;
  uint64_t max_frame = 0;

  std::mutex mu;
  std::condition_variable cv;
  std::vector<uint64_t> version;          // per parameter: updates applied
  std::vector<std::vector<uint8_t>> got;  // [worker][param]: its gradient for `version` is in
  std::vector<uint32_t> count;            // per parameter: workers whose gradient is in
  std::vector<std::vector<size_t>> pending;  // per parameter: workers waiting for version + 1
  std::vector<ConnPtr> peers;                // registered workers, by index
  std::vector<std::string> peer_names;
  std::vector<uint8_t> done;
  std::vector<uint64_t> done_step;  // per worker: the step it said done after
  std::vector<uint8_t> ended;  // per worker: its connection is over
  size_t done_count = 0, applying = 0;  // applying: updates queued or running
  std::deque<size_t> updates;           // parameters whose every gradient is in
  bool quitting = false;                // the updaters stop
  std::vector<std::thread> updaters;
  bool failed = false, stopping = false;
  std::string reason;
  uint64_t dice_step = 0;  // the step whose Dice partials are being gathered
  size_t dice_got = 0;
  std::vector<float> dice_buf;
  std::vector<uint8_t> dice_from;
  std::vector<ConnPtr> conns;  // every accepted connection (shut down at the end)
  std::vector<std::thread> threads;

  State(plan::Plan p, PsOptions o, Log l)
      : plan(std::move(p)),
        opt(std::move(o)),
        log(std::move(l)),
        arena(plan.arena_bytes, opt.numa_node),
        twin(3 * plan.params_region.bytes, opt.numa_node) {}

  net::Millis timeout() const { return opt.cluster.peer_timeout; }
  const plan::Tensor& value_of(size_t p) const { return plan.tensors[plan.params[p].value]; }
  uint64_t rel(size_t p) const { return value_of(p).offset - plan.params_region.offset; }

  struct StateAt {
    std::byte *value, *m, *v;
  };
  StateAt state_in(size_t p, uint8_t b) {
    const plan::Param& par = plan.params[p];
    if (b == 0)
      return {arena.data() + value_of(p).offset, arena.data() + plan.tensors[par.adam_m].offset,
              arena.data() + plan.tensors[par.adam_v].offset};
    std::byte* value = twin.data() + rel(p);
    const uint64_t region = plan.params_region.bytes;
    return {value, value + region, value + 2 * region};
  }

  uint64_t lowest_version_locked() const {
    uint64_t v = UINT64_MAX;
    for (size_t p : mine) v = std::min(v, version[p]);
    return mine.empty() ? 0 : v;
  }

  std::string worker_name(size_t k) const { return fmt::format("worker {} ({})", k, peer_names[k]); }

  // Stops the run: every worker gets an abort carrying the last step this shard completed.
  void fail(const std::string& why) {
    std::vector<ConnPtr> to;
    uint64_t step;
    {
      std::lock_guard lock(mu);
      if (failed || stopping || done_count == workers) return;
      failed = true;
      reason = why;
      step = lowest_version_locked();
      for (auto& c : peers)
        if (c) to.push_back(c);
      cv.notify_all();
    }
    log(fmt::format("PS {}: {}; stopping the run at step {}", opt.task_index, why, step));
    const std::string text = fmt::format("parameter server {}: {}", opt.task_index, why);
    for (auto& c : to) {
      try {
        c->send(FrameType::abort, step, 0, wire::text_bytes(text));
      } catch (const std::exception&) {
      }
    }
  }

  void update_loop() {
    std::unique_lock lock(mu);
    for (;;) {
      cv.wait(lock, [&] { return quitting || !updates.empty(); });
      if (updates.empty()) return;
      const size_t p = updates.front();
      updates.pop_front();
      lock.unlock();
      apply(p);
      lock.lock();
    }
  }

  // `value` is the parameter's bank at `step`: it is not written again before every worker has
  // sent its gradient for `step`, which each sends only after this value has reached it.
  void send_value(const ConnPtr& c, size_t p, uint64_t step, const std::byte* value) {
    try {
      c->send(FrameType::value, step, static_cast<uint32_t>(p), bytes_of(value, value_of(p).bytes));
    } catch (const std::exception&) {  // that worker's reader notices the broken connection
    }
  }

  // g = r0 + r1 + ... in worker order, then Adam with the plan's kernel from one bank into the
  // other.
  void apply(size_t p) {
    const plan::Param& par = plan.params[p];
    const plan::Tensor& g = plan.tensors[par.grad];
    const uint64_t bytes = value_of(p).bytes;
    uint8_t from;
    {
      std::lock_guard lock(mu);
      from = bank[p];
    }
    const StateAt in = state_in(p, from), out = state_in(p, static_cast<uint8_t>(1 - from));
    // The sum builds up in worker 0's buffer ((r0 + r1) + r2 ...): no copy, and that buffer
    // is not written again before this parameter's next version, which needs this update.
    const uint64_t grel = g.offset - plan.grads_region.offset;
    float* sum = reinterpret_cast<float*>(received[0]->data() + grel);
    const size_t n = g.bytes / sizeof(float);
    for (size_t k = 1; k < workers; ++k) {
      const float* add = reinterpret_cast<const float*>(received[k]->data() + grel);
      for (size_t e = 0; e < n; ++e) sum[e] = sum[e] + add[e];
    }
    const uint64_t step = version[p];  // only this thread changes it while count[p] == workers
    const float scale = opt.cluster.loss_scope == LossScope::worker ? 1.f / static_cast<float>(workers) : 1.f;
    const kernels::StepScalars s = adam_scalars(plan.optimizer, step, opt.train.lr.at(step), scale);
    kernels::KernelCall call;
    call.t[0] = flat(in.value, bytes);
    call.t[1] = flat(reinterpret_cast<std::byte*>(sum), g.bytes);
    call.t[2] = flat(in.m, bytes);
    call.t[3] = flat(in.v, bytes);
    call.t[4] = flat(out.value, bytes);
    call.t[5] = flat(out.m, bytes);
    call.t[6] = flat(out.v, bytes);
    std::copy(plan.update[0].f.begin(), plan.update[0].f.end(), call.f);
    call.step = &s;
    adam->run(call, 0, adam->work(call));

    std::vector<ConnPtr> to;
    {
      std::lock_guard lock(mu);
      version[p] = step + 1;
      bank[p] = static_cast<uint8_t>(1 - from);
      for (auto& got_k : got) got_k[p] = 0;
      count[p] = 0;
      for (size_t k : pending[p])
        if (peers[k]) to.push_back(peers[k]);
      pending[p].clear();
      --applying;
      cv.notify_all();
    }
    for (auto& c : to) send_value(c, p, step + 1, out.value);
  }

  // A worker that said done ended its run at its step, so nobody may train past it (its part
  // would never come): an error, unless it was the chief, whose end is everyone's (a stopped
  // run; the others are being told). True: the chief ended the run, drop the frame.
  bool run_ended_locked(size_t k) const {
    if (k != 0 && done[0]) return true;
    for (size_t o = 1; o < workers; ++o)
      if (o != k && done[o])
        throw RuntimeError(fmt::format("trains on, but worker {} ended its run at step {}", o, done_step[o]));
    return false;
  }

  // The parameter a gradient or pull frame names, checked: in range, in this shard, and the
  // payload the frame type implies (a whole gradient, or none).
  size_t checked_param(const FrameHeader& h, bool whole_tensor) const {
    const size_t p = h.tensor;
    if (p >= plan.params.size())
      throw RuntimeError(fmt::format("{} frame for tensor {}: the plan has {} parameters", net::frame_type_name(h.type),
                                     h.tensor, plan.params.size()));
    if (shard[p] != opt.task_index)
      throw RuntimeError(fmt::format("{} frame for {}, which parameter server {} holds, not this one ({})",
                                     net::frame_type_name(h.type), plan.params[p].name, shard[p], opt.task_index));
    const uint64_t length = whole_tensor ? value_of(p).bytes : 0;
    if (h.offset != 0 || h.length != length)
      throw RuntimeError(fmt::format("{} frame for {} with offset {} and length {} (expected 0 and {})",
                                     net::frame_type_name(h.type), plan.params[p].name, h.offset, h.length, length));
    return p;
  }

  void on_gradient(size_t k, net::Connection& c, const FrameHeader& h) {
    const size_t p = checked_param(h, true);
    {
      std::lock_guard lock(mu);
      if (h.step != version[p])
        throw RuntimeError(fmt::format("sent the gradient of {} for step {}; this shard is at step {}",
                                       plan.params[p].name, h.step, version[p]));
      if (got[k][p]) throw RuntimeError(fmt::format("sent the gradient of {} twice for step {}", plan.params[p].name, h.step));
    }
    const plan::Tensor& g = plan.tensors[plan.params[p].grad];
    c.read_payload(h, {received[k]->data() + (g.offset - plan.grads_region.offset), g.bytes}, timeout());
    bool complete;
    {
      std::lock_guard lock(mu);
      if (failed || stopping || run_ended_locked(k)) return;
      got[k][p] = 1;
      complete = ++count[p] == workers;
      if (complete) {
        ++applying;
        updates.push_back(p);  // off this thread, which goes on reading the next gradient
        cv.notify_all();
      }
    }
  }

  void on_pull(size_t k, const FrameHeader& h) {
    const size_t p = checked_param(h, false);
    ConnPtr now;
    const std::byte* value = nullptr;
    {
      std::lock_guard lock(mu);
      // (With count == workers an update of it is running: no worker pulls the version it has
      // just sent its gradient for, so that falls to the error below.)
      if (h.step == version[p] && count[p] < workers) {
        now = peers[k];
        value = state_in(p, bank[p]).value;
      }
      else if (h.step == version[p] + 1)
        pending[p].push_back(k);  // answered by the update that makes it
      else
        throw RuntimeError(fmt::format("pulled {} for step {}; this shard is at step {}", plan.params[p].name, h.step,
                                       version[p]));
    }
    if (now) send_value(now, p, h.step, value);
  }

  void on_dice(size_t k, net::Connection& c, const FrameHeader& h) {
    if (opt.task_index != 0 || opt.cluster.loss_scope != LossScope::global)
      throw RuntimeError("sent Dice partials to a parameter server that does not sum them");
    const uint64_t bytes = 3 * share_images * sizeof(float);
    if (h.offset != 0 || h.length != bytes)
      throw RuntimeError(fmt::format("sent {} bytes of Dice partials; a share of {} images has {}", h.length,
                                     share_images, bytes));
    {
      std::lock_guard lock(mu);
      if (dice_from[k]) throw RuntimeError(fmt::format("sent Dice partials twice for step {}", h.step));
      if (h.step != dice_step)
        throw RuntimeError(fmt::format("sent Dice partials for step {}; the run is at step {}", h.step, dice_step));
    }
    c.read_payload(h, {reinterpret_cast<std::byte*>(dice_buf.data() + 3 * share_images * k), bytes}, timeout());
    std::vector<ConnPtr> to;
    DiceSums sums;
    {
      std::lock_guard lock(mu);
      if (run_ended_locked(k)) return;
      dice_from[k] = 1;
      if (++dice_got < workers) return;
      sums.add_partials(dice_buf.data(), workers * share_images);  // global image order
      dice_got = 0;
      dice_step = h.step + 1;
      std::fill(dice_from.begin(), dice_from.end(), 0);
      to = peers;
    }
    const auto payload = wire::encode_sums(sums);
    for (auto& p : to) {
      if (!p) continue;
      try {
        p->send(FrameType::global_sums, h.step, 0, payload);
      } catch (const std::exception&) {
      }
    }
  }

  // Values and moments after `step` updates: current, or the other bank of a parameter updated
  // once more (a failed step), followed by state_done.
  void on_state(net::Connection& c, const FrameHeader& h) {
    if (h.length != 0) throw RuntimeError("sent a state request with a payload");
    struct Part {
      uint32_t tensor;
      const std::byte *val, *m, *v;
      uint64_t bytes;
    };
    std::vector<Part> parts;
    // No update runs once the chief asks (the next needs its own gradient) or once the run
    // failed (no new one starts): wait for any still running, then send without the lock, so
    // heartbeats go on meanwhile.
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return applying == 0; });
    for (size_t p : mine) {
      const plan::Param& par = plan.params[p];
      StateAt at;
      if (version[p] == h.step) {
        at = state_in(p, bank[p]);
      } else if (version[p] == h.step + 1) {
        at = state_in(p, static_cast<uint8_t>(1 - bank[p]));
      } else {
        throw RuntimeError(fmt::format("asked for the state after step {}; {} is at step {}", h.step, par.name,
                                       version[p]));
      }
      parts.push_back({static_cast<uint32_t>(p), at.value, at.m, at.v, value_of(p).bytes});
    }
    lock.unlock();
    for (const Part& part : parts) {
      c.send(FrameType::value, h.step, part.tensor, bytes_of(part.val, part.bytes));
      c.send(FrameType::adam_m, h.step, part.tensor, bytes_of(part.m, part.bytes));
      c.send(FrameType::adam_v, h.step, part.tensor, bytes_of(part.v, part.bytes));
    }
    c.send(FrameType::state_done, h.step, 0);
  }

  void serve_worker(size_t k, const ConnPtr& c) {
    for (;;) {
      const FrameHeader h = c->read_header(timeout(), max_frame);
      switch (h.type) {
        case FrameType::gradient: on_gradient(k, *c, h); break;
        case FrameType::pull: on_pull(k, h); break;
        case FrameType::dice_partials: on_dice(k, *c, h); break;
        case FrameType::state_request: on_state(*c, h); break;
        case FrameType::heartbeat:
          if (h.length != 0) throw RuntimeError("sent a heartbeat with a payload");
          break;
        case FrameType::done: {
          if (h.length != 0) throw RuntimeError("sent a done frame with a payload");
          std::vector<ConnPtr> told;
          {
            std::lock_guard lock(mu);
            // Every worker ends after the same step, the one this shard's parameters are at.
            if (!mine.empty() && h.step != lowest_version_locked())
              throw RuntimeError(fmt::format("said done after step {}; the run is at step {}", h.step,
                                             lowest_version_locked()));
            if (!done[k]) {
              done[k] = 1;
              done_step[k] = h.step;
              ++done_count;
            }
            // The chief is done: the run ends at its step for everyone (a stopped run: the
            // others are blocked on a step that will never complete).
            if (k == 0)
              for (size_t o = 1; o < workers; ++o)
                if (peers[o] && !done[o]) told.push_back(peers[o]);
            cv.notify_all();
          }
          c->send(FrameType::done, h.step, wire::kDoneAcknowledged);
          for (auto& o : told) {
            try {
              o->send(FrameType::done, h.step, wire::kDoneRunEnded);
            } catch (const std::exception&) {
            }
          }
          break;
        }
        case FrameType::abort: {
          if (h.length > limits::kMaxReasonBytes) throw RuntimeError("sent an abort with an oversized reason");
          throw RuntimeError("it stopped: " + wire::bytes_text(c->read_payload(h, timeout())));
        }
        default:
          throw RuntimeError(fmt::format("sent a {} frame, which a worker never sends", net::frame_type_name(h.type)));
      }
    }
  }

  void handle(ConnPtr c) {
    const std::string name = c->peer();
    net::Hello hello;
    try {
      hello = net::server_authenticate(*c, fingerprint, digest, opt.cluster.token, timeout());
    } catch (const std::exception& e) {
      log(fmt::format("PS {}: refused {}: {}", opt.task_index, name, e.what()));
      c->shutdown();
      return;
    }
    const size_t k = hello.task_index;
    std::string refusal;
    uint64_t step = 0;
    {
      std::lock_guard lock(mu);
      if (hello.role != 0)
        refusal = fmt::format("role {} is not a worker", hello.role);
      else if (k >= workers)
        refusal = fmt::format("worker index {} is out of range: the cluster has {} workers", k, workers);
      else if (peers[k])
        refusal = fmt::format("worker index {} is already connected (from {})", k, peer_names[k]);
      else if (failed || stopping)
        refusal = "the run has stopped";
      else {
        peers[k] = c;
        peer_names[k] = name;
        step = lowest_version_locked();
      }
    }
    if (!refusal.empty()) {
      log(fmt::format("PS {}: refused {}: {}", opt.task_index, name, refusal));
      try {
        net::server_refuse(*c, refusal);
      } catch (const std::exception&) {
      }
      c->shutdown();
      return;
    }
    try {
      std::array<std::byte, wire::kWelcomeBytes> app;
      wire::put_u64(app.data(), step);
      net::server_welcome(*c, hello, opt.cluster.token, app);
      log(fmt::format("PS {}: worker {} connected from {} (step {})", opt.task_index, k, name, step));
      serve_worker(k, c);
    } catch (const std::exception& e) {
      bool finished;
      {
        std::lock_guard lock(mu);
        finished = done[k] || stopping;
      }
      if (!finished) fail(fmt::format("{}: {}", worker_name(k), e.what()));
      c->shutdown();
    }
    std::lock_guard lock(mu);
    ended[k] = 1;
    cv.notify_all();
  }

  // Gathers every parameter's state after `step` updates into the arena (the run stopped;
  // nothing updates any more): the current bank, or the other one for a parameter updated once
  // more. Then writes the checkpoint.
  std::string write_failure_checkpoint(uint64_t step) {
    for (size_t p : mine) {
      const uint8_t b = version[p] == step ? bank[p] : static_cast<uint8_t>(1 - bank[p]);
      if (b != 0) {
        const StateAt from = state_in(p, b), to = state_in(p, 0);
        const uint64_t bytes = value_of(p).bytes;
        std::memcpy(to.value, from.value, bytes);
        std::memcpy(to.m, from.m, bytes);
        std::memcpy(to.v, from.v, bytes);
      }
      bank[p] = 0;
      version[p] = step;
    }
    return save_checkpoint(opt.checkpoint_dir, plan, arena.data(), step);
  }
};

ParameterServer::ParameterServer(plan::Plan plan, PsOptions options, Log log)
    : s_(std::make_unique<State>(std::move(plan), std::move(options), std::move(log))) {
  State& s = *s_;
  const plan::Plan& p = s.plan;
  const ClusterSpec& cl = s.opt.cluster;
  if (!p.training) throw RuntimeError("the plan is forward-only (compiled with --infer); a parameter server trains");
  if (s.opt.task_index >= cl.ps_tasks())
    throw RuntimeError(fmt::format("--task_index {} is out of range: --ps_hosts lists {} parameter servers",
                                   s.opt.task_index, cl.ps_tasks()));
  if (cl.workers() == 0) throw RuntimeError("--worker_hosts lists no workers");
  s.workers = cl.workers();
  const int64_t unit = static_cast<int64_t>(p.batch) * static_cast<int64_t>(s.workers);
  if (s.opt.train.batch_size <= 0 || s.opt.train.batch_size % unit != 0)
    throw RuntimeError(fmt::format("--batch_size {} does not split into whole micro-batches of {} over {} workers "
                                   "(it must be a multiple of {})",
                                   s.opt.train.batch_size, p.batch, s.workers, unit));
  s.share_images = static_cast<uint64_t>(s.opt.train.batch_size) / s.workers;
  const net::Endpoint& at = cl.ps_hosts[s.opt.task_index];
  if (cl.token.empty() && !net::is_loopback_host(at.host)) {
    if (!s.opt.insecure)
      throw RuntimeError(fmt::format("--ps on {}: an address other than loopback needs a cluster token "
                                     "(--token_file or UNET_CLUSTER_TOKEN), or --insecure",
                                     at.str()));
    s.log(fmt::format("WARNING: PS {} serves {} WITHOUT a cluster token (--insecure): anyone who can reach it can "
                      "join or disrupt the run",
                      s.opt.task_index, at.str()));
  }
  s.adam = kernels::find_kernel(p.update.at(0).kernel);
  if (!s.adam || s.adam->family != kernels::Family::adam_update)
    throw RuntimeError(fmt::format("the plan's update kernel {} is not an Adam kernel", p.update.at(0).kernel));
  s.fingerprint = plan::plan_fingerprint(p);
  s.digest = config_digest(cl, s.opt.train);
  s.shard = shard_params(p, cl.ps_tasks());
  for (size_t k = 0; k < p.params.size(); ++k)
    if (s.shard[k] == s.opt.task_index) s.mine.push_back(k);
  s.max_frame = std::max<uint64_t>({3 * s.share_images * sizeof(float), limits::kMaxReasonBytes, 64});
  for (size_t k = 0; k < p.params.size(); ++k) s.max_frame = std::max(s.max_frame, param_bytes(p, k));

  initialise_params(p, s.arena.data());
  if (!s.opt.init_checkpoint.empty())
    load_checkpoint(s.opt.init_checkpoint, p, s.arena.data(), CheckpointUse::init_weights);
  uint64_t step = 0;
  if (!s.opt.resume.empty()) step = load_checkpoint(s.opt.resume, p, s.arena.data(), CheckpointUse::resume);
  s.version.assign(p.params.size(), step);
  s.bank.assign(p.params.size(), 0);
  s.dice_step = step;
  s.count.assign(p.params.size(), 0);
  s.pending.resize(p.params.size());
  s.got.assign(s.workers, std::vector<uint8_t>(p.params.size(), 0));
  for (size_t k = 0; k < s.workers; ++k) s.received.push_back(std::make_unique<Arena>(p.grads_region.bytes, s.opt.numa_node));
  s.peers.resize(s.workers);
  s.peer_names.resize(s.workers);
  s.done.assign(s.workers, 0);
  s.done_step.assign(s.workers, 0);
  s.ended.assign(s.workers, 0);
  s.dice_buf.assign(3 * s.share_images * s.workers, 0.f);
  s.dice_from.assign(s.workers, 0);
  s.listener = std::make_unique<net::Listener>(at);
  for (size_t k = 0; k < std::max<size_t>(s.opt.update_threads, 1); ++k)
    s.updaters.emplace_back([&s] { s.update_loop(); });
}

ParameterServer::~ParameterServer() {
  stop();
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(s_->mu);
    for (auto& c : s_->conns) c->shutdown();
    threads.swap(s_->threads);
  }
  for (auto& t : threads) t.join();
  {
    std::lock_guard lock(s_->mu);
    s_->quitting = true;
    s_->cv.notify_all();
  }
  for (auto& t : s_->updaters) t.join();
}

uint16_t ParameterServer::port() const { return s_->listener->port(); }

uint64_t ParameterServer::global_step() const {
  std::lock_guard lock(s_->mu);
  return s_->lowest_version_locked();
}

const plan::Plan& ParameterServer::plan() const { return s_->plan; }

void ParameterServer::stop() {
  std::lock_guard lock(s_->mu);
  s_->stopping = true;
  s_->cv.notify_all();
}

void ParameterServer::serve() {
  State& s = *s_;
  s.log(fmt::format("PS {}: serving {} parameters ({:.1f} MB) of {} on {} for {} workers, step {}", s.opt.task_index,
                    s.mine.size(),
                    [&] {
                      uint64_t b = 0;
                      for (size_t p : s.mine) b += param_bytes(s.plan, p);
                      return static_cast<double>(b) / 1e6;
                    }(),
                    s.plan.model_name, s.opt.cluster.ps_hosts[s.opt.task_index].str(), s.workers, global_step()));
  // Heartbeats keep a worker that waits on another (a slow step) from taking us for dead.
  std::thread heartbeat([&] {
    const auto every = std::max(s.timeout() / 4, net::Millis(20));
    std::unique_lock lock(s.mu);
    const auto over = [&] { return s.stopping || s.failed || s.done_count == s.workers; };
    while (!over()) {
      if (s.cv.wait_for(lock, every, over)) break;  // (woken early only by the end)
      std::vector<ConnPtr> to;
      for (size_t k = 0; k < s.workers; ++k)
        if (s.peers[k] && !s.done[k]) to.push_back(s.peers[k]);
      lock.unlock();
      for (auto& c : to) {
        try {
          c->send(FrameType::heartbeat, 0, 0);
        } catch (const std::exception&) {
        }
      }
      lock.lock();
    }
  });
  for (;;) {
    {
      std::lock_guard lock(s.mu);
      if (s.failed || s.stopping || s.done_count == s.workers) break;
    }
    std::optional<net::Connection> c = s.listener->accept(net::Millis(50));
    if (!c) continue;
    auto conn = std::make_shared<net::Connection>(std::move(*c));
    std::lock_guard lock(s.mu);
    s.conns.push_back(conn);
    s.threads.emplace_back([&s, conn] { s.handle(conn); });
  }
  std::unique_lock lock(s.mu);
  s.cv.notify_all();
  lock.unlock();
  heartbeat.join();
  lock.lock();
  s.cv.wait(lock, [&] { return s.applying == 0; });
  if (!s.failed) {
    if (s.done_count == s.workers)
      s.log(fmt::format("PS {}: every worker is done at step {}", s.opt.task_index, s.lowest_version_locked()));
    return;
  }
  const uint64_t step = s.lowest_version_locked();
  std::string reason = s.reason;
  if (s.opt.cluster.ps_tasks() > 1) {
    // The chief gathers every shard's state at the last step all completed and writes the
    // checkpoint (recover_state): serve its request until it hangs up.
    s.cv.wait_for(lock, 2 * s.timeout(), [&] { return s.ended[0] != 0; });
  }
  lock.unlock();
  if (s.opt.cluster.ps_tasks() == 1 && !s.opt.checkpoint_dir.empty()) {
    const std::string path = s.write_failure_checkpoint(step);
    s.log(fmt::format("PS {}: wrote {} (step {}); restart every process with --resume to continue", s.opt.task_index,
                      path, step));
    reason += fmt::format("; checkpoint of step {} written to {}", step, path);
  }
  throw RuntimeError(reason);
}

}  // namespace unet::runtime
