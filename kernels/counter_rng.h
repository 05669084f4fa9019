// Counter-based random numbers: the value at (seed, step, image, element) is a pure function
// of those four numbers, so dropout masks are regenerated in backward instead of stored, and
// they do not depend on how a global batch is cut into micro-batches or workers.
#pragma once
#include <cstdint>

namespace unet::kernels {

inline constexpr uint64_t mix64(uint64_t z) {  // splitmix64 finaliser: a bijection on 64 bits
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Uniform in [0, 1) with 24 bits, so the float is exact.
inline float counter_uniform(uint64_t seed, uint64_t step, uint64_t image, uint64_t element) {
  const uint64_t h = mix64(mix64(mix64(seed ^ mix64(step)) ^ image) ^ element);
  return static_cast<float>(h >> 40) * (1.0f / 16777216.0f);
}

inline bool dropout_keep(uint64_t seed, uint64_t step, uint64_t image, uint64_t element,
                         float rate) {
  return counter_uniform(seed, step, image, element) >= rate;
}

}  // namespace unet::kernels
