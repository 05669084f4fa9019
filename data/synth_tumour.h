// A glioma in three BraTS compartments: a necrotic core (label 1) inside an enhancing rim
// (label 4) inside a wider, irregular edema (label 2) that only spreads through grey and
// white matter. Shapes are lobed ellipsoids (a degree-2 harmonic of the direction scales the
// radius); the tumour pushes the surrounding anatomy outwards (mass effect).
#pragma once
#include <array>

#include "data/synth_phantom.h"
#include "data/synth_random.h"
#include "data/synth_tissue.h"

namespace unet::data {

class Tumour {
 public:
  // min_radius: the smallest outer rim radius (normalised), so that each compartment still
  // covers whole voxels in small volumes.
  Tumour(SynthRandom& rng, const HeadPhantom& head, float min_radius);

  // Where the healthy tissue seen at q was before the tumour displaced it.
  Point3 displaced(Point3 q) const;
  // The tumour's tissue at q over healthy `host` tissue; `host` itself outside the tumour.
  Tissue tissue_at(Point3 q, Tissue host) const;

  Point3 centre() const { return centre_; }

 private:
  float lobed_distance(Point3 q, const std::array<float, 6>& lobes, float radius) const;

  Point3 centre_{};
  std::array<float, 3> axes_{};
  float radius_ = 0.1f;
  float core_fraction_ = 0.5f;
  float edema_extent_ = 2.f;
  float push_ = 0.4f;
  std::array<float, 6> rim_lobes_{}, edema_lobes_{};
};

}  // namespace unet::data
