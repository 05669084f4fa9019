// The 3x3 convolution backward-weights kernel built for the avx512f tier (the Knights Landing subset).
#define UNET_AVX512_TIER_NS avx512f
#include "kernels/avx512/conv3x3_bwd_weights_avx512_impl.h"
