#include "data/synth_phantom.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "data/data_error.h"
#include "data/nifti_reader.h"

namespace unet::data {

namespace {

float ellipsoid(Point3 q, Point3 c, const std::array<float, 3>& r) {
  const float dx = (q.x - c.x) / r[0], dy = (q.y - c.y) / r[1], dz = (q.z - c.z) / r[2];
  return dx * dx + dy * dy + dz * dz;
}

// The shells outside the brain, by normalised brain radius.
Tissue outer_layers(float rho) {
  if (rho > 1.26f) return Tissue::background;
  if (rho > 1.17f) return Tissue::scalp;
  if (rho > 1.07f) return Tissue::skull;
  return Tissue::csf_outer;
}

}  // namespace

std::shared_ptr<const TemplateBrain> TemplateBrain::load(const std::string& path) {
  const NiftiVolume vol = read_nifti(path);
  auto t = std::make_shared<TemplateBrain>();
  t->dims_ = vol.dims;
  t->lo_ = vol.dims;
  t->hi_ = {-1, -1, -1};
  std::vector<float> brain;
  for (int64_t z = 0; z < vol.dims[2]; ++z)
    for (int64_t y = 0; y < vol.dims[1]; ++y)
      for (int64_t x = 0; x < vol.dims[0]; ++x) {
        const float v = vol.at(x, y, z);
        if (!(v > 0.f)) continue;
        brain.push_back(v);
        const int64_t c[3] = {x, y, z};
        for (int i = 0; i < 3; ++i) {
          t->lo_[i] = std::min(t->lo_[i], c[i]);
          t->hi_[i] = std::max(t->hi_[i], c[i]);
        }
      }
  if (brain.size() < 1000)
    throw DataError(fmt::format("{}: template: only {} voxels above zero; expected a skull-stripped T1 brain", path,
                                brain.size()));
  std::vector<float> sorted = brain;
  const size_t i20 = sorted.size() / 5, i55 = sorted.size() * 55 / 100;
  std::nth_element(sorted.begin(), sorted.begin() + i20, sorted.end());
  const float t_csf = sorted[i20];
  std::nth_element(sorted.begin(), sorted.begin() + i55, sorted.end());
  const float t_grey = sorted[i55];
  t->classes_.resize(vol.count());
  for (size_t i = 0; i < vol.count(); ++i) {
    const float v = vol.voxels[i];
    t->classes_[i] = !(v > 0.f) ? Tissue::background
                     : v < t_csf ? Tissue::csf
                     : v < t_grey ? Tissue::grey
                                  : Tissue::white;
  }
  return t;
}

Tissue TemplateBrain::tissue_at(Point3 q) const {
  const float n[3] = {q.x / kBrainRadii[0], q.y / kBrainRadii[1], q.z / kBrainRadii[2]};
  int64_t c[3];
  for (int i = 0; i < 3; ++i) {
    if (n[i] < -1.f || n[i] > 1.f) return Tissue::background;
    const float f = (n[i] + 1.f) * 0.5f;
    c[i] = lo_[i] + static_cast<int64_t>(std::lround(f * static_cast<float>(hi_[i] - lo_[i])));
  }
  return classes_[static_cast<size_t>((c[2] * dims_[1] + c[1]) * dims_[0] + c[0])];
}

HeadPhantom::HeadPhantom(SynthRandom& rng, std::shared_ptr<const TemplateBrain> tmpl) : template_(std::move(tmpl)) {
  // Gyri about a centimetre apart: angular frequencies of 25-40 over the unit half-axis.
  for (int i = 0; i < 3; ++i) {
    fold_freq_[i] = static_cast<float>(rng.uniform(25.0, 40.0));
    fold_phase_[i] = static_cast<float>(rng.uniform(0.0, 6.2831853));
  }
  fold_depth_ = static_cast<float>(rng.uniform(0.04, 0.07));
  ventricle_radii_ = {static_cast<float>(rng.uniform(0.045, 0.08)), static_cast<float>(rng.uniform(0.22, 0.32)),
                      static_cast<float>(rng.uniform(0.09, 0.14))};
  ventricle_offset_ = static_cast<float>(rng.uniform(0.06, 0.1));
  nuclei_radii_ = {static_cast<float>(rng.uniform(0.07, 0.1)), static_cast<float>(rng.uniform(0.12, 0.17)),
                   static_cast<float>(rng.uniform(0.09, 0.13))};
}

float HeadPhantom::brain_radius(Point3 q) {
  const float x = q.x / kBrainRadii[0], y = q.y / kBrainRadii[1], z = q.z / kBrainRadii[2];
  return std::sqrt(x * x + y * y + z * z);
}

Tissue HeadPhantom::analytic_brain(Point3 q, float rho) const {
  if (rho > 0.78f) {
    const float g = std::sin(fold_freq_[0] * q.x + fold_phase_[0]) * std::sin(fold_freq_[1] * q.y + fold_phase_[1]) *
                    std::sin(fold_freq_[2] * q.z + fold_phase_[2]);
    if (rho > 1.f + 0.015f * g) return outer_layers(rho);
    if (rho > 0.9f && g > 0.55f) return Tissue::csf;  // a sulcus
    if (rho > 0.88f - fold_depth_ * g) return Tissue::grey;
  }
  if (std::fabs(q.x) < 0.012f && rho > 0.45f && q.z > -0.35f) return Tissue::csf;  // midline fissure
  if (ellipsoid(q, {ventricle_offset_, 0.03f, 0.12f}, ventricle_radii_) < 1.f ||
      ellipsoid(q, {-ventricle_offset_, 0.03f, 0.12f}, ventricle_radii_) < 1.f)
    return Tissue::csf;
  if (ellipsoid(q, {0.2f, -0.02f, -0.04f}, nuclei_radii_) < 1.f ||
      ellipsoid(q, {-0.2f, -0.02f, -0.04f}, nuclei_radii_) < 1.f)
    return Tissue::grey;
  return Tissue::white;
}

Tissue HeadPhantom::tissue_at(Point3 q) const {
  const float rho = brain_radius(q);
  if (template_) {
    const Tissue t = template_->tissue_at(q);
    if (t != Tissue::background) return t;
    return outer_layers(std::max(rho, 1.0001f));
  }
  if (rho > 1.02f) return outer_layers(rho);
  return analytic_brain(q, rho);
}

}  // namespace unet::data
