#include "data/synth_tumour.h"

#include <algorithm>
#include <cmath>

namespace unet::data {

Tumour::Tumour(SynthRandom& rng, const HeadPhantom& head, float min_radius) {
  // Centre in the hemispheres' parenchyma, away from the outline; fall back to the last
  // candidate if the draw keeps landing in CSF.
  for (int attempt = 0; attempt < 64; ++attempt) {
    const double r = rng.uniform(0.15, 0.6);
    const double cz = rng.uniform(-0.6, 0.8), phi = rng.uniform(0.0, 6.283185307179586);
    const double s = std::sqrt(std::max(0.0, 1.0 - cz * cz));
    centre_ = {static_cast<float>(r * s * std::cos(phi) * kBrainRadii[0]),
               static_cast<float>(r * s * std::sin(phi) * kBrainRadii[1]), static_cast<float>(r * cz * kBrainRadii[2])};
    const Tissue t = head.tissue_at(centre_);
    if (t == Tissue::white || t == Tissue::grey) break;
  }
  radius_ = std::max(min_radius, static_cast<float>(rng.uniform(0.07, 0.2)));
  for (float& a : axes_) a = static_cast<float>(rng.uniform(0.75, 1.3));
  core_fraction_ = static_cast<float>(rng.uniform(0.55, 0.8));
  edema_extent_ = static_cast<float>(rng.uniform(1.5, 2.4));
  push_ = static_cast<float>(rng.uniform(0.25, 0.5));
  for (float& l : rim_lobes_) l = static_cast<float>(rng.uniform(-0.25, 0.25));
  for (float& l : edema_lobes_) l = static_cast<float>(rng.uniform(-0.4, 0.4));
}

float Tumour::lobed_distance(Point3 q, const std::array<float, 6>& lobes, float radius) const {
  const float dx = (q.x - centre_.x) / axes_[0], dy = (q.y - centre_.y) / axes_[1], dz = (q.z - centre_.z) / axes_[2];
  const float d2 = dx * dx + dy * dy + dz * dz;
  if (d2 == 0.f) return 0.f;
  const float d = std::sqrt(d2), inv = 1.f / d;
  const float ux = dx * inv, uy = dy * inv, uz = dz * inv;
  const float shape = 1.f + lobes[0] * ux + lobes[1] * uy + lobes[2] * uz + lobes[3] * 2.f * ux * uy +
                      lobes[4] * 2.f * uy * uz + lobes[5] * (uz * uz - ux * ux);
  return d / (radius * std::max(shape, 0.3f));
}

Point3 Tumour::displaced(Point3 q) const {
  const float dx = q.x - centre_.x, dy = q.y - centre_.y, dz = q.z - centre_.z;
  const float r2 = (dx * dx + dy * dy + dz * dz) / (4.f * radius_ * radius_);
  const float keep = 1.f - push_ / (1.f + r2 * r2);
  return {centre_.x + dx * keep, centre_.y + dy * keep, centre_.z + dz * keep};
}

Tissue Tumour::tissue_at(Point3 q, Tissue host) const {
  if (!inside_brain(host)) return host;
  const float rim = lobed_distance(q, rim_lobes_, radius_);
  if (rim < core_fraction_) return Tissue::necrosis;
  if (rim < 1.f) return Tissue::enhancing;
  if ((host == Tissue::white || host == Tissue::grey) && lobed_distance(q, edema_lobes_, radius_ * edema_extent_) < 1.f)
    return Tissue::edema;
  return host;
}

}  // namespace unet::data
