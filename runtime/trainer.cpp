#include "runtime/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <exception>
#include <cstring>
#include <numeric>

#include <fmt/format.h>

#include "data/npy.h"
#include "kernels/counter_rng.h"
#include "runtime/checkpoint.h"
#include "runtime/param_init.h"
#include "runtime/runtime_error.h"

namespace unet::runtime {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// The micro-batches of one worker's share of a global batch of `batch` images.
size_t share_micro_batches(int64_t batch, const plan::Plan& p, size_t workers) {
  if (!p.training)
    throw RuntimeError("the plan is forward-only (compiled with --infer); compile it without --infer to train");
  const int64_t unit = static_cast<int64_t>(p.batch) * static_cast<int64_t>(workers);
  if (batch <= 0 || batch % unit != 0) {
    if (workers == 1)
      throw RuntimeError(fmt::format("--batch_size {} is not a positive multiple of the plan's micro-batch {} "
                                     "(unetc --batch)",
                                     batch, p.batch));
    throw RuntimeError(fmt::format("--batch_size {} does not split into whole micro-batches of {} over {} workers "
                                   "(it must be a multiple of {})",
                                   batch, p.batch, workers, unit));
  }
  return static_cast<size_t>(batch / unit);
}

}  // namespace

Trainer::Trainer(Engine& engine, const TrainOptions& options, std::vector<TrainingSink*> sinks, WorkerRole role)
    : engine_(engine),
      options_(options),
      sinks_(std::move(sinks)),
      role_(role),
      local_(engine),
      exchange_(role.exchange ? *role.exchange : local_),
      train_(options.data_dir, "train", options.selection, engine.plan()),
      prefetch_(train_, engine.view(engine.plan().input), engine.view(engine.plan().target), options.inter_threads),
      runner_(engine, exchange_, share_micro_batches(options.batch_size, engine.plan(), role.workers)) {
  const plan::Plan& p = engine_.plan();
  if (distributed()) {  // the parameter servers hold the weights and the global step
    global_step_ = role_.start_step;
    return;
  }
  initialise_params(p, engine_.arena());
  if (!options_.init_checkpoint.empty())
    load_checkpoint(options_.init_checkpoint, p, engine_.arena(), CheckpointUse::init_weights);
  if (!options_.resume.empty())
    global_step_ = load_checkpoint(options_.resume, p, engine_.arena(), CheckpointUse::resume);
}

// The loss went NaN or infinite: names the step and the first parameter that is no longer
// finite (none: the forward or the data made it), before any checkpoint is written from it.
std::string Trainer::diverged(const StepResult& r) const {
  const plan::Plan& p = engine_.plan();
  std::string culprit = "every weight is still finite";
  for (const plan::Param& q : p.params) {
    const plan::Tensor& t = p.tensors[static_cast<size_t>(q.value)];
    const float* v = reinterpret_cast<const float*>(engine_.arena() + t.offset);
    bool bad = false;
    for (size_t i = 0; i < t.bytes / sizeof(float); ++i) bad |= !std::isfinite(v[i]);
    if (bad) {
      culprit = fmt::format("the first weight no longer finite is '{}'", q.name);
      break;
    }
  }
  return fmt::format("global step {}: the loss is {} (the run diverged: a learning rate too high?); {}; stopped "
                     "before writing a checkpoint from it",
                     global_step_, r.loss, culprit);
}

