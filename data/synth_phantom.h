// The healthy head the tumours grow in: either an analytic phantom (ellipsoidal brain with
// a folded cortex, white matter, deep grey nuclei, ventricles, midline fissure, CSF, skull,
// scalp) or a real T1 brain (--template) cut into CSF / grey / white by intensity.
// Coordinates are normalised: the volume spans [-1, 1] on each axis, x left-right,
// y posterior-anterior, z inferior-superior (axial slices are z).
#pragma once
#include <array>
#include <memory>
#include <string>
#include <vector>

#include "data/synth_random.h"
#include "data/synth_tissue.h"

namespace unet::data {

struct Point3 {
  float x, y, z;
};

// The brain's half-axes in normalised coordinates (about 140 x 175 x 125 mm in a
// 240 x 240 x 155 mm field of view, as BraTS brains are).
inline constexpr std::array<float, 3> kBrainRadii{0.58f, 0.73f, 0.80f};

// A real skull-stripped T1 brain, classified once and shared by every subject.
class TemplateBrain {
 public:
  // Reads the NIfTI, finds the brain's bounding box (nonzero voxels) and splits its
  // intensities at the 20th and 55th percentiles into CSF, grey and white.
  static std::shared_ptr<const TemplateBrain> load(const std::string& path);
  // The tissue at normalised q, the template's brain box stretched onto kBrainRadii.
  Tissue tissue_at(Point3 q) const;

 private:
  std::array<int64_t, 3> dims_{};
  std::array<int64_t, 3> lo_{}, hi_{};  // bounding box of the brain, inclusive
  std::vector<Tissue> classes_;
};

class HeadPhantom {
 public:
  // Draws this subject's fold pattern and ventricle/nuclei sizes; `tmpl` replaces the
  // analytic brain (the skull and scalp stay analytic).
  HeadPhantom(SynthRandom& rng, std::shared_ptr<const TemplateBrain> tmpl);
  Tissue tissue_at(Point3 q) const;
  // 0 at the centre, 1 on the brain's outline (without folds).
  static float brain_radius(Point3 q);

 private:
  Tissue analytic_brain(Point3 q, float rho) const;

  std::shared_ptr<const TemplateBrain> template_;
  std::array<float, 3> fold_freq_{}, fold_phase_{};
  float fold_depth_ = 0.08f;
  std::array<float, 3> ventricle_radii_{};
  float ventricle_offset_ = 0.08f;
  std::array<float, 3> nuclei_radii_{};
};

}  // namespace unet::data
