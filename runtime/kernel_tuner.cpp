#include "runtime/kernel_tuner.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <ctime>
#include <map>
#include <random>

#include <fmt/format.h>

#include "kernels/family_signature.h"
#include "plan/kernel_fit.h"
#include "plan/op_shape.h"
#include "plan/plan_validate.h"
#include "plan/plan_views.h"
#include "runtime/engine.h"
#include "runtime/host_cpu.h"
#include "runtime/runtime_error.h"
#include "runtime/step_benchmark.h"
#include "runtime/step_exchange.h"
#include "runtime/train_step.h"

namespace unet::runtime {

const CandidateTime* TuneProblem::time_of(const kernels::KernelInfo* k) const {
  for (const CandidateTime& t : times)
    if (t.kernel == k) return &t;
  return nullptr;
}

double TuneProblem::seconds_of(const kernels::KernelInfo* k) const {
  const CandidateTime* t = time_of(k);
  return t ? t->seconds : 0;
}

namespace {

using Clock = std::chrono::steady_clock;
using kernels::Family;
using plan::OpListKind;

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// The problems of a plan, each with the candidates this host runs, and which op times which.
std::vector<TuneProblem> find_problems(const plan::Plan& plan,
                                       std::map<std::pair<OpListKind, size_t>, size_t>& timed_at) {
  std::vector<TuneProblem> problems;
  // Family and shape -> problem index, or -1 for a problem with a single candidate.
  std::map<std::pair<Family, std::string>, long> seen;
  for (OpListKind l : plan::kOpLists) {
    const std::vector<plan::Op>& ops = plan::op_list(plan, l);
    for (size_t i = 0; i < ops.size(); ++i) {
      const plan::Op& op = ops[i];
      std::string shape = plan::op_shape(plan, op);
      const auto [it, fresh] = seen.emplace(std::pair{op.family, shape}, -1);
      if (!fresh) {
        if (it->second >= 0) problems[static_cast<size_t>(it->second)].ops.push_back({l, i});
        continue;
      }
      std::vector<const kernels::KernelInfo*> candidates;
      for (const kernels::KernelInfo* k : plan::fitting_kernels(plan, op))
        if (kernels::missing_features(k->tier).empty()) candidates.push_back(k);
      if (candidates.size() < 2) continue;
      TuneProblem p;
      p.family = op.family;
      p.shape = std::move(shape);
      p.ops.push_back({l, i});
      p.first_op = fmt::format("{}/{}", plan::op_list_name(l), op.label);
      p.default_kernel = kernels::find_kernel(op.kernel);
      // The default first: it sets the bar the others are cut against. Then by priority, the
      // references (slowest by far) last.
      std::stable_sort(candidates.begin(), candidates.end(), [&](const auto* a, const auto* b) {
        const bool da = a == p.default_kernel, db = b == p.default_kernel;
        return da != db ? da : a->priority > b->priority;
      });
      p.candidates = std::move(candidates);
      it->second = static_cast<long>(problems.size());
      timed_at[{l, i}] = problems.size();
      problems.push_back(std::move(p));
    }
  }
  return problems;
}

// Whether an op reads a tensor it writes: in place, or adding into its output. Such an op
// gets its outputs back before every call, so that each call sees the same inputs.
bool reads_its_outputs(const plan::Op& op) {
  for (const kernels::SlotInfo& s : kernels::family_signature(op.family).slots)
    if (s.access == kernels::Access::read_write) return true;
  switch (op.family) {
    case Family::conv2d_bwd_weights:
    case Family::tconv2d_bwd_weights:
      return true;  // always accumulate (kernel_family.h)
    case Family::conv2d_bwd_data:
    case Family::tconv2d_bwd_data:
    case Family::maxpool2d_bwd:
    case Family::upsample2d_bwd:
    case Family::dropout_bwd:
    case Family::copy_channels:
      return op.i[kernels::kAttrAccumulate] != 0;
    default:
      return false;
  }
}

// The bytes of every tensor an op writes, as they were before the timing.
class SavedOutputs {
 public:
  SavedOutputs(const plan::Plan& plan, const plan::Op& op, std::byte* arena) {
    const auto slots = kernels::family_signature(op.family).slots;
    for (size_t s = 0; s < slots.size(); ++s) {
      const int32_t id = op.tensors[s];
      if (id < 0 || slots[s].access == kernels::Access::read) continue;
      const plan::Tensor& t = plan.tensors[static_cast<size_t>(id)];
      Saved& saved = saved_.emplace_back();
      saved.at = arena + t.offset;
      saved.bytes.assign(saved.at, saved.at + t.bytes);
    }
  }
  void restore() const {
    for (const Saved& s : saved_) std::memcpy(s.at, s.bytes.data(), s.bytes.size());
  }