// The trace of the steps run so far, and a line saying what it holds. A trace that cannot be
// written (its folder gone, the disk full) is a warning: the run, its checkpoints and its test
// Dice matter more than the timeline, and the path was checked when the run started.
void Trainer::write_trace() {
  TraceRecorder& t = *options_.trace;
  std::string note;
  try {
    const std::string path = t.write();
    const StepRange& w = t.steps();
    const std::string what =
        t.steps_traced() == 0
            ? fmt::format("no step of {}:{} ran ({})", w.first, w.last,
                          global_step_ == t.run_start()
                              ? fmt::format("this run ran no step after global step {}", global_step_)
                              : fmt::format("this run's steps were {} to {}", t.run_start() + 1, global_step_))
            : fmt::format("global steps {} to {}, {} op events", std::max<uint64_t>(w.first, t.run_start() + 1),
                          std::min<uint64_t>(w.last, global_step_), t.op_events());
    note = fmt::format("Wrote the trace {}: {}", path, what);
  } catch (const RuntimeError& e) {
    note = fmt::format("Warning: {}; no trace written, training goes on", e.what());
  }
  report([&](TrainingSink& s) { s.note(note); });
}

std::vector<size_t> Trainer::epoch_order(int epoch) const {
  std::vector<size_t> order(train_.size());
  std::iota(order.begin(), order.end(), size_t{0});
  if (!options_.shuffle) return order;
  // Fisher-Yates from the counter RNG: the same order on every worker and after a resume.
  for (size_t k = order.size(); k > 1; --k) {
    const uint64_t r = kernels::mix64(kernels::mix64(options_.seed ^ kernels::mix64(epoch + 1)) ^ k);
    std::swap(order[k - 1], order[r % k]);
  }
  return order;
}

StepResult Trainer::step(const size_t* idx, size_t count) {
  const size_t b = engine_.plan().batch;
  const size_t share = count / role_.workers;
  StepShare s;
  s.step = global_step_;
  s.micro = share / b;
  s.image_base = role_.index * share;
  idx += s.image_base;
  // The runner loads micro-batches 0..micro-1, twice when there are several (see there):
  // each load takes the prefetched batch and queues the one after it.
  const size_t loads = s.micro > 1 ? 2 * s.micro : 1;
  size_t done = 0;
  prefetch_.request(idx, b);
  const StepResult r = runner_.run(s, options_.lr, [&](size_t) {
    prefetch_.take();
    if (++done < loads) prefetch_.request(idx + (done % s.micro) * b, b);
  });
  ++global_step_;
  return r;
}

