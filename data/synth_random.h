// The synthetic data's random numbers: a splitmix64 stream, so a subject is the same on
// every platform and standard library (std:: distributions are implementation-defined).
#pragma once
#include <cstdint>


namespace unet::data {

// splitmix64's finaliser: a bijection on 64 bits that scatters every input bit.
inline constexpr uint64_t synth_mix(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

class SynthRandom {
 public:
  explicit SynthRandom(uint64_t seed) : state_(synth_mix(seed)) {}
  uint64_t next() { return synth_mix(state_ += 0x9E3779B97F4A7C15ull); }
  double uniform() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }  // [0,1)
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  double sign() { return (next() & 1) ? 1.0 : -1.0; }

 private:
  uint64_t state_;
};

// Zero-mean, unit-variance noise for one (stream, voxel): the sum of four 16-bit uniforms
// (Irwin-Hall), close enough to Gaussian for image noise and a quarter of Box-Muller's cost.
inline float voxel_noise(uint64_t stream, uint64_t voxel) {
  const uint64_t h = synth_mix(stream ^ synth_mix(voxel));
  const float s = static_cast<float>(h & 0xffff) + static_cast<float>((h >> 16) & 0xffff) +
                  static_cast<float>((h >> 32) & 0xffff) + static_cast<float>(h >> 48);
  // Mean 2 * 65535, variance 4 * 65536^2 / 12.
  return (s - 131070.f) * (1.7320508f / 65536.f);
}

}  // namespace unet::data
