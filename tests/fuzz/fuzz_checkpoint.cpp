// A checkpoint .npz through the loader unetrun --resume / --init_checkpoint runs, against a
// small training plan (tests/plan/tiny_plan.h: two convs, Adam): members found by name, shapes
// checked against the plan's parameters, values checked finite, the global step an int64
// scalar. It loads or fails with one line naming the file; never a crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "data/data_error.h"
#include "plan/plan.h"
#include "runtime/checkpoint.h"
#include "runtime/runtime_error.h"
#include "tests/fuzz/fuzz_support.h"
#include "tests/plan/tiny_plan.h"

using namespace unet;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const plan::Plan plan = plan::testing::make_tiny_plan();
  static std::byte* arena = static_cast<std::byte*>(
      std::aligned_alloc(plan::kArenaAlignment, (plan.arena_bytes + plan::kArenaAlignment - 1) /
                                                   plan::kArenaAlignment * plan::kArenaAlignment));
  static unet::fuzz::MemFile file;
  const std::string& path = file.hold(data, size);
  // Both uses: resume reads the moments and the step too, init_weights only the weights.
  for (const runtime::CheckpointUse use : {runtime::CheckpointUse::resume, runtime::CheckpointUse::init_weights}) {
    try {
      const uint64_t step = runtime::load_checkpoint(path, plan, arena, use);
      UNET_FUZZ_CHECK(use == runtime::CheckpointUse::resume || step == 0, "init_weights returned a step");
      UNET_FUZZ_CHECK(step <= static_cast<uint64_t>(INT64_MAX), "step above int64's range");
    } catch (const std::runtime_error& e) {
      // DataError (the npz layer) or RuntimeError (the loader); nothing else is expected.
      UNET_FUZZ_CHECK(dynamic_cast<const data::DataError*>(&e) || dynamic_cast<const runtime::RuntimeError*>(&e),
                      e.what());
      const std::string what = e.what();
      UNET_FUZZ_CHECK(what.rfind(path + ": ", 0) == 0 && what.find('\n') == std::string::npos, what);
    }
  }
  return 0;
}
