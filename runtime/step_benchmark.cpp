#include "runtime/step_benchmark.h"

#include <chrono>

#include <fmt/format.h>

#include "kernels/counter_rng.h"
#include "kernels/layout_reorder.h"
#include "runtime/param_init.h"
#include "runtime/runtime_error.h"
#include "runtime/trainer.h"

namespace unet::runtime {

plan::Plan load_training_plan(const std::string& path, const std::string& command) {
  plan::Plan p = load_plan(path);
  if (!p.training)
    throw RuntimeError(fmt::format("{}: a forward-only plan (unetc --infer); {} needs a training plan (compile "
                                   "without --infer)",
                                   path, command));
  return p;
}

void fill_synthetic_batch(Engine& engine) {
  const plan::Plan& p = engine.plan();
  initialise_params(p, engine.arena());
  const kernels::TensorArg in = engine.view(p.input), target = engine.view(p.target);
  for (int i = 0; i < in.n; ++i)
    for (int c = 0; c < in.c; ++c)
      for (int y = 0; y < in.h; ++y)
        for (int x = 0; x < in.w; ++x) {
          const bool lesion = y > in.h / 3 && y < in.h / 2 && x > in.w / 4 && x < in.w / 2;
          in.at(i, c, y, x) = kernels::counter_uniform(1, i, c, static_cast<uint64_t>(y) * in.w + x) + (lesion ? 1.f : 0.f);
          target.at_plain(i, y, x) = lesion ? 1.f : 0.f;
        }
}

StepTiming time_training_steps(Engine& engine, int steps, int warmup) {
  const plan::Plan& p = engine.plan();
  if (!p.training) throw RuntimeError("unetbench train needs a training plan (compiled without --infer)");
  fill_synthetic_batch(engine);
  LearningRate lr{p.optimizer.learning_rate, p.optimizer.decay_steps, p.optimizer.lr_fraction, false};
  StepTiming t;
  auto no_load = [](size_t) {};  // the same micro-batch every step: compute alone is timed
  LocalExchange local(engine);
  StepRunner runner(engine, local, 1);
  auto step = [&](int s) { return runner.run({static_cast<uint64_t>(s), 1, 0}, lr, no_load); };
  for (int s = 0; s < warmup; ++s) t.first_loss = step(s).loss;
  engine.executor().clear_profile();  // a profile, if one is kept, covers the timed steps alone
  const auto t0 = std::chrono::steady_clock::now();
  for (int s = 0; s < steps; ++s)
    t.last_loss = step(warmup + s).loss;
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  t.seconds_per_step = secs / steps;
  t.images_per_second = static_cast<double>(p.batch) * steps / secs;
  return t;
}

}  // namespace unet::runtime
