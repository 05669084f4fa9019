#include "runtime/engine.h"

#include <fmt/format.h>

#include "plan/plan_io.h"
#include "plan/plan_validate.h"
#include "runtime/runtime_error.h"

namespace unet::runtime {

plan::Plan load_plan(const std::string& path) {
  plan::Plan p = plan::read_plan_file(path);
  plan::validate_plan(p, path);
  const std::string missing = kernels::missing_features(p.tier);
  if (!missing.empty())
    throw RuntimeError(fmt::format("{}: compiled for tier {}, this CPU lacks {}; recompile with "
                                   "`unetc MODEL.def --target native`",
                                   path, kernels::tier_name(p.tier), missing));
  return p;
}

namespace {

// The arena's failure (no memory, no such NUMA node) names the plan it was for.
Arena arena_for(const plan::Plan& plan, const EngineOptions& options) {
  try {
    return Arena(plan.arena_bytes, options.numa_node);
  } catch (const RuntimeError& e) {
    throw RuntimeError(fmt::format("{}: {}", options.plan_path.empty() ? plan.model_name : options.plan_path, e.what()));
  }
}

}  // namespace

Engine::Engine(plan::Plan plan, const EngineOptions& options)
    : plan_(std::move(plan)),
      arena_(arena_for(plan_, options)),
      threads_(options.threads),
      executor_(plan_, arena_.data(), threads_) {}

}  // namespace unet::runtime
