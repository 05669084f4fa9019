// The tissue classes the synthetic subjects are drawn from. Each class has an intensity in
// each contrast (synth_contrast.h); the last three are the tumour's and carry BraTS labels.
#pragma once
#include <cstdint>

namespace unet::data {

enum class Tissue : uint8_t {
  background,
  csf,        // inside the brain outline: ventricles, sulci, the midline fissure
  csf_outer,  // the layer between brain and skull: removed by skull stripping, as in BraTS
  grey,
  white,
  skull,
  scalp,
  necrosis,   // BraTS label 1
  edema,      // BraTS label 2
  enhancing,  // BraTS label 4
};
inline constexpr int kTissueCount = 10;

inline uint8_t brats_label(Tissue t) {
  switch (t) {
    case Tissue::necrosis: return 1;
    case Tissue::edema: return 2;
    case Tissue::enhancing: return 4;
    default: return 0;
  }
}

// What a BraTS skull-stripped image keeps.
inline bool inside_brain(Tissue t) {
  return t == Tissue::csf || t == Tissue::grey || t == Tissue::white || t == Tissue::necrosis ||
         t == Tissue::edema || t == Tissue::enhancing;
}

}  // namespace unet::data
