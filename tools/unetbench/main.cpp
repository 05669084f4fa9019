// unetbench: whole-step training speed of a compiled plan, and the FMA peak of the compute
// threads it is a share of (per-kernel figures: bench_kernels).
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>

#include "runtime/engine.h"
#include "runtime/fma_peak.h"
#include "runtime/step_benchmark.h"

using namespace unet::runtime;

int main(int argc, char** argv) {
  CLI::App app{"unetbench: training-step benchmarks"};
  app.require_subcommand(1);
  CLI::App* train = app.add_subcommand("train", "time whole training steps of a plan");
  std::string plan_path;
  int steps = 5, warmup = 1;
  EngineOptions eo;
  bool profile = false, no_pin = false;
  train->add_option("plan", plan_path, "plan.bin compiled by unetc")->required();
  train->add_option("--steps", steps, "timed steps")->capture_default_str()->check(CLI::PositiveNumber);
  train->add_option("--warmup", warmup, "untimed steps first")->capture_default_str()->check(CLI::NonNegativeNumber);
  train->add_option("--num_threads", eo.threads.num_threads, "compute threads (default: cores - 2)");
  train->add_option("--numa_node", eo.numa_node, "prefer memory on this NUMA node");
  train->add_flag("--profile", profile, "print the time of every op, slowest first");
  train->add_flag("--no_pin", no_pin, "do not bind compute threads to cores");
  train->add_option("--blocktime", eo.threads.blocktime_ms, "ms idle threads spin after an op")->check(CLI::NonNegativeNumber);
  CLI::App* peak = app.add_subcommand("peak", "measure the fp32 FMA peak of the compute threads together");
  ThreadOptions peak_threads;
  peak->add_option("--num_threads", peak_threads.num_threads, "compute threads (default: cores - 2)");
  peak->add_flag("--no_pin", no_pin, "do not bind compute threads to cores");
  app.failure_message([](const CLI::App*, const CLI::Error& e) { return "unetbench: " + std::string(e.what()) + "\n"; });
  CLI11_PARSE(app, argc, argv);
  try {
    if (peak->parsed()) {
      peak_threads.pin = !no_pin;
      ThreadPool pool(peak_threads);
      const double flops = measure_fma_peak_flops(pool);
      fmt::print("unetbench peak: {} threads: {:.1f} GFLOP/s fp32 FMA ({:.1f} a thread)\n", pool.size(), flops * 1e-9,
                 flops * 1e-9 / pool.size());
      return 0;
    }
    eo.threads.pin = !no_pin;
    Engine engine(load_plan(plan_path), eo);
    engine.executor().set_profiling(profile);
    const StepTiming t = time_training_steps(engine, steps, warmup);
    const auto& p = engine.plan();
    fmt::print("unetbench train {}: {} tier {}, batch {}, {} threads: {:.3f} s/step, {:.2f} images/s "
               "(loss {:.4f} -> {:.4f})\n",
               plan_path, p.model_name, unet::kernels::tier_name(p.tier), p.batch, engine.threads().size(),
               t.seconds_per_step, t.images_per_second, t.first_loss, t.last_loss);
    if (profile) {
      auto ops = engine.executor().profile();
      std::sort(ops.begin(), ops.end(), [](const auto& a, const auto& b) { return a.seconds > b.seconds; });
      double total = 0;
      for (const auto& o : ops) total += o.seconds;
      for (const auto& o : ops)
        if (o.calls)
          fmt::print("{:7.2f}%  {:9.4f} s/call  {:<28} {:<44} {:>6} items\n", 100 * o.seconds / total,
                     o.seconds / o.calls, o.op->label, o.op->kernel, o.work);
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "unetbench: %s\n", e.what());
    return 1;
  }
}
