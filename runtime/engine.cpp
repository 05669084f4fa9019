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

Engine::Engine(plan::Plan plan, const EngineOptions& options)
    : plan_(std::move(plan)),
      arena_(plan_.arena_bytes, options.numa_node),
      threads_(options.threads),
      executor_(plan_, arena_.data(), threads_) {}

}  // namespace unet::runtime