 private:
  struct Saved {
    std::byte* at;
    std::vector<std::byte> bytes;
  };
  std::vector<Saved> saved_;
};

// A first call at least this long decides a cut alone: its cold start is a small part of it.
constexpr double kLongCall = 5e-3;
// Each candidate that is not cut is timed over at least this long in all, up to kMaxRuns rounds.
constexpr double kMinTimedSeconds = 5e-3;
constexpr int kMaxRuns = 50;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Times the problems at the points of a training step where their first ops run, as the step
// reaches them: a StepExchange whose op hooks are that point (standalone otherwise, as
// LocalExchange).
class TuningExchange final : public StepExchange {
 public:
  TuningExchange(Engine& engine, std::vector<TuneProblem>& problems,
                 const std::map<std::pair<OpListKind, size_t>, size_t>& timed_at, const TuneOptions& options,
                 Clock::time_point start, FunctionRef<void(const TuneProgress&)> progress)
      : engine_(engine),
        problems_(problems),
        timed_at_(timed_at),
        options_(options),
        start_(start),
        progress_(progress) {}

  void set_timing(bool on) { timing_ = on; }

  bool wants_op_hooks() const override { return timing_; }
  void before_forward_op(uint64_t step, size_t i) override {
    scalars_.step = step;
    at_op(OpListKind::forward, i);
  }
  void after_final_backward_op(uint64_t, size_t i) override { at_op(OpListKind::backward, i); }
  DiceSums dice_sums(uint64_t, std::span<const float> partials) override {
    DiceSums sums;
    sums.add_partials(partials.data(), partials.size() / 3);
    // The loss gradient's scalars as the step sets them (train_step.cpp), for the Dice
    // backward's candidates.
    const double smooth = engine_.plan().dice_smooth;
    scalars_.dice_a = static_cast<float>(-2.0 / (2.0 * sums.intersection + smooth));
    scalars_.dice_b = static_cast<float>(1.0 / (sums.predicted + sums.truth + smooth));
    return sums;
  }
  void update(uint64_t step, double lr) override {
    const kernels::StepScalars adam = adam_scalars(engine_.plan().optimizer, step, lr, 1.f);
    if (timing_) {
      scalars_.lr_t = adam.lr_t;
      scalars_.grad_scale = adam.grad_scale;
      for (size_t i = 0; i < engine_.plan().update.size(); ++i) at_op(OpListKind::update, i);
    }
    engine_.executor().run(OpList::update, adam);
  }

 private:
  void at_op(OpListKind list, size_t i) {
    const auto it = timed_at_.find({list, i});
    if (it == timed_at_.end()) return;
    TuneProblem& p = problems_[it->second];
    const plan::Op& op = plan::op_list(engine_.plan(), list)[i];
    const std::string what =
        fmt::format("{}/{} {}", plan::op_list_name(list), op.label, kernels::family_name(op.family));
    if (since(start_) < options_.budget_seconds) time_problem(p, op);
    ++finished_;
    const double elapsed = since(start_);
    const double pace = elapsed / static_cast<double>(finished_) * static_cast<double>(problems_.size() - finished_);
    progress_(TuneProgress{finished_, problems_.size(), elapsed, options_.budget_seconds,
                           std::max(0.0, std::min(pace, options_.budget_seconds - elapsed)), what});
  }

  double run_once(const kernels::KernelInfo& k, const kernels::KernelCall& call, size_t work) {
    const auto t0 = Clock::now();
    engine_.threads().parallel_for(work, [&](size_t begin, size_t end) { k.run(call, begin, end); });
    return since(t0);
  }

  // A candidate still in the running, and its timed calls so far.
  struct Live {
    const kernels::KernelInfo* kernel;
    size_t work;
    std::vector<double> times;
  };

