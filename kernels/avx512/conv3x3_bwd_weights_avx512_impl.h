// Body of the direct 3x3 convolution's backward-weights kernel (stride 1, padding 1, "same"
// output) with the bias gradient, nChw16c activations, OIhw16i16o weight gradient. Included by
// one translation unit per ISA tier, each defining UNET_AVX512_TIER_NS; AVX512F intrinsics only.
// Shapes the fast path does not cover go to the reference kernel.
#ifndef UNET_AVX512_TIER_NS
#error "define UNET_AVX512_TIER_NS before including conv3x3_bwd_weights_avx512_impl.h"
#endif

#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "kernels/avx512/avx512_kernels.h"
#include "kernels/avx512/conv3x3_shape_avx512_impl.h"
#include "kernels/kernel_call.h"
#include "kernels/kernel_family.h"
#include "kernels/ref/ref_kernels.h"
#include "kernels/tensor_arg.h"

namespace unet::kernels::UNET_AVX512_TIER_NS {
namespace {

constexpr int kTaps = 9;
constexpr int kTapFloats = kBlock * kBlock;  // one 16x16 weight tile

// Items are (group of up to 4 dy blocks, x block). The register tile holds
// dw for OB dy blocks x LN x lanes x 3 horizontal taps of one vertical tap; it sweeps a chunk
// of rows (L1-resident) and is added back to dw, 16/LN lane groups x 3 vertical taps a chunk.

constexpr int kMaxWeightBlocks = 4;
constexpr int kPixelsPerChunk = 128;

// Input lanes per pass for OB dy blocks: about 24 accumulators (OB x lanes x 3 taps).
template <int OB>
constexpr int kLanesPerPass = OB == 1 ? 8 : OB == 2 ? 4 : 2;

template <int OB, int LN, bool HasLeft, bool HasRight>
UNET_INLINE void bww_pixel(__m512 (&acc)[OB][LN][3], const float* xp, const float* gp, int64_t g_blk) {
  __m512 g[OB];
#pragma GCC unroll 4
  for (int o = 0; o < OB; ++o) g[o] = _mm512_loadu_ps(gp + o * g_blk);
#pragma GCC unroll 8
  for (int l = 0; l < LN; ++l)
#pragma GCC unroll 3
    for (int kx = 0; kx < 3; ++kx) {
      if ((kx == 0 && !HasLeft) || (kx == 2 && !HasRight)) continue;
      const __m512 xb = _mm512_set1_ps(xp[(kx - 1) * kBlock + l]);
#pragma GCC unroll 4
      for (int o = 0; o < OB; ++o) acc[o][l][kx] = _mm512_fmadd_ps(xb, g[o], acc[o][l][kx]);
    }
}

// Adds the contribution of output rows [y0, y1) of one image to the dw tiles of vertical tap
// ky, input lanes [l0, l0 + LN). x0: x block of the image; g0: first dy block; dw0: dw of
// (first dy block, x block, tap 0). With PF, one cache line a pixel from pf on is
// prefetched into L2: the next chunk's rows, which the hardware prefetcher fetches late
// (each row of a wide image is its own 4 KB page).
template <int OB, bool PF>
void bww_rows(const float* x0, const float* g0, int64_t g_blk, float* dw0, int64_t dw_ob, int h,
              int w, int y0, int y1, int xa, int xb, int ky, int l0, const float* pf) {
  constexpr int LN = kLanesPerPass<OB>;
  const int ya = std::max(y0, 1 - ky), yb = std::min(y1, h + 1 - ky);
  if (ya >= yb) return;
  __m512 acc[OB][LN][3];
#pragma GCC unroll 4
  for (int o = 0; o < OB; ++o)
#pragma GCC unroll 8
    for (int l = 0; l < LN; ++l)
#pragma GCC unroll 3
      for (int kx = 0; kx < 3; ++kx)
        acc[o][l][kx] = _mm512_loadu_ps(dw0 + o * dw_ob + (ky * 3 + kx) * kTapFloats + (l0 + l) * kBlock);
  for (int y = ya; y < yb; ++y) {
    const float* xr = x0 + (int64_t(y + ky - 1) * w) * kBlock + l0;
    const float* gr = g0 + int64_t(y) * w * kBlock;
    if (w == 1) {
      bww_pixel<OB, LN, false, false>(acc, xr, gr, g_blk);
      continue;
    }
    int x = xa;
    if (x == 0) bww_pixel<OB, LN, false, true>(acc, xr, gr, g_blk), x = 1;
    const int interior_end = xb == w ? w - 1 : xb;
    for (; x < interior_end; ++x) {
      // Hides from the compiler that this pixel's right tap is the next pixel's centre tap:
      // carrying those broadcasts across iterations needs more than 32 registers and spills.
      const float* xp = xr + x * kBlock;
      asm("" : "+r"(xp));
      if constexpr (PF) _mm_prefetch(reinterpret_cast<const char*>(pf), _MM_HINT_T1), pf += kBlock;
      bww_pixel<OB, LN, true, true>(acc, xp, gr + x * kBlock, g_blk);
    }
    if (xb == w) bww_pixel<OB, LN, true, false>(acc, xr + (w - 1) * kBlock, gr + (w - 1) * kBlock, g_blk);
  }
#pragma GCC unroll 4
  for (int o = 0; o < OB; ++o)
#pragma GCC unroll 8
    for (int l = 0; l < LN; ++l)
#pragma GCC unroll 3
      for (int kx = 0; kx < 3; ++kx)
        _mm512_storeu_ps(dw0 + o * dw_ob + (ky * 3 + kx) * kTapFloats + (l0 + l) * kBlock, acc[o][l][kx]);
}

using RowsFn = void (*)(const float*, const float*, int64_t, float*, int64_t, int, int, int, int, int,
                        int, int, int, const float*);
constexpr RowsFn kWeightRows[2][kMaxWeightBlocks] = {
    {bww_rows<1, false>, bww_rows<2, false>, bww_rows<3, false>, bww_rows<4, false>},
    {bww_rows<1, true>, bww_rows<2, true>, bww_rows<3, true>, bww_rows<4, true>}};
constexpr int kWeightLanes[kMaxWeightBlocks] = {kLanesPerPass<1>, kLanesPerPass<2>, kLanesPerPass<3>,
                                                kLanesPerPass<4>};

// Adds the pixels [p0, p1) of dy block g to the bias sum s (16 lanes).
UNET_INLINE __m512 sum_pixels(__m512 s, const float* g, int64_t p0, int64_t p1) {
  __m512 s1 = _mm512_setzero_ps();
  int64_t p = p0;
  for (; p + 1 < p1; p += 2) {
    s = _mm512_add_ps(s, _mm512_loadu_ps(g + p * kBlock));
    s1 = _mm512_add_ps(s1, _mm512_loadu_ps(g + (p + 1) * kBlock));
  }
  if (p < p1) s = _mm512_add_ps(s, _mm512_loadu_ps(g + p * kBlock));
  return _mm512_add_ps(s, s1);
}

size_t bwd_weights_work(const KernelCall& call) {
  const TensorArg &x = call.t[0], &w = call.t[2], &dy = call.t[1];
  if (!is_same_3x3(x, w, dy, call)) return ref::conv2d_bwd_weights_work(call);
  const int groups = (channel_blocks(dy.c) + kMaxWeightBlocks - 1) / kMaxWeightBlocks;
  return size_t(groups) * channel_blocks(x.c);
}

void bwd_weights_run(const KernelCall& call, size_t begin, size_t end) {
  const TensorArg &x = call.t[0], &dy = call.t[1], &dw = call.t[2], &db = call.t[3];
  if (!is_same_3x3(x, dw, dy, call)) return ref::conv2d_bwd_weights_run(call, begin, end);
  const int ibs = channel_blocks(x.c), obs = channel_blocks(dy.c);
  const int64_t plane = int64_t(x.h) * x.w * kBlock;
  const int64_t dw_ob = int64_t(ibs) * kTaps * kTapFloats;
  // Chunks of whole rows, about kPixelsPerChunk pixels, swept 3 x 16 / LN times from L1;
  // rows wider than 2 * kPixelsPerChunk are cut into column pieces.
  const int chunk = std::clamp(kPixelsPerChunk / x.w, 1, x.h);
  const int col_chunks = (x.w + 2 * kPixelsPerChunk - 1) / (2 * kPixelsPerChunk);
  for (size_t item = begin; item < end; ++item) {
    const int ib = static_cast<int>(item % ibs);
    const int ob = static_cast<int>(item / ibs) * kMaxWeightBlocks;
    const int ocb = std::min(kMaxWeightBlocks, obs - ob);
    float* dw0 = dw.data + (int64_t(ob) * ibs + ib) * kTaps * kTapFloats;
    const int lanes = kWeightLanes[ocb - 1];
    const int x_lanes = std::min(kBlock, x.c - ib * kBlock);  // the rest are zero
    // The bias gradient rides along with the first x block, summed while dy is in L1.
    const bool bias = ib == 0 && db.data != nullptr;
    __m512 bsum[kMaxWeightBlocks] = {};
    for (int n = 0; n < x.n; ++n)
      for (int y0 = 0; y0 < x.h; y0 += chunk) {
        const int y1 = std::min(x.h, y0 + chunk);
        // The next chunk: its dy rows and the x rows it adds, prefetched by the passes of
        // the centre tap (ky = 1: every row of the chunk), one stream a pass.
        const bool last = n + 1 == x.n && y1 == x.h;
        const int nn = y1 == x.h ? n + 1 : n, ny0 = y1 == x.h ? 0 : y1;
        const float* next[kMaxWeightBlocks + 1] = {};
        if (!last && col_chunks == 1) {
          for (int o = 0; o < ocb; ++o) next[o] = dy.block(nn, ob + o) + int64_t(ny0) * x.w * kBlock;
          next[ocb] = x.block(nn, ib) + int64_t(nn == n ? ny0 + 1 : 0) * x.w * kBlock;
        }
        for (int cc = 0; cc < col_chunks; ++cc) {
          const int xa = x.w * cc / col_chunks, xb = x.w * (cc + 1) / col_chunks;
          for (int ky = 0; ky < 3; ++ky)
            for (int l0 = 0, pass = 0; l0 < x_lanes; l0 += lanes, ++pass) {
              const float* pf = ky == 1 && pass <= ocb ? next[pass] : nullptr;
              kWeightRows[pf != nullptr][ocb - 1](x.block(n, ib), dy.block(n, ob), plane, dw0, dw_ob, x.h,
                                                  x.w, y0, y1, xa, xb, ky, l0, pf);
            }
        }
        if (bias)
          for (int o = 0; o < ocb; ++o)
            bsum[o] = sum_pixels(bsum[o], dy.block(n, ob + o), int64_t(y0) * x.w, int64_t(y1) * x.w);
      }
    if (bias)
      for (int o = 0; o < ocb; ++o) {
        float* bp = db.data + (ob + o) * kBlock;
        _mm512_storeu_ps(bp, _mm512_add_ps(_mm512_loadu_ps(bp), bsum[o]));
      }
  }
}
}  // namespace

size_t conv3x3_bwd_weights_work(const KernelCall& call) { return bwd_weights_work(call); }
void conv3x3_bwd_weights_run(const KernelCall& call, size_t begin, size_t end) {
  bwd_weights_run(call, begin, end);
}

}  // namespace unet::kernels::UNET_AVX512_TIER_NS
