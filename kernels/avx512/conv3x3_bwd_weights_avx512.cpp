// The 3x3 convolution backward-weights kernel built for the avx512 tier (Skylake-SP, Zen 4/5).
#define UNET_AVX512_TIER_NS avx512
#include "kernels/avx512/conv3x3_bwd_weights_avx512_impl.h"
