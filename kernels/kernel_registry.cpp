#include "kernels/kernel_registry.h"

#include <vector>

namespace unet::kernels {

std::string_view family_name(Family f) {
  static constexpr std::string_view names[] = {
      "conv2d_fwd",     "conv2d_bwd_data",  "conv2d_bwd_weights", "tconv2d_fwd",
      "tconv2d_bwd_data", "tconv2d_bwd_weights", "maxpool2d_fwd", "maxpool2d_bwd",
      "upsample2d_fwd", "upsample2d_bwd",   "dropout_fwd",        "dropout_bwd",
      "relu_bwd",       "sigmoid_bwd",      "copy_channels",      "sigmoid_dice_fwd",
      "sigmoid_dice_bwd", "adam_update"};
  static_assert(std::size(names) == static_cast<size_t>(Family::count));
  const auto i = static_cast<size_t>(f);
  return i < std::size(names) ? names[i] : "?";
}

std::span<const KernelInfo> all_kernels() {
  static const std::vector<KernelInfo> table = [] {
    std::vector<KernelInfo> t;
    for (auto part : {reference_kernels(), avx512_kernels(), avx512_more_kernels()}) t.insert(t.end(), part.begin(), part.end());
    return t;
  }();
  return table;
}

const KernelInfo* find_kernel(std::string_view name) {
  for (const auto& k : all_kernels())
    if (k.name == name) return &k;
  return nullptr;
}

const KernelInfo* reference_kernel(Family family) {
  for (const auto& k : reference_kernels())
    if (k.family == family) return &k;
  return nullptr;
}

const KernelInfo* best_kernel(Family family, Tier tier, const KernelCall* shape) {
  const KernelInfo* best = nullptr;
  for (const auto& k : all_kernels())
    if (k.family == family && tier_includes(tier, k.tier) && (!best || k.priority > best->priority) &&
        (!shape || !k.supports || k.supports(*shape)))
      best = &k;
  return best;
}

}  // namespace unet::kernels
