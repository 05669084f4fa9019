#include "data/synth_contrast.h"

namespace unet::data {

namespace {

// Columns follow Tissue: background, csf, csf_outer, grey, white, skull, scalp,
// necrosis, edema, enhancing. Units are those of typical BraTS int16 files.
constexpr float kBase[kModalityCount][kTissueCount] = {
    /* t1    */ {0, 260, 260, 600, 850, 140, 900, 300, 520, 640},
    /* t2    */ {0, 1400, 1400, 800, 560, 90, 620, 1250, 1100, 850},
    /* flair */ {0, 130, 130, 660, 490, 70, 520, 460, 1080, 820},
    /* t1ce  */ {0, 260, 260, 620, 860, 140, 900, 280, 540, 1350},
};

}  // namespace

ContrastTable draw_contrasts(SynthRandom& rng) {
  ContrastTable c;
  for (int m = 0; m < kModalityCount; ++m) {
    const float gain = static_cast<float>(rng.uniform(0.8, 1.25));
    for (int t = 0; t < kTissueCount; ++t) c.mean[m][t] = kBase[m][t] * gain * static_cast<float>(rng.uniform(0.94, 1.06));
  }
  return c;
}

}  // namespace unet::data
