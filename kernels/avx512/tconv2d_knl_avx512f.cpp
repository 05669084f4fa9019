// The 2x2 stride-2 transposed conv kernels built for the avx512f tier (the Knights Landing subset).
#define UNET_AVX512_TIER_NS avx512f
#include "kernels/avx512/tconv2d_avx512_impl.h"
