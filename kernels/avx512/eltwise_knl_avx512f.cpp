// The memory-bound AVX-512 kernels built for the avx512f tier (the Knights Landing subset).
#define UNET_AVX512_TIER_NS avx512f
#include "kernels/avx512/adam_avx512_impl.h"
#include "kernels/avx512/dice_avx512_impl.h"
#include "kernels/avx512/dropout_avx512_impl.h"
#include "kernels/avx512/eltwise_avx512_impl.h"
#include "kernels/avx512/pool_avx512_impl.h"
#include "kernels/avx512/upsample_avx512_impl.h"
