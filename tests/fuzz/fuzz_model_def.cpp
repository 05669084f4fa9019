// model.def text -> lexer, parser, shape inference, dataflow rules (graph::parse_model), and
// for what parses, the lowering unetc runs next: a description either compiles to a plan
// that passes the validator the runtime trusts, or is refused with ModelError / LowerError.
// Never a crash, never another exception.
#include <cstddef>
#include <cstdint>
#include <string>

#include "base/limits.h"
#include "graph/graph_ir.h"
#include "graph/lower.h"
#include "plan/plan_io.h"
#include "plan/plan_validate.h"
#include "tests/fuzz/fuzz_support.h"

using namespace unet;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  graph::Graph g;
  try {
    g = graph::parse_model(text, "fuzz.def");
  } catch (const graph::ModelError& e) {
    UNET_FUZZ_CHECK(std::string(e.what()).rfind("fuzz.def:", 0) == 0, e.what());
    return 0;
  }
  UNET_FUZZ_CHECK(g.input >= 0 && g.target >= 0 && g.loss >= 0, "parsed graph lacks input, target or loss");
  for (const graph::Node& n : g.nodes)
    UNET_FUZZ_CHECK(n.c >= 1 && n.h >= 1 && n.w >= 1 && n.c <= limits::kMaxNodeExtent &&
                        n.h <= limits::kMaxNodeExtent && n.w <= limits::kMaxNodeExtent,
                    n.name);
  // Lowering is linear in the graph; a tiny batch keeps huge-but-legal shapes arithmetic only
  // (the plan sizes an arena, nothing here allocates it).
  plan::Plan p;
  try {
    graph::LowerOptions options;
    options.batch = 1 + (size % 2);
    p = graph::lower_to_plan(g, options);
  } catch (const graph::LowerError&) {
    return 0;
  }
  try {
    plan::validate_plan(p, "fuzz.def");
  } catch (const plan::PlanError& e) {
    // Refusing a plan too large for any machine is the validator's job (unetc reports it).
    // Anything else is the compiler writing a plan that unetrun then rejects.
    bool huge = p.arena_bytes > plan::kMaxArenaBytes;
    for (const plan::Tensor& t : p.tensors) huge |= t.bytes == 0 || t.bytes > plan::kMaxArenaBytes;
    if (!huge) unet::fuzz::broken(std::string("lowered plan fails validation: ") + e.what());
  }
  return 0;
}