  void time_problem(TuneProblem& p, const plan::Op& op) {
    kernels::KernelCall call = plan::op_call(engine_.plan(), op, engine_.arena());
    call.step = &scalars_;
    const SavedOutputs saved(engine_.plan(), op, engine_.arena());
    const bool restore_each = reads_its_outputs(op);
    auto timed = [&](const kernels::KernelInfo& k, size_t work) {
      if (restore_each) saved.restore();
      return run_once(k, call, work);
    };

    // Probes: the first call runs with cold code and caches, which on a short op can take
    // several times its steady time, so a second call decides unless the first is long
    // enough for the cold start not to matter (the references' long calls are paid once).
    std::vector<Live> live;
    std::vector<CandidateTime> cut;
    double best_probe = 0;
    for (const kernels::KernelInfo* k : p.candidates) {
      const size_t work = k->work(call);
      double probe = timed(*k, work);
      if (probe < kLongCall || best_probe == 0 || probe <= options_.cut_ratio * best_probe)
        probe = std::min(probe, timed(*k, work));
      if (best_probe > 0 && probe > options_.cut_ratio * best_probe) {
        cut.push_back({k, probe, probe, 0});
        continue;
      }
      live.push_back({k, work, {}});
      best_probe = best_probe == 0 ? probe : std::min(best_probe, probe);
    }

    // Rounds that run every live candidate once each, so that another process taking the
    // cores for a while slows every candidate alike instead of one candidate's whole series.
    // The order within a round is shuffled: a fixed or rotating order aliases with anything
    // periodic (a scheduler tick every few calls) and charges it to the same candidate every
    // time. Short ops get more rounds: a median of 5 calls of a few microseconds would be one
    // scheduler hiccup.
    const int rounds = std::clamp(static_cast<int>(kMinTimedSeconds / std::max(best_probe, 1e-9)),
                                  std::max(1, options_.runs), std::max(kMaxRuns, options_.runs));
    std::vector<Live*> order;
    for (Live& l : live) order.push_back(&l);
    for (int r = 0; r < rounds; ++r) {
      std::shuffle(order.begin(), order.end(), shuffle_);
      for (Live* l : order) l->times.push_back(timed(*l->kernel, l->work));
    }
    auto best_live = [&]() -> Live* {
      Live* b = nullptr;
      for (Live& l : live)
        if (!b || median(l.times) < median(b->times)) b = &l;
      return b;
    };
    // A change of kernel is confirmed by as many rounds again of the default against the
    // challenger alone (in shuffled order too): the file changes a kernel only on a repeated win.
    Live* def = nullptr;
    for (Live& l : live)
      if (l.kernel == p.default_kernel) def = &l;
    if (Live* challenger = best_live(); def && challenger != def)
      for (int r = 0; r < rounds; ++r) {
        std::array pair{def, challenger};
        std::shuffle(pair.begin(), pair.end(), shuffle_);
        for (Live* l : pair) l->times.push_back(timed(*l->kernel, l->work));
      }
    saved.restore();  // the step goes on with the values the default computed

    p.best = best_live()->kernel;
    // In the candidates' order, the cut ones where they were.
    for (const kernels::KernelInfo* k : p.candidates) {
      for (const Live& l : live)
        if (l.kernel == k)
          p.times.push_back({k, median(l.times), *std::min_element(l.times.begin(), l.times.end()),
                             static_cast<int>(l.times.size())});
      for (const CandidateTime& c : cut)
        if (c.kernel == k) p.times.push_back(c);
    }
    const CandidateTime &d = *p.time_of(p.default_kernel), &b = *p.time_of(p.best);
    const double keep = 1 - options_.min_gain;
    p.chosen = p.best != p.default_kernel && b.seconds < d.seconds * keep && b.min_seconds < d.min_seconds * keep
                   ? p.best
                   : p.default_kernel;
  }

