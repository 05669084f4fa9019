// The table of reference kernels, one per family, in Family order.
#include "kernels/family_signature.h"
#include "kernels/kernel_registry.h"
#include "kernels/ref/ref_kernels.h"

namespace unet::kernels {

std::span<const KernelInfo> reference_kernels() {
// Every reference kernel honours its family's optional relu_y and pool_y and its folded
// dropout (where it has them).
#define UNET_REF_KERNEL(family)                                                                    \
  KernelInfo{#family "_f32_ref", Family::family, Tier::scalar, 0, ref::family##_work, ref::family##_run, \
             nullptr, relu_mask_slot(Family::family) >= 0, pool_epilogue_slot(Family::family) >= 0, \
             has_dropout_epilogue(Family::family)}
  static constexpr KernelInfo table[] = {
      UNET_REF_KERNEL(conv2d_fwd),       UNET_REF_KERNEL(conv2d_bwd_data),
      UNET_REF_KERNEL(conv2d_bwd_weights), UNET_REF_KERNEL(tconv2d_fwd),
      UNET_REF_KERNEL(tconv2d_bwd_data), UNET_REF_KERNEL(tconv2d_bwd_weights),
      UNET_REF_KERNEL(maxpool2d_fwd),    UNET_REF_KERNEL(maxpool2d_bwd),
      UNET_REF_KERNEL(upsample2d_fwd),   UNET_REF_KERNEL(upsample2d_bwd),
      UNET_REF_KERNEL(dropout_fwd),      UNET_REF_KERNEL(dropout_bwd),
      UNET_REF_KERNEL(relu_bwd),         UNET_REF_KERNEL(sigmoid_bwd),
      UNET_REF_KERNEL(copy_channels),    UNET_REF_KERNEL(sigmoid_dice_fwd),
      UNET_REF_KERNEL(sigmoid_dice_bwd), UNET_REF_KERNEL(adam_update),
  };
#undef UNET_REF_KERNEL
  static_assert(std::size(table) == static_cast<size_t>(Family::count));
  return table;
}

}  // namespace unet::kernels
