#include "runtime/engine.h"

#include <unistd.h>

#include <cstdint>

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

uint64_t physical_memory_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page) : UINT64_MAX;
}

// The arena's failure (over the limit, no memory, no such NUMA node) names the plan it was for.
Arena arena_for(const plan::Plan& plan, const EngineOptions& options) {
  const std::string& name = options.plan_path.empty() ? plan.model_name : options.plan_path;
  const uint64_t limit = options.max_arena_bytes ? options.max_arena_bytes : physical_memory_bytes();
  if (plan.arena_bytes > limit) {
    const plan::Tensor* largest = nullptr;
    for (const plan::Tensor& t : plan.tensors)
      if (t.view_of < 0 && (!largest || t.bytes > largest->bytes)) largest = &t;
    throw RuntimeError(fmt::format("{}: the plan's arena of {:.2f} GB is over the limit of {:.2f} GB ({}; "
                                   "--max_arena_gb raises it); its largest tensor is '{}', {:.2f} GB",
                                   name, plan.arena_bytes / 1e9, limit / 1e9,
                                   options.max_arena_bytes ? "--max_arena_gb" : "this host's memory",
                                   largest ? largest->name : "?", largest ? largest->bytes / 1e9 : 0.0));
  }
  try {
    return Arena(plan.arena_bytes, options.numa_node);
  } catch (const RuntimeError& e) {
    throw RuntimeError(fmt::format("{}: {}", name, e.what()));
  }
}

}  // namespace

Engine::Engine(plan::Plan plan, const EngineOptions& options)
    : plan_(std::move(plan)),
      arena_(arena_for(plan_, options)),
      threads_(options.threads),
      executor_(plan_, arena_.data(), threads_) {}

}  // namespace unet::runtime
