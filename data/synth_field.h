// Smooth random fields over the voxel grid (per-subject deformation, MR bias field), built
// as sums of separable low-frequency cosine products so a voxel costs a few table lookups
// instead of trigonometry.
#pragma once
#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

#include "data/synth_random.h"

namespace unet::data {

class SmoothField {
 public:
  // `terms` products, each with at most `max_cycles` cycles across the volume per axis and
  // a weight in +-amplitude / sqrt(terms).
  SmoothField(SynthRandom& rng, const std::array<int64_t, 3>& dims, int terms, double max_cycles, double amplitude)
      : dims_(dims), terms_(terms) {
    for (int a = 0; a < 3; ++a) tables_[a].resize(static_cast<size_t>(terms * dims[a]));
    const double weight = amplitude / std::sqrt(static_cast<double>(terms));
    for (int t = 0; t < terms; ++t) {
      const double w = weight * rng.uniform(0.5, 1.0) * rng.sign();
      for (int a = 0; a < 3; ++a) {
        const double cycles = rng.uniform(0.0, max_cycles), phase = rng.uniform(0.0, 6.283185307179586);
        for (int64_t i = 0; i < dims[a]; ++i) {
          const double v = std::cos(6.283185307179586 * cycles * (static_cast<double>(i) + 0.5) /
                                        static_cast<double>(dims[a]) + phase);
          tables_[a][static_cast<size_t>(t * dims[a] + i)] = static_cast<float>(a == 0 ? w * v : v);
        }
      }
    }
  }

  float at(int64_t x, int64_t y, int64_t z) const {
    float s = 0.f;
    for (int t = 0; t < terms_; ++t)
      s += tables_[0][static_cast<size_t>(t * dims_[0] + x)] * tables_[1][static_cast<size_t>(t * dims_[1] + y)] *
           tables_[2][static_cast<size_t>(t * dims_[2] + z)];
    return s;
  }

 private:
  std::array<int64_t, 3> dims_;
  int terms_;
  std::array<std::vector<float>, 3> tables_;
};

}  // namespace unet::data
