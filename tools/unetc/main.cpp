// unetc: compiles a model.def into plan.bin, or prints a plan (compiled or read) as text.
//   unetc model.def -o plan.bin [--batch 8] [--target scalar|avx512f|avx512|native] [--infer]
//   unetc --dump plan.bin        unetc model.def --dump
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "base/limits.h"
#include "graph/graph_ir.h"
#include "graph/lower.h"
#include "kernels/isa_tier.h"
#include "plan/plan_dump.h"
#include "plan/plan_io.h"
#include "plan/plan_validate.h"

namespace {

using namespace unet;

kernels::Tier parse_target(const std::string& target) {
  if (target == "native") return kernels::best_host_tier();
  return *kernels::tier_from_name(target);  // CLI11 has checked the name
}

int run(const std::string& source, const std::optional<std::string>& output, uint32_t batch,
        const std::string& target, bool infer, std::optional<uint64_t> seed, bool dump) {
  if (dump && plan::starts_with_plan_magic(source)) {
    const plan::Plan p = plan::read_plan_file(source);
    plan::validate_plan(p, source);
    fmt::print("{}", plan::dump_plan(p));
    return 0;
  }
  if (!output && !dump) throw std::runtime_error("nothing to do: give -o PLAN.bin or --dump");
  graph::Graph g = graph::parse_model_file(source);
  if (seed) g.seed = *seed;
  plan::Plan p;
  try {
    p = graph::lower_to_plan(g, {batch, parse_target(target), !infer});
  } catch (const graph::LowerError& e) {
    throw graph::LowerError(fmt::format("{}: {}", source, e.what()));
  }
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
  app.add_option("source", source, "model.def to compile, or plan.bin with --dump")->required();
  app.add_option("-o,--output", output, "where to write the plan");
  app.add_option("--batch", batch, "micro-batch size every op list is planned for")
      ->check(CLI::Range(1u, unet::limits::kMaxCompileBatch));
  app.add_option("--target", target, "ISA tier of the kernels (native: the best this host has)")
      ->check(CLI::IsMember({"scalar", "avx512f", "avx512", "avx512_bf16", "native"}));
  app.add_flag("--infer", infer, "forward-only plan (dropout becomes identity)");
  app.add_option("--seed", seed, "overrides the model's seed");
  app.add_flag("--dump", dump, "print the plan as text");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "unetc: %s\n", e.what());
    return e.get_exit_code() != 0 ? e.get_exit_code() : 2;
  }
  try {
    return run(source, output, batch, target, infer, seed, dump);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "unetc: %s\n", e.what());
    return 1;
  }
}
