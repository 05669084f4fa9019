// Seeds of the independent random streams a plan carries, derived from the model's one seed.
// Each use gets its own domain constant so a parameter and a dropout layer with the same
// index never share a stream.
#pragma once
#include <cstdint>

#include "kernels/counter_rng.h"

namespace unet::graph {

inline constexpr uint64_t kParamStreamDomain = 0x706172616d73ull;    // "params"
inline constexpr uint64_t kDropoutStreamDomain = 0x64726f706f7574ull;  // "dropout"

inline uint64_t stream_seed(uint64_t model_seed, uint64_t domain, uint64_t index) {
  return kernels::mix64(kernels::mix64(model_seed ^ domain) + index);
}
inline uint64_t param_seed(uint64_t model_seed, uint64_t param_index) {
  return stream_seed(model_seed, kParamStreamDomain, param_index);
}
inline uint64_t dropout_seed(uint64_t model_seed, uint64_t node_index) {
  return stream_seed(model_seed, kDropoutStreamDomain, node_index);
}

}  // namespace unet::graph
