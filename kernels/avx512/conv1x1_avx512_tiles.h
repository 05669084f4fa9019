// Register tiles of pointwise convolutions, the common core of the 1x1 conv and of the 2x2
// stride-2 transposed conv (which is four 1x1 convs, one a output phase). Each tile keeps
// its sums in zmm registers: P pixels x K output vectors, with the input broadcast one
// channel at a time. Included inside one translation unit per ISA tier (after
// UNET_AVX512_TIER_NS and eltwise_avx512_simd.h); AVX512F intrinsics only.
#pragma once
#ifndef UNET_AVX512_TIER_NS
#error "define UNET_AVX512_TIER_NS before including conv1x1_avx512_tiles.h"
#endif

#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <utility>

#include "kernels/avx512/eltwise_avx512_simd.h"
#include "kernels/kernel_family.h"
#include "kernels/tensor_arg.h"

namespace unet::kernels::UNET_AVX512_TIER_NS {
namespace {

constexpr int kTileFloats = kBlock * kBlock;  // one 16x16 weight tile
// Stack room for transposed weights in backward-data (24 KB: well inside a thread's stack).
constexpr int kTransposedFloats = 6144;

// acc += a * b as the in-place vfmadd231ps. Left to itself GCC picks the 132/213 forms for
// some accumulators and pays for them with zmm-to-zmm moves that take FMA port slots; the
// asm pins the form (AVX512F, so both ISA tiers may use it).
UNET_SIMD_INLINE void fmadd_in_place(__m512& acc, __m512 a, __m512 b) {
  asm("vfmadd231ps %[b], %[a], %[acc]" : [acc] "+v"(acc) : [a] "v"(a), [b] "v"(b));
}

// Splits `count` pixels into near-equal segments of at most `most`; calls fn(first, size).
template <typename Fn>
UNET_SIMD_INLINE void for_each_segment(int count, int most, Fn&& fn) {
  if (count <= 0) return;
  const int segments = (count + most - 1) / most;
  const int base = count / segments, wider = count % segments;
  int first = 0;
  for (int s = 0; s < segments; ++s) {
    const int size = base + (s < wider ? 1 : 0);
    fn(first, size);
    first += size;
  }
}

// ---------------------------------------------------------------------------------------------
// Forward: out_k(p) = act(bias_k + sum over input channels i of x_i(p) * w_k[i]).

template <int K>
struct FwdTile {
  const float* x;        // input block 0, first pixel (pixels 16 floats apart)
  int64_t x_blk;         // floats between input channel blocks
  int blocks;            // input channel blocks
  int last_lanes;        // real lanes of the last input block
  const float* w[K];     // column k's weights for input block 0, lane 0 (16 output lanes)
  int64_t w_ib;          // floats between input blocks in the weights
  float* out[K];         // column k's output, first pixel
  int out_step;          // floats between consecutive pixels of one column's output
  const float* bias[K];  // 16 floats, or nullptr
  __mmask16 lanes[K];    // real output lanes of column k
  Activation act;
};

template <int P, int K>
void fwd_tile(const FwdTile<K>& a) {
  __m512 acc[P][K];
#pragma GCC unroll 32
  for (int k = 0; k < K; ++k) {
    const __m512 start = a.bias[k] ? _mm512_loadu_ps(a.bias[k]) : _mm512_setzero_ps();
#pragma GCC unroll 32
    for (int p = 0; p < P; ++p) acc[p][k] = start;
  }
  for (int b = 0; b < a.blocks; ++b) {
    const int lanes = b + 1 == a.blocks ? a.last_lanes : kBlock;
    const float* xb = a.x + b * a.x_blk;
    const float* wb[K];
#pragma GCC unroll 4
    for (int k = 0; k < K; ++k) wb[k] = a.w[k] + b * a.w_ib;
    for (int l = 0; l < lanes; ++l) {
      __m512 wv[K];
#pragma GCC unroll 4
      for (int k = 0; k < K; ++k) wv[k] = _mm512_loadu_ps(wb[k] + l * kBlock);
#pragma GCC unroll 32
      for (int p = 0; p < P; ++p) {
        const __m512 xs = _mm512_set1_ps(xb[p * kBlock + l]);
#pragma GCC unroll 4
        for (int k = 0; k < K; ++k) fmadd_in_place(acc[p][k], xs, wv[k]);
      }
    }
  }
#pragma GCC unroll 4
  for (int k = 0; k < K; ++k)
#pragma GCC unroll 32
    for (int p = 0; p < P; ++p) {
      __m512 v = acc[p][k];
      if (a.act == Activation::relu) v = _mm512_max_ps(v, _mm512_setzero_ps());
      else if (a.act == Activation::sigmoid) v = sigmoid_ps(v);
      _mm512_storeu_ps(a.out[k] + p * a.out_step, _mm512_maskz_mov_ps(a.lanes[k], v));
    }
}

template <int K>
using FwdTileFn = void (*)(const FwdTile<K>&);

template <int K, size_t... I>
constexpr std::array<FwdTileFn<K>, sizeof...(I)> fwd_tiles(std::index_sequence<I...>) {
  return {{fwd_tile<int(I) + 1, K>...}};
}

// ---------------------------------------------------------------------------------------------
// Backward data: dx_b(p) (+)= sum over source blocks, taps t and lanes o of
// dy_o(p at tap t) * wt[block][t][b][o] (weights transposed so a row runs over input lanes).

template <int B>
struct BwdDataTile {
  const float* dy;       // source block 0 of the chunk at the tile's first pixel's origin
  int64_t dy_blk;        // floats between source channel blocks
  int blocks;            // source blocks in the chunk
  int last_lanes;        // real lanes of the chunk's last block
  const int64_t* tap;    // offsets (floats) from a pixel's origin to its source of each tap
  int src_step;          // floats between consecutive pixels' origins in dy
  const float* wt;       // [block][tap][b][o lane][16 input lanes]
  float* out[B];         // dx block b, first pixel (pixels 16 floats apart)
  bool load;             // add to what out holds (accumulate, or a later chunk)
  __mmask16 lanes[B];    // real lanes of dx block b
  // The folded ReLU backward: relu_y of dx block b at the first pixel (same offsets as out);
  // the final store zeroes lanes where it is <= 0. nullptr: none, or not the last chunk.
  const float* relu[B];
};

template <int P, int B, int T>
void bwd_data_tile(const BwdDataTile<B>& a) {
  __m512 acc[P][B];
#pragma GCC unroll 4
  for (int b = 0; b < B; ++b)
#pragma GCC unroll 32
    for (int p = 0; p < P; ++p)
      acc[p][b] = a.load ? _mm512_loadu_ps(a.out[b] + p * kBlock) : _mm512_setzero_ps();
  for (int ob = 0; ob < a.blocks; ++ob) {
    const int lanes = ob + 1 == a.blocks ? a.last_lanes : kBlock;
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) {
      const float* src = a.dy + ob * a.dy_blk + a.tap[t];
      const float* wt = a.wt + (ob * T + t) * B * kTileFloats;
      for (int l = 0; l < lanes; ++l) {
        __m512 wv[B];
#pragma GCC unroll 4
        for (int b = 0; b < B; ++b) wv[b] = _mm512_loadu_ps(wt + b * kTileFloats + l * kBlock);
#pragma GCC unroll 32
        for (int p = 0; p < P; ++p) {
          const __m512 s = _mm512_set1_ps(src[p * a.src_step + l]);
#pragma GCC unroll 4
          for (int b = 0; b < B; ++b) fmadd_in_place(acc[p][b], s, wv[b]);
        }
      }
    }
  }
#pragma GCC unroll 4
  for (int b = 0; b < B; ++b)
#pragma GCC unroll 32
    for (int p = 0; p < P; ++p) {
      if (a.relu[b]) {
        const __mmask16 live = relu_live(a.lanes[b], a.relu[b] + p * kBlock);
        _mm512_storeu_ps(a.out[b] + p * kBlock, _mm512_maskz_mov_ps(live, acc[p][b]));
      } else if (a.load) {  // padding lanes stay as they are (zero)
        _mm512_mask_storeu_ps(a.out[b] + p * kBlock, a.lanes[b], acc[p][b]);
      } else {
        _mm512_storeu_ps(a.out[b] + p * kBlock, _mm512_maskz_mov_ps(a.lanes[b], acc[p][b]));
      }
    }
}

template <int B, int T>
using BwdDataTileFn = void (*)(const BwdDataTile<B>&);

template <int B, int T, size_t... I>
constexpr std::array<BwdDataTileFn<B, T>, sizeof...(I)> bwd_data_tiles(std::index_sequence<I...>) {
  return {{bwd_data_tile<int(I) + 1, B, T>...}};
}

// Transposes the 16x16 weight tiles of output blocks [ob0, ob0 + blocks), input blocks
// [ib0, ib0 + B) and taps [0, T) into wt[block][tap][b][o lane][i lane]. Weights are
// OIhw16i16o with `ibs` input blocks and T taps per (output, input) block pair.
template <int B, int T>
void transpose_weights(const float* w, int ibs, int ob0, int blocks, int ib0, float* wt) {
  const __m512i rows = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                          _mm512_set1_epi32(kBlock));
  for (int ob = 0; ob < blocks; ++ob)
    for (int t = 0; t < T; ++t)
      for (int b = 0; b < B; ++b) {
        const float* tile = w + ((static_cast<int64_t>(ob0 + ob) * ibs + ib0 + b) * T + t) * kTileFloats;
        float* dst = wt + ((ob * T + t) * B + b) * kTileFloats;
        for (int o = 0; o < kBlock; ++o)
          _mm512_storeu_ps(dst + o * kBlock, _mm512_i32gather_ps(rows, tile + o, 4));
      }
}

