// tune_driver: runtime::tune_model on a model.def, with the flags unetbench tune will have:
//   tune_driver models/unet_brats.def -o tune.json [--batch 2] [--target native] [--num_threads N]
//               [--budget SECONDS] [--runs N]
// The same calls as the subcommand the lead adds to unetbench (see the report): compile in
// process, tune with a progress bar on stderr, write the file, print the table.
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "data/progress_bar.h"
#include "graph/graph_ir.h"
#include "graph/lower.h"
#include "kernels/isa_tier.h"
#include "runtime/kernel_tuner.h"

int main(int argc, char** argv) {
  using namespace unet;
  CLI::App app{"tune_driver: time every op's candidate kernels and write tune.json"};
  std::string model, output, target = "native";
  uint32_t batch = 8;
  runtime::TuneOptions o;
  app.add_option("model", model, "model.def")->required();
  app.add_option("-o,--output", output, "tune.json to write")->required();
  app.add_option("--batch", batch, "micro-batch of the plan")->check(CLI::Range(1u, 65536u));
  app.add_option("--target", target)->check(CLI::IsMember({"scalar", "avx512f", "avx512", "avx512_bf16", "native"}));
  app.add_option("--num_threads", o.threads.num_threads, "compute threads (0: cores - 2)");
  app.add_option("--budget", o.budget_seconds, "seconds");
  app.add_option("--runs", o.runs, "rounds of timed calls per candidate")->check(CLI::Range(1, 1000));
  bool no_pin = false;
  app.add_flag("--no_pin", no_pin, "do not bind compute threads to cores");
  CLI11_PARSE(app, argc, argv);
  o.threads.pin = !no_pin;
  try {
    const kernels::Tier tier = target == "native" ? kernels::best_host_tier() : *kernels::tier_from_name(target);
    plan::Plan p;
    try {
      p = graph::lower_to_plan(graph::parse_model_file(model), {batch, tier, true});
    } catch (const graph::LowerError& e) {
      throw std::runtime_error(fmt::format("{}: {}", model, e.what()));
    }
    data::ProgressBar bar(stderr);
    const runtime::TuneResult r = runtime::tune_model(p, o, output, [&](const runtime::TuneProgress& s) {
      if (bar.terminal())
        bar.draw(data::progress_line("tune", {int64_t(s.done), int64_t(s.total), s.elapsed, s.eta},
                                     fmt::format("{:<56}", s.current)));
    });
    bar.end();
    fmt::print("{}", runtime::tune_table(r));
    fmt::print("wrote {}\n", output);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tune_driver: %s\n", e.what());
    return 1;
  }
}
