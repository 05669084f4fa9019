// The memory-bound AVX-512 kernels (max-pool, upsampling, activation gradients, channel
// copy, dropout, the sigmoid + Dice head, Adam) built for the avx512 tier.
#define UNET_AVX512_TIER_NS avx512
#include "kernels/avx512/adam_avx512_impl.h"
#include "kernels/avx512/dice_avx512_impl.h"
#include "kernels/avx512/dropout_avx512_impl.h"
#include "kernels/avx512/eltwise_avx512_impl.h"
#include "kernels/avx512/pool_avx512_impl.h"
#include "kernels/avx512/upsample_avx512_impl.h"
