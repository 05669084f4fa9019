#include "runtime/layer_profile.h"

#include <fmt/format.h>

#include <algorithm>

#include "base/json_string.h"
#include "kernels/isa_tier.h"
#include "runtime/conv_problem.h"
#include "runtime/fma_peak.h"

namespace unet::runtime {

std::string_view op_list_name(OpList list) {
  switch (list) {
    case OpList::forward: return "forward";
    case OpList::backward: return "backward";
    case OpList::update: return "update";
  }
  return "?";
}

namespace {

// Which of the plan's lists `op` lives in (the executor's profile points into them).
OpList list_of(const plan::Plan& plan, const plan::Op* op) {
  auto in = [op](const std::vector<plan::Op>& ops) { return !ops.empty() && op >= ops.data() && op < ops.data() + ops.size(); };
  return in(plan.forward) ? OpList::forward : in(plan.backward) ? OpList::backward : OpList::update;
}

}  // namespace

LayerProfile profile_layers(Engine& engine, const std::string& plan_path, int steps) {
  const plan::Plan& plan = engine.plan();
  LayerProfile r;
  r.plan_path = plan_path;
  r.threads = engine.threads().size();
  r.steps = steps;
  // Before the steps, while the threads are otherwise idle: the probe wants every core.
  r.peak_missing = kernels::missing_features(kernels::Tier::avx512f);
  if (r.peak_missing.empty()) r.peak_flops = measure_fma_peak_flops(engine.threads());
  engine.executor().set_profiling(true);
  r.step = time_training_steps(engine, steps, 1);
  engine.executor().set_profiling(false);
  for (const Executor::OpTime& t : engine.executor().profile()) {
    LayerTime l;
    l.list = list_of(plan, t.op);
    l.op = t.op;
    l.calls = t.calls;
    l.seconds_per_call = t.calls ? t.seconds / t.calls : 0;
    l.work = t.work;
    if (const auto p = conv_problem(plan, *t.op)) l.flops = conv_flops(*p);
    r.ops.push_back(l);
  }
  return r;
}

namespace {

double gflops(const LayerTime& l) { return l.flops > 0 && l.seconds_per_call > 0 ? l.flops / l.seconds_per_call * 1e-9 : 0; }

}  // namespace

std::string layer_table(const plan::Plan& plan, const LayerProfile& r) {
  std::string out = fmt::format(
      "unetbench layers {}: {} tier {}, batch {}, {} threads, {} timed steps (after 1 warm-up): {:.4f} s/step, "
      "{:.2f} images/s\n",
      r.plan_path, plan.model_name, kernels::tier_name(plan.tier), plan.batch, r.threads, r.steps,
      r.step.seconds_per_step, r.step.images_per_second);
  if (r.peak_flops > 0)
    out += fmt::format("fp32 FMA peak of the {} threads: {:.1f} GFLOP/s (unetbench peak); GFLOP/s count a direct "
                       "convolution's operations, so a Winograd kernel (fewer multiplies) can pass 100 %\n",
                       r.threads, r.peak_flops * 1e-9);
  else
    out += fmt::format("fp32 FMA peak: not measured (the probe needs AVX-512F; this host lacks {})\n", r.peak_missing);
  size_t label_width = 5, kernel_width = 6;
  for (const LayerTime& l : r.ops) {
    label_width = std::max(label_width, l.op->label.size());
    kernel_width = std::max(kernel_width, l.op->kernel.size());
  }
  out += fmt::format("{:<8}  {:<{}}  {:<19}  {:<{}}  {:>10}  {:>8}  {:>6}\n", "list", "label", label_width, "family",
                     "kernel", kernel_width, "ms/call", "GFLOP/s", "%peak");
  double total = 0;
  for (const LayerTime& l : r.ops) total += l.seconds_per_call;
  for (const LayerTime& l : r.ops) {
    const double g = gflops(l);
    const std::string rate = g > 0 ? fmt::format("{:.1f}", g) : "-";
    const std::string share = g > 0 && r.peak_flops > 0 ? fmt::format("{:.1f}", 100 * g * 1e9 / r.peak_flops) : "-";
    out += fmt::format("{:<8}  {:<{}}  {:<19}  {:<{}}  {:>10.4f}  {:>8}  {:>6}\n", op_list_name(l.list), l.op->label,
                       label_width, kernels::family_name(l.op->family), l.op->kernel, kernel_width,
                       l.seconds_per_call * 1e3, rate, share);
  }
  out += fmt::format("sum of the ops: {:.4f} s/step of {:.4f} (the rest: the step's own work between ops)\n", total,
                     r.step.seconds_per_step);
  return out;
}

std::string layer_json(const plan::Plan& plan, const LayerProfile& r) {
  std::string out = fmt::format(
      "{{\"plan\": {}, \"model\": {}, \"tier\": {}, \"batch\": {}, \"threads\": {}, \"peak_gflops\": {}, "
      "\"steps\": {}, \"seconds_per_step\": {}, \"images_per_second\": {}, \"ops\": [",
      json_string(r.plan_path), json_string(plan.model_name), json_string(kernels::tier_name(plan.tier)), plan.batch,
      r.threads, r.peak_flops > 0 ? json_number(r.peak_flops * 1e-9) : "null", r.steps,
      json_number(r.step.seconds_per_step), json_number(r.step.images_per_second));
  for (size_t k = 0; k < r.ops.size(); ++k) {
    const LayerTime& l = r.ops[k];
    const double g = gflops(l);
    out += fmt::format(
        "{}\n  {{\"list\": {}, \"label\": {}, \"family\": {}, \"kernel\": {}, \"seconds_per_call\": {}, \"calls\": {}, "
        "\"work\": {}, \"gflop\": {}, \"gflops\": {}, \"peak_percent\": {}}}",
        k ? "," : "", json_string(op_list_name(l.list)), json_string(l.op->label),
        json_string(kernels::family_name(l.op->family)), json_string(l.op->kernel), json_number(l.seconds_per_call),
        l.calls, l.work, l.flops > 0 ? json_number(l.flops * 1e-9) : "null", g > 0 ? json_number(g) : "null",
        g > 0 && r.peak_flops > 0 ? json_number(100 * g * 1e9 / r.peak_flops) : "null");
  }
  out += "\n]}\n";
  return out;
}

}  // namespace unet::runtime
