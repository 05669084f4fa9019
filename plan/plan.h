// The execution plan: everything unetrun needs, produced by unetc (graph/), checked and run
// by the runtime. This struct is the in-memory form; plan_io.h encodes it as plan.bin.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/isa_tier.h"
#include "kernels/kernel_call.h"
#include "kernels/family_signature.h"
#include "kernels/kernel_family.h"
#include "kernels/tensor_layout.h"

namespace unet::plan {

using kernels::Family;
using kernels::Tier;

inline constexpr uint32_t kFormatVersion = 1;
inline constexpr uint64_t kArenaAlignment = 64;  // every tensor offset is a multiple of this

enum class TensorRole : uint8_t {
  input = 0,          // the images of one micro-batch, nChw16c [B, C_in, H, W]
  target = 1,         // their masks, nhw [B, 1, H, W]
  activation = 2,     // forward values (the prediction p is one: nhw)
  gradient = 3,       // backward values
  param = 4,          // trainable weights and biases: persistent
  param_grad = 5,     // their gradients: persistent across the micro-batches of a step
  adam_m = 6,         // Adam's first moments: persistent
  adam_v = 7,         // Adam's second moments: persistent
  loss_partials = 8,  // per-image Dice partial sums, flat [3 * B]
  region = 9,         // a flat view over a whole persistent region (Adam runs over it at once)
};

// The layouts are the kernels' (kernels/tensor_layout.h).
using kernels::Layout;

struct Tensor {
  std::string name;  // "conv1a", "conv1a/grad", "conv1a/kernel", "conv1a/kernel/grad", ...
  TensorRole role = TensorRole::activation;
  Layout layout = Layout::nChw16c;
  // As kernels::TensorArg: nChw16c/nhw: n (images), c, h, w; weights: n = Co, c = Ci,
  // h = KH, w = KW; flat: w elements with n = c = h = 1.
  uint32_t n = 1, c = 1, h = 1, w = 1;
  uint64_t offset = 0;  // bytes from the arena's start, multiple of kArenaAlignment
  uint64_t bytes = 0;   // bytes it spans, channel padding included
  // Concat elimination: when view_of >= 0 this tensor is channels
  // [channel_offset, channel_offset + c) of tensors[view_of] (same n, h, w; layout nChw16c;
  // channel_offset a multiple of 16). Its offset then equals the base offset plus
  // channel_offset/16 blocks, and its image stride is the base's.
  int32_t view_of = -1;
  uint32_t channel_offset = 0;
};

enum class ParamKind : uint8_t {
  conv_kernel = 0,   // Keras Conv2D kernel, [kh, kw, ci, co] in checkpoints
  tconv_kernel = 1,  // Keras Conv2DTranspose kernel, [kh, kw, co, ci] in checkpoints
  bias = 2,          // [co]
};

enum class Init : uint8_t { zeros = 0, he_uniform = 1, glorot_uniform = 2 };

struct Param {
  std::string name;  // checkpoint key, Keras style: "conv1a/kernel", "conv1a/bias"
  ParamKind kind = ParamKind::bias;
  Init init = Init::zeros;
  uint32_t kh = 1, kw = 1, ci = 1, co = 1;  // bias: co only
  uint64_t seed = 0;                        // initialiser stream
  int32_t value = -1, grad = -1, adam_m = -1, adam_v = -1;  // tensor ids
};

struct Op {
  std::string kernel;  // registry name, e.g. "conv2d_fwd_f32_ref"
  Family family = Family::conv2d_fwd;
  std::string label;   // what it is, for --dump and errors: "conv1a", "conv1a.bwd_data"
  std::array<int32_t, kernels::kMaxTensors> tensors;  // tensor id per role, -1 = unused
  std::array<int32_t, kernels::kMaxIntAttrs> i{};
  std::array<float, kernels::kMaxFloatAttrs> f{};
  Op() { tensors.fill(-1); }
};

struct Optimizer {  // Adam with exponential decay: lr * lr_fraction^(step / decay_steps)
  float learning_rate = 0.0005f;
  float beta1 = 0.9f, beta2 = 0.999f, epsilon = 1e-8f;
  uint32_t decay_steps = 350;
  float lr_fraction = 0.2f;
};

struct Region {  // a byte range of the arena
  uint64_t offset = 0, bytes = 0;
};

struct Plan {
  std::string model_name;
  Tier tier = Tier::scalar;
  bool training = true;  // false: a forward-only plan (unetc --infer)
  uint32_t batch = 1;    // the static micro-batch every op list is planned for
  uint32_t in_c = 1, in_h = 128, in_w = 128;  // input images
  uint64_t seed = 0;     // model seed (initialisers, dropout)
  Optimizer optimizer;
  float dice_smooth = 1.0f;  // Dice = (2 sum p*t + s) / (sum p + sum t + s)
  uint64_t arena_bytes = 0;  // the one allocation
  uint64_t naive_bytes = 0;  // what every tensor would take without reuse (for --dump)
  int32_t input = -1, target = -1, prediction = -1, loss_partials = -1;  // tensor ids
  // Persistent regions: parameters, gradients, Adam moments, each holding the params'
  // tensors in the same order at the same relative offsets, so one flat Adam op covers all.
  Region params_region, grads_region, adam_m_region, adam_v_region;
  std::vector<Tensor> tensors;
  std::vector<Param> params;
  std::vector<Op> forward;   // one micro-batch: input -> prediction and loss partials
  std::vector<Op> backward;  // one micro-batch: loss gradient -> parameter gradients (accumulated)
  std::vector<Op> update;    // once per step: Adam over the regions
};

}  // namespace unet::plan
