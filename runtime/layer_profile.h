// Every op of a plan timed over whole training steps, against the FMA peak of the same
// threads: what unetbench layers prints, as a table or as one JSON document.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "plan/plan.h"
#include "runtime/engine.h"
#include "runtime/executor.h"
#include "runtime/step_benchmark.h"

namespace unet::runtime {

struct LayerTime {
  OpList list = OpList::forward;
  const plan::Op* op = nullptr;
  double seconds_per_call = 0;
  uint64_t calls = 0;
  size_t work = 0;   // work items a call is split into
  double flops = 0;  // a call's (conv_problem.h), 0 where the family has no count
};

struct LayerProfile {
  std::string plan_path;
  int threads = 0;
  int steps = 0;
  // The fp32 FMA peak of the engine's threads together (fma_peak.h), 0 on a host without
  // AVX-512F, where the probe cannot run (peak_missing then names what is missing).
  double peak_flops = 0;
  std::string peak_missing;
  StepTiming step;
  std::vector<LayerTime> ops;  // forward, backward, update, each in plan order
};

// Measures the peak once on the engine's threads, then runs one warm-up and `steps` timed
// training steps of the synthetic batch with the executor profiling every op.
LayerProfile profile_layers(Engine& engine, const std::string& plan_path, int steps);

std::string_view op_list_name(OpList list);  // "forward", "backward", "update"

// The report: a header line (plan, model, tier, batch, threads, peak, step time), then one
// row per op: list, label, family, kernel, ms a call, GFLOP/s and % of peak ("-" where the
// family has no FLOP count).
std::string layer_table(const plan::Plan& plan, const LayerProfile& profile);
// The same facts as one JSON object: {"plan", "model", "tier", "batch", "threads",
// "peak_gflops", "steps", "seconds_per_step", "ops": [{"list", "label", "family", "kernel",
// "seconds_per_call", "calls", "work", "gflop", "gflops", "peak_percent"}]}; the last three
// are null where the family has no FLOP count (and peak_percent without a peak).
std::string layer_json(const plan::Plan& plan, const LayerProfile& profile);

}  // namespace unet::runtime
