// unetc: compiles a model.def into plan.bin, or prints a plan (compiled or read) as text.
//   unetc model.def -o plan.bin [--batch 8] [--target scalar|avx512f|avx512|native] [--infer]
//   unetc --dump plan.bin        unetc model.def --dump
//   unetc model.def -o plan.bin --tune tune.json [--num_threads N]   (kernels from unetbench tune)
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "base/limits.h"
#include "graph/apply_tuning.h"
#include "graph/graph_ir.h"
#include "graph/lower.h"
#include "kernels/isa_tier.h"
#include "plan/plan_dump.h"
#include "plan/plan_io.h"
#include "plan/plan_validate.h"
#include "runtime/host_cpu.h"
#include "runtime/tune_file.h"

namespace {

using namespace unet;

kernels::Tier parse_target(const std::string& target) {
  if (target == "native") return kernels::best_host_tier();
  return *kernels::tier_from_name(target);  // CLI11 has checked the name
}

// The kernels a tune file chose, put in the compiled plan where they still fit: every way the
// file or an op does not match is one warning line, and those ops keep their defaults.
void apply_tune_file(plan::Plan& p, const runtime::TuneFile& tune, const std::string& path, int num_threads) {
  for (const std::string& w :
       runtime::tune_file_mismatches(tune, path, runtime::host_cpu_model(), p.tier, p.batch, num_threads))
    std::fprintf(stderr, "unetc: warning: %s\n", w.c_str());
  std::vector<graph::KernelOverride> overrides;
  for (const runtime::TunedOp& op : tune.ops)
    overrides.push_back({op.list, op.label, op.family, op.shape, op.chosen_kernel});
  const graph::TuningOutcome outcome = graph::apply_kernel_overrides(p, overrides, path);
  for (const std::string& w : outcome.warnings) std::fprintf(stderr, "unetc: warning: %s\n", w.c_str());
  std::fprintf(stderr, "unetc: %s: %zu ops run a tuned kernel, %zu keep the default (tuned on '%s', %d thread%s)\n",
               path.c_str(), outcome.changed, outcome.unchanged + outcome.ignored, tune.cpu.c_str(), tune.threads,
               tune.threads == 1 ? "" : "s");
}

int run(const std::string& source, const std::optional<std::string>& output, uint32_t batch,
        const std::string& target, bool infer, std::optional<uint64_t> seed, bool dump,
        const std::optional<std::string>& tune_path, int num_threads) {
  if (dump && plan::starts_with_plan_magic(source)) {
    if (tune_path) throw std::runtime_error("--tune applies when compiling a model.def, not to a plan.bin");
    const plan::Plan p = plan::read_plan_file(source);
    plan::validate_plan(p, source);
    fmt::print("{}", plan::dump_plan(p));
    return 0;
  }
  if (!output && !dump) throw std::runtime_error("nothing to do: give -o PLAN.bin or --dump");
  // Read first: a corrupt tune file stops the compile before anything is written.
  std::optional<runtime::TuneFile> tune;
  if (tune_path) tune = runtime::read_tune_file(*tune_path);
  graph::Graph g = graph::parse_model_file(source);
  if (seed) g.seed = *seed;
  plan::Plan p;
  try {
    p = graph::lower_to_plan(g, {batch, parse_target(target), !infer});
  } catch (const graph::LowerError& e) {
    throw graph::LowerError(fmt::format("{}: {}", source, e.what()));
  }
  if (tune) apply_tune_file(p, *tune, *tune_path, num_threads);
  plan::validate_plan(p, source);
  if (output) plan::write_plan_file(p, *output);
  if (dump) fmt::print("{}", plan::dump_plan(p));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"unetc: compile a model description into an execution plan"};
  std::string source;
  std::optional<std::string> output;
  uint32_t batch = 8;
  std::string target = "native";
  bool infer = false, dump = false;
  std::optional<uint64_t> seed;
  std::optional<std::string> tune;
  int num_threads = 0;
  app.add_option("source", source, "model.def to compile, or plan.bin with --dump")->required();
  app.add_option("-o,--output", output, "where to write the plan");
  app.add_option("--batch", batch, "micro-batch size every op list is planned for")
      ->check(CLI::Range(1u, unet::limits::kMaxCompileBatch));
  app.add_option("--target", target, "ISA tier of the kernels (native: the best this host has)")
      ->check(CLI::IsMember({"scalar", "avx512f", "avx512", "avx512_bf16", "native"}));
  app.add_flag("--infer", infer, "forward-only plan (dropout becomes identity)");
  app.add_option("--seed", seed, "overrides the model's seed");
  app.add_flag("--dump", dump, "print the plan as text");
  app.add_option("--tune", tune, "tune.json from unetbench tune: run the kernels it measured fastest");
  app.add_option("--num_threads", num_threads,
                 "threads the plan will train with: only compared with the tune file's, to warn")
      ->check(CLI::Range(1, 1 << 20));
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "unetc: %s\n", e.what());
    return e.get_exit_code() != 0 ? e.get_exit_code() : 2;
  }
  try {
    return run(source, output, batch, target, infer, seed, dump, tune, num_threads);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "unetc: %s\n", e.what());
    return 1;
  }
}
