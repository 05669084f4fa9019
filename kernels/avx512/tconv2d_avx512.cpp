// The 2x2 stride-2 transposed conv kernels built for the avx512 tier (Skylake-SP, Zen 4/5).
#define UNET_AVX512_TIER_NS avx512
#include "kernels/avx512/tconv2d_avx512_impl.h"
