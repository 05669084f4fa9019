// Checkpoints: .npz files that numpy.load opens, parameters in the seed's (Keras) layout.
//   "<layer>/kernel", "<layer>/bias"                 the weights
//   "<layer>/kernel/adam_m", "<layer>/kernel/adam_v"  Adam's moments (training plans)
//   "global_step"                                     int64 scalar
//   "meta"                                            JSON text: model, fingerprint, seed
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "plan/plan.h"

namespace unet::runtime {

// Writes <dir>/model-<step>.npz atomically, then points <dir>/latest.npz at it (a symlink,
// replaced atomically). The folder never holds more than `keep` model-*.npz (0: no limit): the
// oldest are removed before the write makes one more (never latest.npz's target), and the
// temporaries of our own naming that a killed process left (`*.tmp.<pid>` of a pid no longer
// running) with them. Returns the checkpoint's path.
inline constexpr size_t kDefaultKeepCheckpoints = 5;
std::string save_checkpoint(const std::string& dir, const plan::Plan& plan, std::byte* arena,
                            uint64_t global_step, size_t keep = kDefaultKeepCheckpoints);

enum class CheckpointUse {
  resume,       // weights, moments and the global step: continue exactly where it stopped
  init_weights  // weights only: a fresh run that starts from given weights
};

// Loads `path` into the arena; returns the checkpoint's global step. Errors name the file and
// the member (missing, shape mismatch).
uint64_t load_checkpoint(const std::string& path, const plan::Plan& plan, std::byte* arena,
                         CheckpointUse use);

}  // namespace unet::runtime
