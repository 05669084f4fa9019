// The 1x1 conv kernels built for the avx512 tier (Skylake-SP, Zen 4/5).
#define UNET_AVX512_TIER_NS avx512
#include "kernels/avx512/conv1x1_avx512_impl.h"
