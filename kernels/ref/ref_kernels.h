// The scalar reference kernels: the specification of every kernel family (kernel_family.h).
// Plain loops, sums in double; optimised kernels are tested against these. Every family
// has a `<family>_work` (how many independent items) and a `<family>_run` (items
// [begin, end), safe to call concurrently on disjoint ranges). Registered in ref_table.cpp
// as "<family>_f32_ref", tier scalar, priority 0.
//
// How each family splits its work into items:
//   conv2d_fwd, tconv2d_fwd            image x output-channel block
//   conv2d_bwd_data, tconv2d_bwd_data  image x input-channel block (of dx)
//   *_bwd_weights                      output-channel block x input-channel block, each
//                                      summing over all images and pixels; the items with
//                                      input block 0 also add the bias gradient
//   maxpool2d_*, upsample2d_*          image x channel block
//   dropout_*, relu_bwd, sigmoid_bwd,
//   copy_channels                      image x channel block x row
//   sigmoid_dice_fwd, sigmoid_dice_bwd image
//   adam_update                        chunks of kAdamChunk elements
//
// Optional tensors: a conv/tconv bias (fwd t2) or bias gradient (bwd_weights t3) whose data
// is nullptr is treated as absent (zero bias / no bias gradient).
#pragma once
#include <cstddef>

#include "kernels/family_signature.h"
#include "kernels/kernel_call.h"

namespace unet::kernels::ref {

inline constexpr size_t kAdamChunk = 4096;

size_t conv2d_fwd_work(const KernelCall& call);
void conv2d_fwd_run(const KernelCall& call, size_t begin, size_t end);
size_t conv2d_bwd_data_work(const KernelCall& call);
void conv2d_bwd_data_run(const KernelCall& call, size_t begin, size_t end);
size_t conv2d_bwd_weights_work(const KernelCall& call);
void conv2d_bwd_weights_run(const KernelCall& call, size_t begin, size_t end);

size_t tconv2d_fwd_work(const KernelCall& call);
void tconv2d_fwd_run(const KernelCall& call, size_t begin, size_t end);
size_t tconv2d_bwd_data_work(const KernelCall& call);
void tconv2d_bwd_data_run(const KernelCall& call, size_t begin, size_t end);
size_t tconv2d_bwd_weights_work(const KernelCall& call);
void tconv2d_bwd_weights_run(const KernelCall& call, size_t begin, size_t end);

size_t maxpool2d_fwd_work(const KernelCall& call);
// The max-pool of one (image, channel block) of x into y: maxpool2d_fwd's item, and the
// epilogue of a conv that folds it (pool_epilogue_slot).
void maxpool2d_block(const TensorArg& x, const TensorArg& y, int n, int cb, int stride, int window);
void maxpool2d_fwd_run(const KernelCall& call, size_t begin, size_t end);
size_t maxpool2d_bwd_work(const KernelCall& call);
void maxpool2d_bwd_run(const KernelCall& call, size_t begin, size_t end);
size_t upsample2d_fwd_work(const KernelCall& call);
void upsample2d_fwd_run(const KernelCall& call, size_t begin, size_t end);
size_t upsample2d_bwd_work(const KernelCall& call);
void upsample2d_bwd_run(const KernelCall& call, size_t begin, size_t end);

size_t dropout_fwd_work(const KernelCall& call);
// t = dropout_fwd(t) over one (image, channel block), with the call's rate, seeds and step:
// the epilogue of a conv that folds a dropout (kernel_family.h, has_dropout_epilogue).
void dropout_block_in_place(const KernelCall& call, const TensorArg& t, int n, int cb);
void dropout_fwd_run(const KernelCall& call, size_t begin, size_t end);
size_t dropout_bwd_work(const KernelCall& call);
void dropout_bwd_run(const KernelCall& call, size_t begin, size_t end);

size_t relu_bwd_work(const KernelCall& call);
void relu_bwd_run(const KernelCall& call, size_t begin, size_t end);
size_t sigmoid_bwd_work(const KernelCall& call);
void sigmoid_bwd_run(const KernelCall& call, size_t begin, size_t end);

size_t copy_channels_work(const KernelCall& call);
void copy_channels_run(const KernelCall& call, size_t begin, size_t end);

size_t sigmoid_dice_fwd_work(const KernelCall& call);
void sigmoid_dice_fwd_run(const KernelCall& call, size_t begin, size_t end);
size_t sigmoid_dice_bwd_work(const KernelCall& call);
void sigmoid_dice_bwd_run(const KernelCall& call, size_t begin, size_t end);

size_t adam_update_work(const KernelCall& call);
void adam_update_run(const KernelCall& call, size_t begin, size_t end);

}  // namespace unet::kernels::ref
