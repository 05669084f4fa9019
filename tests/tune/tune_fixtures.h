// Shared by the tuning suites: a small UNet-shaped model whose ops have several candidate
// kernels at the AVX-512 tiers (direct and Winograd 3x3 convs, a 1x1 conv, a folded pool and
// dropout), hand-made tune files, and unetc run as a program.
#pragma once
#include <functional>
#include <string>

#include "kernels/kernel_registry.h"
#include "plan/plan.h"
#include "runtime/tune_file.h"

namespace unet::test {

extern const char* const kTuneModel;

// A fresh folder for the running test, holding kTuneModel as model.def.
std::string scratch_dir();
std::string model_path(const std::string& dir);  // dir + "/model.def"

plan::Plan compile_model(uint32_t batch, kernels::Tier tier);

// A tune file for `plan` naming every op with at least two fitting kernels, with
// choose(op, fitting) as the chosen kernel (the default otherwise), every fitting kernel as a
// candidate with made-up seconds.
using Chooser =
    std::function<const kernels::KernelInfo*(const plan::Op&, const std::vector<const kernels::KernelInfo*>&)>;
runtime::TuneFile hand_tune(const plan::Plan& plan, const Chooser& choose);

// The first fitting kernel that is not the op's default (nullptr: none).
const kernels::KernelInfo* another_kernel(const plan::Op& op, const std::vector<const kernels::KernelInfo*>& fitting);

struct Result {
  int exit_code = -1;
  std::string out, err;
};
Result unetc(const std::string& args);  // stdout and stderr apart

std::string slurp(const std::string& path);  // "" when unreadable
void spit(const std::string& path, const std::string& bytes);
size_t count_lines(const std::string& s);

}  // namespace unet::test
