// Shared fixtures of the runtime tests: a tiny UNet-shaped model and data sets made on the fly.
#pragma once
#include <string>
#include <utility>

#include "plan/plan.h"

namespace unet::test {

// A two-level UNet on 16x16 images with 2 input channels: conv, max-pool, conv, dropout,
// transposed conv, concat with the skip, conv, 1x1 sigmoid conv, Dice loss.
extern const char* const kTinyModel;

plan::Plan compile(const std::string& model_text, uint32_t batch, bool training = true,
                   kernels::Tier tier = kernels::Tier::scalar, bool fold_relu_backward = true,
                   bool fold_max_pools = true, bool fold_dropouts = true);

// imgs_<split>.npy [n, h, w, 4] float32 (t1, t2, flair, t1ce) with a bright square lesion on
// FLAIR and T1ce, and msks_<split>.npy [n, h, w, 4] one-hot with the lesion as label 2.
void write_dataset(const std::string& dir, const std::string& split, int n, int h, int w, uint64_t seed);

// A fresh empty folder under the test temp dir.
std::string temp_dir(const std::string& name);

// For the suites that run the tools as a user would: `command` through the shell with stderr
// joined to stdout, its exit status (-1 when it did not exit) and everything it printed.
std::pair<int, std::string> run(const std::string& command);
std::string read_file(const std::string& path);  // the whole file ("" when it cannot be read)
void write_file(const std::string& path, const std::string& bytes);  // replaces the file

}  // namespace unet::test
