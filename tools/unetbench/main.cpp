// unetbench: whole-step training speed of a compiled plan, every op's share of it, our
// convolution kernels against oneDNN's, and the FMA peak of the compute threads it is all a
// share of (per-kernel figures on synthetic shapes: bench_kernels).
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>

#include "base/json_string.h"
#include "base/limits.h"
#include "data/progress_bar.h"
#include "graph/graph_ir.h"
#include "graph/lower.h"
#include "runtime/engine.h"
#include "runtime/fma_peak.h"
#include "runtime/kernel_tuner.h"
#include "runtime/layer_comparison.h"
#include "runtime/layer_profile.h"
#include "runtime/step_benchmark.h"

using namespace unet::runtime;
using unet::json_number;
using unet::json_string;

int main(int argc, char** argv) {
  CLI::App app{"unetbench: training-step benchmarks"};
  app.require_subcommand(1);
  std::string plan_path;
  EngineOptions eo;
  bool no_pin = false, json = false;

  CLI::App* train = app.add_subcommand("train", "time whole training steps of a plan");
  int steps = 5, warmup = 1;
  bool profile = false;
  train->add_option("plan", plan_path, "plan.bin compiled by unetc")->required();
  train->add_option("--steps", steps, "timed steps")->capture_default_str()->check(CLI::PositiveNumber);
  train->add_option("--warmup", warmup, "untimed steps first")->capture_default_str()->check(CLI::NonNegativeNumber);
  train->add_option("--num_threads", eo.threads.num_threads, "compute threads (default: cores - 2)");
  train->add_option("--numa_node", eo.numa_node, "prefer memory on this NUMA node");
  CLI::Option* profile_flag = train->add_flag("--profile", profile, "print the time of every op, slowest first");
  train->add_flag("--no_pin", no_pin, "do not bind compute threads to cores");
  train->add_option("--blocktime", eo.threads.blocktime_ms, "ms idle threads spin after an op")->check(CLI::NonNegativeNumber);
  train->add_flag("--json", json, "print one JSON object instead of the line (every op: unetbench layers --json)")
      ->excludes(profile_flag);

  CLI::App* layers = app.add_subcommand("layers", "time every op of a plan over training steps, against the FMA peak");
  int layer_steps = 3;
  layers->add_option("plan", plan_path, "plan.bin compiled by unetc (a training plan)")->required();
  layers->add_option("--steps", layer_steps, "timed steps (after one warm-up)")->capture_default_str()->check(CLI::PositiveNumber);
  layers->add_option("--num_threads", eo.threads.num_threads, "compute threads (default: cores - 2)");
  layers->add_option("--numa_node", eo.numa_node, "prefer memory on this NUMA node");
  layers->add_flag("--no_pin", no_pin, "do not bind compute threads to cores");
  layers->add_flag("--json", json, "print one JSON document instead of the table");

  CLI::App* compare = app.add_subcommand("compare", "every convolution op of a plan against oneDNN's, checked and timed");
  CompareOptions co;
#ifdef UNET_PYTORCH_PEER
  co.pytorch_script = UNET_PYTORCH_PEER;
#endif
  compare->add_option("plan", plan_path, "plan.bin compiled by unetc (a training plan)")->required();
  compare->add_option("--reps", co.reps, "timed runs of each side (the median is reported)")->capture_default_str()->check(CLI::PositiveNumber);
  compare->add_option("--num_threads", co.threads.num_threads, "threads of each side (default: cores - 2)");
  compare->add_option("--numa_node", co.numa_node, "prefer memory on this NUMA node");
  compare->add_flag("--no_pin", no_pin, "bind neither side's threads to cores");
  compare->add_option("--pytorch_script", co.pytorch_script, "the whole-step peer (\"\": none)")->capture_default_str();
  compare->add_option("--whole_steps", co.whole_steps, "timed whole steps of each side")->capture_default_str()->check(CLI::PositiveNumber);
  compare->add_flag("--json", json, "print one JSON document instead of the table");

  CLI::App* peak = app.add_subcommand("peak", "measure the fp32 FMA peak of the compute threads together");
  ThreadOptions peak_threads;
  peak->add_option("--num_threads", peak_threads.num_threads, "compute threads (default: cores - 2)");
  peak->add_flag("--no_pin", no_pin, "do not bind compute threads to cores");
  CLI::App* tune = app.add_subcommand("tune", "time each op's candidate kernels here; write tune.json for unetc --tune");
  std::string model_path, tune_output, tune_target = "native";
  uint32_t tune_batch = 8;
  TuneOptions to;
  tune->add_option("model", model_path, "model.def to compile and tune")->required();
  tune->add_option("-o,--output", tune_output, "tune.json to write")->required();
  tune->add_option("--batch", tune_batch, "micro-batch of the plan")
      ->capture_default_str()
      ->check(CLI::Range(1u, unet::limits::kMaxCompileBatch));
  tune->add_option("--target", tune_target, "ISA tier (native: the best this host has)")
      ->capture_default_str()
      ->check(CLI::IsMember({"scalar", "avx512f", "avx512", "avx512_bf16", "native"}));
  tune->add_option("--num_threads", to.threads.num_threads, "compute threads (default: cores - 2)");
  tune->add_option("--budget", to.budget_seconds, "seconds; ops left when it is spent keep their defaults")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  tune->add_flag("--no_pin", no_pin, "do not bind compute threads to cores");

  app.failure_message([](const CLI::App*, const CLI::Error& e) { return "unetbench: " + std::string(e.what()) + "\n"; });
  CLI11_PARSE(app, argc, argv);
  try {
    if (tune->parsed()) {
      const auto tier =
          tune_target == "native" ? unet::kernels::best_host_tier() : *unet::kernels::tier_from_name(tune_target);
      unet::plan::Plan p;
      try {
        p = unet::graph::lower_to_plan(unet::graph::parse_model_file(model_path), {tune_batch, tier, true});
      } catch (const unet::graph::LowerError& e) {
        throw std::runtime_error(fmt::format("{}: {}", model_path, e.what()));
      }
      to.threads.pin = !no_pin;
      unet::data::ProgressBar bar(stderr);
      const TuneResult r = tune_model(p, to, tune_output, [&](const TuneProgress& s) {
        if (bar.terminal())
          bar.draw(unet::data::progress_line("tune", {int64_t(s.done), int64_t(s.total), s.elapsed, s.eta},
                                             fmt::format("{:<56}", s.current)));
      });
      bar.end();
      fmt::print("{}wrote {}\n", tune_table(r), tune_output);
      return 0;
    }
    if (peak->parsed()) {
      peak_threads.pin = !no_pin;
      ThreadPool pool(peak_threads);
      const double flops = measure_fma_peak_flops(pool);
      fmt::print("unetbench peak: {} threads: {:.1f} GFLOP/s fp32 FMA ({:.1f} a thread)\n", pool.size(), flops * 1e-9,
                 flops * 1e-9 / pool.size());
      return 0;
    }
    if (compare->parsed()) {
      co.plan_path = plan_path;
      co.threads.pin = !no_pin;
      const LayerComparison c = compare_layers(co);
      fmt::print("{}", json ? comparison_json(c) : comparison_table(c));
      if (!c.all_ok()) {
        const auto failed = std::count_if(c.rows.begin(), c.rows.end(), [](const ConvComparison& r) { return !r.ok; });
        std::fprintf(stderr, "unetbench: %s: %d of %zu convolution ops do not match oneDNN\n", plan_path.c_str(),
                     static_cast<int>(failed), c.rows.size());
        return 1;
      }
      return 0;
    }
    eo.threads.pin = !no_pin;
    eo.plan_path = plan_path;
    if (layers->parsed()) {
      Engine engine(load_training_plan(plan_path, "unetbench layers"), eo);
      const LayerProfile lp = profile_layers(engine, plan_path, layer_steps);
      fmt::print("{}", json ? layer_json(engine.plan(), lp) : layer_table(engine.plan(), lp));
      return 0;
    }
    Engine engine(load_training_plan(plan_path, "unetbench train"), eo);
    engine.executor().set_profiling(profile);
    const StepTiming t = time_training_steps(engine, steps, warmup);
    const auto& p = engine.plan();
    if (json) {
      fmt::print("{{\"plan\": {}, \"model\": {}, \"tier\": {}, \"batch\": {}, \"threads\": {}, \"steps\": {}, "
                 "\"seconds_per_step\": {}, \"images_per_second\": {}, \"first_loss\": {}, \"last_loss\": {}}}\n",
                 json_string(plan_path), json_string(p.model_name), json_string(unet::kernels::tier_name(p.tier)),
                 p.batch, engine.threads().size(), steps, json_number(t.seconds_per_step),
                 json_number(t.images_per_second), json_number(t.first_loss), json_number(t.last_loss));
      return 0;
    }
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