// ---------------------------------------------------------------------------------------------
// Backward weights: sum[l][k] += sum over pixels of x_l(p) * dy_k(p), for L input lanes
// broadcast from x and K source vectors (output channels) per pixel.

template <int K>
struct BwdWeightsTile {
  const float* x;        // input block at the first lane of the tile, first pixel
  const float* dy[K];    // column k's source, first pixel
  int dy_step;           // floats between consecutive pixels in dy
  int pixels;
};

template <int L, int K>
void bwd_weights_tile(const BwdWeightsTile<K>& a, float (&sum)[L][K][kBlock]) {
  __m512 acc[L][K];
#pragma GCC unroll 16
  for (int l = 0; l < L; ++l)
#pragma GCC unroll 4
    for (int k = 0; k < K; ++k) acc[l][k] = _mm512_setzero_ps();
  for (int px = 0; px < a.pixels; ++px) {
    __m512 dv[K];
#pragma GCC unroll 4
    for (int k = 0; k < K; ++k) dv[k] = _mm512_loadu_ps(a.dy[k] + px * a.dy_step);
    const float* xp = a.x + px * kBlock;
#pragma GCC unroll 16
    for (int l = 0; l < L; ++l) {
      const __m512 xs = _mm512_set1_ps(xp[l]);
#pragma GCC unroll 4
      for (int k = 0; k < K; ++k) fmadd_in_place(acc[l][k], xs, dv[k]);
    }
  }
#pragma GCC unroll 16
  for (int l = 0; l < L; ++l)
#pragma GCC unroll 4
    for (int k = 0; k < K; ++k)
      _mm512_storeu_ps(sum[l][k], _mm512_add_ps(_mm512_loadu_ps(sum[l][k]), acc[l][k]));
}

