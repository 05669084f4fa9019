// Everything one kernel invocation gets: tensor views, attributes, and the scalars of this step.
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/tensor_arg.h"

namespace unet::kernels {

// Values that change from step to step; the runtime fills them before running an op list.
struct StepScalars {
  uint64_t step = 0;        // global step (dropout counter)
  uint64_t image_base = 0;  // index in the global batch of this micro-batch's first image
  float dice_a = 0.f;       // dL/dp = dice_a * t + dice_b (see sigmoid_dice_bwd)
  float dice_b = 0.f;
  float lr_t = 0.f;         // bias-corrected Adam step size for this step
  float grad_scale = 1.f;   // multiplies gradients before Adam (e.g. 1/num_workers)
  bool evaluating = false;  // evaluation / inference: dropout is the identity
};

inline constexpr int kMaxTensors = 8;
inline constexpr int kMaxIntAttrs = 12;
inline constexpr int kMaxFloatAttrs = 4;

// A kernel call: roles of t[], i[] and f[] are fixed per family (kernel_family.h).
struct KernelCall {
  TensorArg t[kMaxTensors];
  int32_t i[kMaxIntAttrs] = {};
  float f[kMaxFloatAttrs] = {};
  const StepScalars* step = nullptr;
};

// Kernels split their work into items [0, work(call)); run(call, begin, end) does a
// contiguous range of them and may be called concurrently on disjoint ranges. A kernel
// never allocates, never spawns a thread, and never reads a flag; its scratch lives on the
// stack, at most kMaxKernelStackBytes a call (the runtime's threads have room for it).
inline constexpr size_t kMaxKernelStackBytes = size_t{1} << 20;  // the Winograd kernels use up to 764 KB

using WorkFn = size_t (*)(const KernelCall&);
using RunFn = void (*)(const KernelCall&, size_t begin, size_t end);

}  // namespace unet::kernels