TrainSummary Trainer::run() {
  const plan::Plan& p = engine_.plan();
  TrainSummary summary;
  const auto t_start = Clock::now();
  const size_t n = train_.size();
  size_t global_batch = static_cast<size_t>(options_.batch_size);
  if (n < global_batch && distributed())  // the parameter servers size the step by --batch_size
    throw RuntimeError(fmt::format("--batch_size {} exceeds the {} training images in {}: give every process of the "
                                   "run a --batch_size of at most {}",
                                   global_batch, n, train_.images_path(), n));
  if (n < global_batch) {
    const size_t unit = p.batch * role_.workers;
    const size_t clamped = n / unit * unit;
    if (clamped == 0)
      throw RuntimeError(fmt::format("{}: {} images, fewer than one micro-batch of {}", train_.images_path(), n,
                                     p.batch));
    const std::string note =
        fmt::format("Note: --batch_size {} exceeds the {} training images; using {}", global_batch, n, clamped);
    report([&](TrainingSink& s) { s.note(note); });
    global_batch = clamped;
  }
  const size_t steps_per_epoch = n / global_batch;
  // 64-bit until bounded: a resumed global step of 2^33 must not wrap into a huge epoch count.
  const uint64_t epochs_done = global_step_ / steps_per_epoch;
  const int start_epoch = epochs_done >= static_cast<uint64_t>(std::max(options_.epochs, 0))
                              ? options_.epochs
                              : static_cast<int>(epochs_done);
  size_t start_batch = global_step_ % steps_per_epoch;
  auto last_save = Clock::now();
  std::vector<double> epoch_times;
  bool stop = options_.max_steps >= 0 && global_step_ >= static_cast<uint64_t>(options_.max_steps);
  if (options_.trace) options_.trace->start_run(global_step_);
  // A run that ends in an error (it diverged, a worker was lost) still leaves the trace of the
  // steps it ran: that is when one is wanted most.
  struct TraceOnError {
    Trainer& trainer;
    const int unwinding = std::uncaught_exceptions();
    ~TraceOnError() {
      if (std::uncaught_exceptions() <= unwinding || !trainer.options_.trace || trainer.options_.trace->finished())
        return;
      try {
        trainer.write_trace();
      } catch (...) {  // the error being thrown is the one to report
      }
    }
  } trace_on_error{*this};
  // While a traced step runs, the executor holds the recorder; an error mid-step takes it back.
  struct TraceScope {
    Executor& ex;
    TraceRecorder* trace;
    TraceScope(Executor& e, TraceRecorder* t, uint64_t step) : ex(e), trace(t) {
      if (!trace) return;
      trace->begin_step(step);
      ex.set_tracer(trace);
    }
    ~TraceScope() {
      if (!trace) return;
      ex.set_tracer(nullptr);
      trace->end_step();
    }
  };

  for (int epoch = start_epoch; epoch < options_.epochs && !stop; ++epoch) {
    const auto t_epoch = Clock::now();
    const std::vector<size_t> order = epoch_order(epoch);
    double dice_sum = 0;
    size_t batches = 0;
    for (size_t bi = start_batch; bi < steps_per_epoch; ++bi) {
      const auto t_step = Clock::now();
      const NetworkStats before = exchange_.stats();
      const bool traced = options_.trace && options_.trace->wants(global_step_ + 1);
      StepResult r;
      {
        TraceScope scope(engine_.executor(), traced ? options_.trace : nullptr, global_step_ + 1);
        r = step(order.data() + bi * global_batch, global_batch);
      }
      if (!std::isfinite(r.loss)) throw RuntimeError(diverged(r));
      summary.losses.push_back(r.loss);
      dice_sum += r.dice;
      ++batches;
      StepRecord rec;
      rec.seconds = seconds_since(t_step);
      const double elapsed = seconds_since(t_epoch);
      rec.seconds_remaining = elapsed / static_cast<double>(batches) * static_cast<double>(steps_per_epoch - bi - 1);
      rec.epoch_seconds = elapsed;
      rec.global_step = global_step_;
      rec.epoch = epoch;
      rec.epochs = options_.epochs;
      rec.batch = bi;
      rec.batches = steps_per_epoch;
      rec.loss = r.loss;
      rec.dice = r.dice;
      rec.lr = r.lr;
      rec.images = global_batch;
      rec.images_per_s = rec.seconds > 0 ? static_cast<double>(global_batch) / rec.seconds : 0.0;
      if (options_.profile) {
        const NetworkStats after = exchange_.stats();
        rec.profiled = true;
        rec.network.blocked_seconds = after.blocked_seconds - before.blocked_seconds;
        rec.network.bytes_sent = after.bytes_sent - before.bytes_sent;
        rec.network.bytes_received = after.bytes_received - before.bytes_received;
      }
      report([&](TrainingSink& s) { s.step(rec); });
      if (traced && global_step_ == options_.trace->steps().last) write_trace();
      if (!options_.checkpoint_dir.empty() && seconds_since(last_save) >= options_.save_secs) {
        exchange_.sync_state(global_step_, true);
        save_checkpoint(options_.checkpoint_dir, p, engine_.arena(), global_step_, options_.keep_checkpoints);
        last_save = Clock::now();
      }
      if (options_.max_steps >= 0 && global_step_ >= static_cast<uint64_t>(options_.max_steps)) {
        stop = true;
        break;
      }
      if (options_.stop && *options_.stop) {
        const int sig = static_cast<int>(*options_.stop);
        report([&](TrainingSink& s) { s.stopping(global_step_, sig); });
        summary.stopped = stop = true;
        break;
      }
    }
    start_batch = 0;
    const double secs = seconds_since(t_epoch);
    epoch_times.push_back(secs);
    EpochRecord rec;
    rec.epoch = epoch;
    rec.epochs = options_.epochs;
    rec.global_step = global_step_;
    rec.seconds = secs;
    rec.images_per_s = static_cast<double>(batches * global_batch) / secs;
    rec.train_dice = batches ? dice_sum / static_cast<double>(batches) : 0.0;
    report([&](TrainingSink& s) { s.epoch(rec); });
  }
  if (options_.trace && !options_.trace->finished()) write_trace();  // the run ended inside or before the window
  exchange_.sync_state(global_step_, !options_.checkpoint_dir.empty());
  if (!options_.checkpoint_dir.empty()) {
    const std::string path =
        save_checkpoint(options_.checkpoint_dir, p, engine_.arena(), global_step_, options_.keep_checkpoints);
    report([&](TrainingSink& s) { s.final_checkpoint(global_step_, path); });
  }
  if (options_.test_at_end && !summary.stopped) {
    Dataset test(options_.data_dir, "test", options_.selection, p);
    summary.test_dice = evaluate(engine_, test);
    report([&](TrainingSink& s) { s.test({global_step_, summary.test_dice}); });
  }
  summary.global_step = global_step_;
  summary.seconds = seconds_since(t_start);
  double mean_epoch = 0;
  for (double e : epoch_times) mean_epoch += e / static_cast<double>(epoch_times.size());
  report([&](TrainingSink& s) { s.run_end({global_step_, mean_epoch, summary.seconds}); });
  return summary;
}