  Engine& engine_;
  std::vector<TuneProblem>& problems_;
  const std::map<std::pair<OpListKind, size_t>, size_t>& timed_at_;
  const TuneOptions& options_;
  Clock::time_point start_;
  FunctionRef<void(const TuneProgress&)> progress_;
  bool timing_ = false;
  size_t finished_ = 0;
  kernels::StepScalars scalars_;   // image_base 0: the one micro-batch is the whole batch
  std::minstd_rand shuffle_{816};  // a fixed seed: the same orders every run
};

}  // namespace

TuneResult tune_kernels(const plan::Plan& plan, const TuneOptions& options,
                        FunctionRef<void(const TuneProgress&)> progress) {
  const auto start = Clock::now();
  if (!plan.training)
    throw RuntimeError(
        fmt::format("model '{}': a forward-only plan; tuning runs training steps (compile it without "
                    "--infer)",
                    plan.model_name));
  if (const std::string missing = kernels::missing_features(plan.tier); !missing.empty())
    throw RuntimeError(fmt::format("model '{}': compiled for tier {}, this CPU lacks {}", plan.model_name,
                                   kernels::tier_name(plan.tier), missing));
  plan::validate_plan(plan, plan.model_name);

  TuneResult result;
  std::map<std::pair<OpListKind, size_t>, size_t> timed_at;
  result.problems = find_problems(plan, timed_at);

  EngineOptions eo;
  eo.threads = options.threads;
  eo.plan_path = plan.model_name;
  Engine engine(plan, eo);
  fill_synthetic_batch(engine);
  TuningExchange exchange(engine, result.problems, timed_at, options, start, progress);
  StepRunner runner(engine, exchange, 1);
  const LearningRate lr{plan.optimizer.learning_rate, plan.optimizer.decay_steps, plan.optimizer.lr_fraction, false};
  auto no_load = [](size_t) {};        // the synthetic batch stays in place
  runner.run({0, 1, 0}, lr, no_load);  // warm-up: pages faulted in, every tensor written once
  exchange.set_timing(true);
  runner.run({1, 1, 0}, lr, no_load);
  result.seconds = since(start);

  TuneFile& f = result.file;
  f.cpu = host_cpu_model();
  f.tier = plan.tier;
  f.threads = engine.threads().size();
  f.batch = plan.batch;
  f.model = plan.model_name;
  f.date = utc_now();
  f.budget_seconds = options.budget_seconds;
  for (const TuneProblem& p : result.problems) {
    if (!p.timed()) {
      result.untimed += 1;
      f.untimed_ops += p.ops.size();
      continue;
    }
    for (const auto& [list, i] : p.ops) {
      const plan::Op& op = plan::op_list(plan, list)[i];
      TunedOp t;
      t.list = plan::op_list_name(list);
      t.label = op.label;
      t.family = kernels::family_name(op.family);
      t.shape = p.shape;
      t.default_kernel = op.kernel;
      t.chosen_kernel = p.chosen->name;
      for (const CandidateTime& c : p.times)
        t.candidates.push_back({std::string(c.kernel->name), c.seconds, c.min_seconds, c.runs});
      f.ops.push_back(std::move(t));
    }
  }
  return result;
}

TuneResult tune_model(const plan::Plan& plan, const TuneOptions& options, const std::string& output,
                      FunctionRef<void(const TuneProgress&)> progress) {
  TuneResult r = tune_kernels(plan, options, progress);
  write_tune_file(r.file, output);
  return r;
}

std::string tune_table(const TuneResult& r) {
  const TuneFile& f = r.file;
  std::string s = fmt::format("{} at tier {}, batch {}, {} thread{} on {}: {} problems timed in {:.1f} s\n", f.model,
                              kernels::tier_name(f.tier), f.batch, f.threads, f.threads == 1 ? "" : "s", f.cpu,
                              r.problems.size() - r.untimed, r.seconds);
  size_t op_w = 2, shape_w = 5, def_w = 7, best_w = 4;
  auto op_text = [](const TuneProblem& p) {
    return p.ops.size() > 1 ? fmt::format("{} (+{})", p.first_op, p.ops.size() - 1) : p.first_op;
  };
  for (const TuneProblem& p : r.problems) {
    op_w = std::max(op_w, op_text(p).size());
    shape_w = std::max(shape_w, p.shape.size());
    def_w = std::max(def_w, p.default_kernel->name.size());
    if (p.best) best_w = std::max(best_w, p.best->name.size());
  }
  auto row = [&](std::string_view op, std::string_view family, std::string_view shape, std::string_view def,
                 std::string_view def_ms, std::string_view best, std::string_view best_ms, std::string_view ratio,
                 std::string_view min_ratio, std::string_view tuned) {
    s += fmt::format("{:<{}}  {:<19}  {:<{}}  {:<{}}  {:>8}  {:<{}}  {:>8}  {:>5}  {:>5}  {}\n", op, op_w, family,
                     shape, shape_w, def, def_w, def_ms, best, best_w, best_ms, ratio, min_ratio, tuned);
  };
  // ms: medians; ratio: best / default of the medians, min: of the fastest calls.
  row("op", "family", "shape", "default", "ms", "best", "ms", "ratio", "min", "tune_file");
  for (const TuneProblem& p : r.problems) {
    const std::string_view family = kernels::family_name(p.family);
    if (!p.timed()) {
      row(op_text(p), family, p.shape, p.default_kernel->name, "-", "-", "-", "-", "-", "default(untimed:budget)");
      continue;
    }
    const CandidateTime &d = *p.time_of(p.default_kernel), &b = *p.time_of(p.best);
    row(op_text(p), family, p.shape, p.default_kernel->name, fmt::format("{:.4f}", d.seconds * 1e3), p.best->name,
        fmt::format("{:.4f}", b.seconds * 1e3), fmt::format("{:.3f}", b.seconds / d.seconds),
        fmt::format("{:.3f}", b.min_seconds / d.min_seconds), p.chosen != p.default_kernel ? "changed" : "default");
  }
  if (r.untimed)
    s += fmt::format("{} of {} problems untimed: the budget of {:g} s was spent; they keep their default kernels\n",
                     r.untimed, r.problems.size(), f.budget_seconds);
  return s;
}

}  // namespace unet::runtime
