#include "runtime/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
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

}  // namespace

double LearningRate::at(uint64_t step) const {
  if (constant || decay_steps == 0) return initial;
  return initial * std::pow(static_cast<double>(fraction), static_cast<double>(step) / decay_steps);
}

void DiceSums::add_partials(const float* partials, size_t images) {
  for (size_t i = 0; i < images; ++i) {
    intersection += partials[3 * i];
    predicted += partials[3 * i + 1];
    truth += partials[3 * i + 2];
  }
}

double DiceSums::dice(double smooth) const {
  return (2.0 * intersection + smooth) / (predicted + truth + smooth);
}

Trainer::Trainer(Engine& engine, const TrainOptions& options, TrainingLog& log)
    : engine_(engine),
      options_(options),
      log_(log),
      train_(options.data_dir, "train", options.selection, engine.plan()),
      prefetch_(train_, engine.view(engine.plan().input), engine.view(engine.plan().target), options.inter_threads) {
  const plan::Plan& p = engine_.plan();
  if (!p.training)
    throw RuntimeError("the plan is forward-only (compiled with --infer); compile it without --infer to train");
  if (options_.batch_size <= 0 || options_.batch_size % p.batch != 0)
    throw RuntimeError(fmt::format("--batch_size {} is not a positive multiple of the plan's micro-batch {} "
                                   "(unetc --batch)",
                                   options_.batch_size, p.batch));
  initialise_params(p, engine_.arena());
  if (!options_.init_checkpoint.empty())
    load_checkpoint(options_.init_checkpoint, p, engine_.arena(), CheckpointUse::init_weights);
  if (!options_.resume.empty())
    global_step_ = load_checkpoint(options_.resume, p, engine_.arena(), CheckpointUse::resume);
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

StepResult train_step(Engine& engine, uint64_t step, size_t micro, const LearningRate& lr,
                      FunctionRef<void(size_t)> load) {
  const plan::Plan& p = engine.plan();
  const size_t b = p.batch;
  Executor& ex = engine.executor();
  std::memset(engine.arena() + p.grads_region.offset, 0, p.grads_region.bytes);

  kernels::StepScalars s;
  s.step = step;
  const float* partials = engine.view(p.loss_partials).data;
  DiceSums sums;
  // The loss is -log Dice over the whole global batch, so its gradient needs the batch's
  // sums before any backward pass: with several micro-batches, a forward-only pass gathers
  // them and the second pass recomputes each forward before its backward.
  if (micro > 1) {
    for (size_t j = 0; j < micro; ++j) {
      load(j);
      s.image_base = j * b;
      ex.run(OpList::forward, s);
      sums.add_partials(partials, b);
    }
  }
  for (size_t j = 0; j < micro; ++j) {
    load(j);
    s.image_base = j * b;
    ex.run(OpList::forward, s);
    if (micro == 1) sums.add_partials(partials, b);
    if (j == 0) {
      const double smooth = p.dice_smooth;
      s.dice_a = static_cast<float>(-2.0 / (2.0 * sums.intersection + smooth));
      s.dice_b = static_cast<float>(1.0 / (sums.predicted + sums.truth + smooth));
    }
    ex.run(OpList::backward, s);
  }

  StepResult r;
  r.dice = sums.dice(p.dice_smooth);
  r.loss = -std::log(r.dice);
  r.lr = lr.at(step);
  const double t = static_cast<double>(step + 1);
  const plan::Optimizer& o = p.optimizer;
  s.lr_t = static_cast<float>(r.lr * std::sqrt(1.0 - std::pow(o.beta2, t)) / (1.0 - std::pow(o.beta1, t)));
  s.grad_scale = 1.f;
  ex.run(OpList::update, s);
  return r;
}

StepResult Trainer::step(const size_t* idx, size_t count) {
  const size_t b = engine_.plan().batch;
  const size_t micro = count / b;
  // train_step loads micro-batches 0..micro-1, twice when there are several (see there):
  // each load takes the prefetched batch and queues the one after it.
  const size_t loads = micro > 1 ? 2 * micro : 1;
  size_t done = 0;
  prefetch_.request(idx, b);
  const StepResult r = train_step(engine_, global_step_, micro, options_.lr, [&](size_t) {
    prefetch_.take();
    if (++done < loads) prefetch_.request(idx + (done % micro) * b, b);
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
  if (n < global_batch) {
    const size_t clamped = n / p.batch * p.batch;
    if (clamped == 0)
      throw RuntimeError(fmt::format("{}: {} images, fewer than one micro-batch of {}", train_.images_path(), n,
                                     p.batch));
    log_.line(fmt::format("Note: --batch_size {} exceeds the {} training images; using {}", global_batch, n,
                          clamped));
    global_batch = clamped;
  }
  const size_t steps_per_epoch = n / global_batch;
  int start_epoch = static_cast<int>(global_step_ / steps_per_epoch);
  size_t start_batch = global_step_ % steps_per_epoch;
  auto last_save = Clock::now();
  std::vector<double> epoch_times;
  bool stop = options_.max_steps >= 0 && global_step_ >= static_cast<uint64_t>(options_.max_steps);

  for (int epoch = start_epoch; epoch < options_.epochs && !stop; ++epoch) {
    const auto t_epoch = Clock::now();
    const std::vector<size_t> order = epoch_order(epoch);
    double dice_sum = 0;
    size_t batches = 0;
    for (size_t bi = start_batch; bi < steps_per_epoch; ++bi) {
      const StepResult r = step(order.data() + bi * global_batch, global_batch);
      summary.losses.push_back(r.loss);
      dice_sum += r.dice;
      ++batches;
      const double elapsed = seconds_since(t_epoch);
      const double remaining = elapsed / static_cast<double>(batches) * static_cast<double>(steps_per_epoch - bi - 1);
      log_.line(fmt::format("Epoch {}/{}, ETE: {:.0f} s, Batch: {}/{}, Loss: {:.3f}, Dice: {:.3f}, Global Step: {}, "
                            "Learn rate: {:.6f}",
                            epoch + 1, options_.epochs, remaining, bi + 1, steps_per_epoch, r.loss, r.dice,
                            global_step_, r.lr));
      if (!options_.checkpoint_dir.empty() && seconds_since(last_save) >= options_.save_secs) {
        save_checkpoint(options_.checkpoint_dir, p, engine_.arena(), global_step_);
        last_save = Clock::now();
      }
      if (options_.max_steps >= 0 && global_step_ >= static_cast<uint64_t>(options_.max_steps)) {
        stop = true;
        break;
      }
    }
    start_batch = 0;
    const double secs = seconds_since(t_epoch);
    epoch_times.push_back(secs);
    log_.line(fmt::format("Epoch {}/{} finished in {:.1f} s ({:.2f} images/s), training Dice {:.3f}", epoch + 1,
                          options_.epochs, secs, static_cast<double>(batches * global_batch) / secs,
                          batches ? dice_sum / static_cast<double>(batches) : 0.0));
  }
  if (!options_.checkpoint_dir.empty()) {
    const std::string path = save_checkpoint(options_.checkpoint_dir, p, engine_.arena(), global_step_);
    log_.line(fmt::format("Saved checkpoint {}", path));
  }
  if (options_.test_at_end) {
    Dataset test(options_.data_dir, "test", options_.selection, p);
    summary.test_dice = evaluate(engine_, test);
    log_.line(fmt::format("Test Dice Coef = {:.3f}", summary.test_dice));
  }
  summary.global_step = global_step_;
  summary.seconds = seconds_since(t_start);
  double mean_epoch = 0;
  for (double e : epoch_times) mean_epoch += e / static_cast<double>(epoch_times.size());
  log_.line(fmt::format("Average time per epoch: {:.1f} s", mean_epoch));
  log_.line(fmt::format("Total time: {:.1f} s", summary.seconds));
  return summary;
}

double evaluate(Engine& engine, Dataset& data, const std::string& predictions_path) {
  const plan::Plan& p = engine.plan();
  const size_t b = p.batch;
  std::vector<size_t> idx(b);
  std::unique_ptr<data::NpyWriter> out;
  if (!predictions_path.empty())
    out = std::make_unique<data::NpyWriter>(predictions_path, data::NpyDtype::f32,
                                            std::vector<size_t>{p.in_h, p.in_w, 1});
  const kernels::TensorArg prob = engine.view(p.prediction);
  const float* partials = engine.view(p.loss_partials).data;
  DiceSums sums;
  kernels::StepScalars s;
  for (size_t first = 0; first < data.size(); first += b) {
    const size_t n = std::min(b, data.size() - first);
    std::iota(idx.begin(), idx.begin() + static_cast<long>(n), first);
    data.load(idx.data(), n, engine.view(p.input), engine.view(p.target));
    engine.executor().run(OpList::forward, s, /*evaluating=*/true);
    sums.add_partials(partials, n);
    if (out)
      for (size_t i = 0; i < n; ++i) out->append_rows_f32(prob.data + i * prob.image_stride, 1);
  }
  if (out) out->commit();
  return sums.dice(p.dice_smooth);
}

}  // namespace unet::runtime
