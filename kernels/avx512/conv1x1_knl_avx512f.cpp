// The 1x1 conv kernels built for the avx512f tier (the Knights Landing subset).
#define UNET_AVX512_TIER_NS avx512f
#include "kernels/avx512/conv1x1_avx512_impl.h"