double evaluate(Engine& engine, Dataset& data, const std::string& predictions_path,
                const EvaluatedImage& each_image) {
  const plan::Plan& p = engine.plan();
  const size_t b = p.batch;
  std::vector<size_t> idx(b);
  std::unique_ptr<data::NpyWriter> out;
  if (!predictions_path.empty())
    out = std::make_unique<data::NpyWriter>(predictions_path, data::NpyDtype::f32,
                                            std::vector<size_t>{p.in_h, p.in_w, 1});
  const kernels::TensorArg prob = engine.view(p.prediction);
  // An inference-only plan (unetc --infer) has no target or loss partials: the masks then
  // go to a buffer here and the Dice sums are taken from the predictions on the host.
  const bool host_dice = p.target < 0 || p.loss_partials < 0;
  std::vector<float> host_target(host_dice ? b * p.in_h * p.in_w : 0);
  kernels::TensorArg target = prob;
  if (host_dice) {
    target.data = host_target.data();
    target.image_stride = static_cast<int64_t>(p.in_h) * p.in_w;
  } else {
    target = engine.view(p.target);
  }
  const float* partials = host_dice ? nullptr : engine.view(p.loss_partials).data;
  DiceSums sums;
  kernels::StepScalars s;
  for (size_t first = 0; first < data.size(); first += b) {
    const size_t n = std::min(b, data.size() - first);
    std::iota(idx.begin(), idx.begin() + static_cast<long>(n), first);
    data.load(idx.data(), n, engine.view(p.input), target);
    engine.executor().run(OpList::forward, s, /*evaluating=*/true);
    if (host_dice) {
      const size_t pixels = static_cast<size_t>(p.in_h) * p.in_w;
      for (size_t i = 0; i < n; ++i) {
        const float* pi = prob.data + i * prob.image_stride;
        const float* ti = target.data + i * target.image_stride;
        for (size_t k = 0; k < pixels; ++k) {
          sums.intersection += static_cast<double>(pi[k]) * ti[k];
          sums.predicted += pi[k];
          sums.truth += ti[k];
        }
      }
    } else {
      sums.add_partials(partials, n);
    }
    if (out)
      for (size_t i = 0; i < n; ++i) out->append_rows_f32(prob.data + i * prob.image_stride, 1);
    if (each_image)
      for (size_t i = 0; i < n; ++i)
        each_image(first + i, prob.data + i * prob.image_stride, target.data + i * target.image_stride);
  }
  if (out) out->commit();
  return sums.dice(p.dice_smooth);
}

}  // namespace unet::runtime