// dw_row[o] += sum[o] for the real output lanes (a row of one 16x16 weight tile).
UNET_SIMD_INLINE void add_weight_row(float* dw_row, const float* sum, __mmask16 lanes) {
  const __m512 old = _mm512_loadu_ps(dw_row);
  _mm512_storeu_ps(dw_row, _mm512_mask_add_ps(old, lanes, old, _mm512_loadu_ps(sum)));
}

// db[ob*16 + l] += sum of dy over images and pixels, for the real lanes of block ob; the sum
// is kept in double per image so large layers do not lose the small terms.
[[maybe_unused]] void add_bias_gradient_block(const TensorArg& dy, float* db, int ob) {
  __m512d lo = _mm512_setzero_pd(), hi = _mm512_setzero_pd();
  const int64_t pixels = static_cast<int64_t>(dy.h) * dy.w;
  for (int n = 0; n < dy.n; ++n) {
    const float* src = dy.block(n, ob);
    __m512 part[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    int64_t p = 0;
    for (; p + 4 <= pixels; p += 4)
      for (int u = 0; u < 4; ++u) part[u] = _mm512_add_ps(part[u], _mm512_loadu_ps(src + (p + u) * kBlock));
    for (; p < pixels; ++p) part[0] = _mm512_add_ps(part[0], _mm512_loadu_ps(src + p * kBlock));
    const __m512 s = _mm512_add_ps(_mm512_add_ps(part[0], part[1]), _mm512_add_ps(part[2], part[3]));
    lo = _mm512_add_pd(lo, _mm512_cvtps_pd(_mm512_castps512_ps256(s)));
    hi = _mm512_add_pd(hi, _mm512_cvtps_pd(
                               _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(s), 1))));
  }
  float* out = db + ob * kBlock;
  const __m512 old = _mm512_loadu_ps(out);
  lo = _mm512_add_pd(lo, _mm512_cvtps_pd(_mm512_castps512_ps256(old)));
  hi = _mm512_add_pd(hi, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(old), 1))));
  const __m512 sum = _mm512_castpd_ps(_mm512_insertf64x4(
      _mm512_castpd256_pd512(_mm256_castps_pd(_mm512_cvtpd_ps(lo))), _mm256_castps_pd(_mm512_cvtpd_ps(hi)), 1));
  _mm512_mask_storeu_ps(out, real_lanes(ob, dy.c), sum);
}

}  // namespace
}  // namespace unet::kernels::UNET_AVX512_TIER_NS
