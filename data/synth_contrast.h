// How each tissue looks in the four BraTS contrasts, with a per-subject jitter (scanners
// and sessions differ). The orderings are the real ones: T1 white > grey > CSF; T2 CSF
// brightest; FLAIR suppresses CSF and shows edema brightest; T1ce is T1 with the enhancing
// rim lit by gadolinium; necrosis is dark on T1/T1ce and bright on T2.
#pragma once
#include <array>

#include "data/synth_random.h"
#include "data/synth_tissue.h"

namespace unet::data {

// The BraTS file suffixes in the channel order the converter writes.
inline constexpr int kModalityCount = 4;
inline constexpr std::array<const char*, kModalityCount> kModalityNames{"t1", "t2", "flair", "t1ce"};

struct ContrastTable {
  std::array<std::array<float, kTissueCount>, kModalityCount> mean{};  // [modality][tissue]
};

ContrastTable draw_contrasts(SynthRandom& rng);

}  // namespace unet::data
