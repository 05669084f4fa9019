// Body of the 2x2 stride-2 transposed convolution kernels (padding 0, output exactly twice
// the input), forward, backward-data and backward-weights, in nChw16c with OIhw16i16o
// weights. With stride = kernel every output pixel has exactly one tap, so each output phase
// (ky, kx) is a 1x1 conv of the input: three small GEMMs over the pixels of the input grid.
// Included by one translation unit per ISA tier defining UNET_AVX512_TIER_NS.
// Other transposed convs go to the reference kernel, so these kernels serve every op of the
// family.
//
// The design (a tile alone, operands in L1, reaches about 80 % of the single-core FMA peak; the
// whole kernels on the UNet's shapes, batch 8, 40-65 % (backward-weights of the widest, 30-45 %):
//  - register tiles of 24 zmm sums with 10 loads per 24 FMAs, the FMAs in the in-place form;
//  - tiles run along the pixels of a whole image plane, not along one row, so 8-pixel-wide
//    layers get full tiles (the output or source address of each pixel is looked up);
//  - the weights of a pass over a pixel range stay in L1 (16-32 KB), partial sums go back to
//    memory between passes;
//  - items are ordered so that the large activation tensors stream from L3 about once.
//
// Padding lanes of activations and padding entries of weights are zero (tensor_arg.h,
// kernel_family.h), so tiles always run over all 16 lanes of a block and mask what they write.
#ifndef UNET_AVX512_TIER_NS
#error "define UNET_AVX512_TIER_NS before including tconv2d_avx512_impl.h"
#endif

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "kernels/avx512/conv1x1_avx512_tiles.h"
#include "kernels/avx512/eltwise_avx512_simd.h"
#include "kernels/family_signature.h"
#include "kernels/kernel_call.h"
#include "kernels/kernel_family.h"
#include "kernels/tensor_arg.h"

namespace unet::kernels::UNET_AVX512_TIER_NS {

size_t tconv2d_fwd_work(const KernelCall& call);
void tconv2d_fwd_run(const KernelCall& call, size_t begin, size_t end);
size_t tconv2d_bwd_data_work(const KernelCall& call);
void tconv2d_bwd_data_run(const KernelCall& call, size_t begin, size_t end);
size_t tconv2d_bwd_weights_work(const KernelCall& call);
void tconv2d_bwd_weights_run(const KernelCall& call, size_t begin, size_t end);

namespace {

constexpr int kPhases = 4;                // (ky, kx) of the 2x2 kernel, k = 2 * ky + kx
constexpr int kRangePixels = 256;         // input pixels of a forward / backward-data item, at most
constexpr int kFwdPixels = 6;             // forward tile: 6 input pixels x 4 phases = 24 zmm
constexpr int kFwdPassBlocks = 4;         // input blocks of a forward pass: 4 x 4 KB of weights
constexpr int kBwdDataPixels = 6;         // backward-data tile: 6 pixels x 4 dx blocks = 24 zmm
constexpr int kBwdDataBlocks = 4;         // dx blocks of a tile (and of a backward-data item)
constexpr int kBwdDataPassBlocks = 2;     // dy blocks of a backward-data pass: 2 x 16 KB of weights
constexpr int kBwdWeightsLanes = 6;       // backward-weights tile: 6 input lanes x 4 phases = 24 zmm
constexpr int kPanelItems = 8;            // backward-weights items summed together (4 KB of sums each)
constexpr int kBwdWeightsPassPixels = 64; // input pixels (whole rows) of a backward-weights pass

// The fast path: 2x2 taps, stride 2, no padding, the large grid exactly twice the small one.
bool is_2x2_stride2(const KernelCall& call, const TensorArg& small, const TensorArg& w,
                    const TensorArg& big) {
  return w.h == 2 && w.w == 2 && call.i[kAttrStride] == 2 && call.i[kAttrPadTop] == 0 &&
         call.i[kAttrPadLeft] == 0 && big.h == 2 * small.h && big.w == 2 * small.w &&
         big.n == small.n && small.h > 0 && small.w > 0;
}

// Offset (floats) in a big-grid channel block of the phase (0, 0) pixel of small-grid pixel
// q = iy * w + ix: ((2 iy) * 2w + 2 ix) * 16 = (2 q + 2 w iy) * 16.
UNET_SIMD_INLINE int64_t big_offset(int q, int w) {
  return (2 * static_cast<int64_t>(q) + 2 * static_cast<int64_t>(w) * (q / w)) * kBlock;
}

// Items of forward / backward-data: (image, pixel range of the small grid, channel group)
// with the group fastest, so consecutive items share the input range while it is in L2 and
// the large tensors stream from memory once. Ranges split the plane into near-equal parts of
// at most kRangePixels, across rows.
struct RangeSplit {
  int pixels, ranges, range_pixels, images, groups;
  size_t items() const { return size_t(groups) * images * ranges; }
};

RangeSplit range_split(const TensorArg& small, int groups) {
  RangeSplit s{};
  s.pixels = small.h * small.w;
  s.ranges = (s.pixels + kRangePixels - 1) / kRangePixels;
  s.range_pixels = (s.pixels + s.ranges - 1) / s.ranges;
  s.images = small.n;
  s.groups = groups;
  return s;
}

struct RangeItem {
  int group, n, p0, p1;
};

// Forward items have the group innermost, so consecutive items read the same input pixels;
// backward-data items have it outermost (group_outer), so a thread's contiguous range needs the
// transposed weights of one group at a time (the next group's replace them, on the stack).
RangeItem range_item(const RangeSplit& s, size_t item, bool group_outer = false) {
  const size_t per_group = size_t(s.images) * s.ranges;
  const int group = static_cast<int>(group_outer ? item / per_group : item % s.groups);
  const size_t rest = group_outer ? item % per_group : item / s.groups;
  const int p0 = static_cast<int>(rest % s.ranges) * s.range_pixels;
  return {group, static_cast<int>(rest / s.ranges), p0, std::min(s.pixels, p0 + s.range_pixels)};
}

// ---------------------------------------------------------------------------------------------
// Forward: y(2 iy + ky, 2 ix + kx) = act(b + sum over input channels i of x_i(iy, ix) * w[i][k]).
// A tile: P input pixels (consecutive in the plane) x the 4 phases of one output block.

struct TconvFwdTile {
  const float* x;                  // the pass's first input block at the tile's first pixel
  int64_t x_blk;                   // floats between input blocks
  int blocks;                      // input blocks of the pass
  const float* w;                  // weights of (ob, the pass's first input block): [ib][k][i][o]
  float* y;                        // output block ob of the image
  int64_t out[kFwdPixels];         // offset in y of each pixel's phase (0, 0) output
  int64_t phase[kPhases];          // offset of phase k's output from phase (0, 0)'s
  const float* bias;               // 16 floats or nullptr
  bool first, last;                // first pass: start from the bias; last: activation, masking
  Activation act;
  __mmask16 lanes;                 // real lanes of the output block
};

template <int P>
void tconv_fwd_tile(const TconvFwdTile& a) {
  __m512 acc[P][kPhases];
  if (a.first) {
    const __m512 start = a.bias ? _mm512_loadu_ps(a.bias) : _mm512_setzero_ps();
#pragma GCC unroll 8
    for (int p = 0; p < P; ++p)
#pragma GCC unroll 4
      for (int k = 0; k < kPhases; ++k) acc[p][k] = start;
  } else {
#pragma GCC unroll 8
    for (int p = 0; p < P; ++p)
#pragma GCC unroll 4
      for (int k = 0; k < kPhases; ++k) acc[p][k] = _mm512_loadu_ps(a.y + a.out[p] + a.phase[k]);
  }
  for (int b = 0; b < a.blocks; ++b) {
    const float* xb = a.x + b * a.x_blk;
    const float* wb = a.w + b * kPhases * kTileFloats;
#pragma GCC unroll 4
    for (int l = 0; l < kBlock; ++l) {
      __m512 wv[kPhases];
#pragma GCC unroll 4
      for (int k = 0; k < kPhases; ++k) wv[k] = _mm512_loadu_ps(wb + k * kTileFloats + l * kBlock);
#pragma GCC unroll 8
      for (int p = 0; p < P; ++p) {
        const __m512 xs = _mm512_set1_ps(xb[p * kBlock + l]);
#pragma GCC unroll 4
        for (int k = 0; k < kPhases; ++k) fmadd_in_place(acc[p][k], xs, wv[k]);
      }
    }
  }
#pragma GCC unroll 8
  for (int p = 0; p < P; ++p)
#pragma GCC unroll 4
    for (int k = 0; k < kPhases; ++k) {
      float* dst = a.y + a.out[p] + a.phase[k];
      __m512 v = acc[p][k];
      if (a.last) {
        if (a.act == Activation::relu) v = _mm512_max_ps(v, _mm512_setzero_ps());
        else if (a.act == Activation::sigmoid) v = sigmoid_ps(v);
        v = _mm512_maskz_mov_ps(a.lanes, v);
      }
      _mm512_storeu_ps(dst, v);
    }
}

using TconvFwdTileFn = void (*)(const TconvFwdTile&);
template <size_t... I>
constexpr std::array<TconvFwdTileFn, sizeof...(I)> tconv_fwd_tiles(std::index_sequence<I...>) {
  return {{tconv_fwd_tile<int(I) + 1>...}};
}
constexpr auto kFwdTiles = tconv_fwd_tiles(std::make_index_sequence<kFwdPixels>{});

void fwd_item(const KernelCall& call, const RangeSplit& s, size_t item) {
  namespace slots = slot::tconv2d_fwd;
  const TensorArg &x = call.t[slots::x], &w = call.t[slots::w], &b = call.t[slots::b], &y = call.t[slots::y];
  const RangeItem it = range_item(s, item);
  const int ob = it.group, ibs = channel_blocks(x.c);
  TconvFwdTile a{};
  a.x_blk = static_cast<int64_t>(x.h) * x.w * kBlock;
  a.y = y.block(it.n, ob);
  a.phase[0] = 0;
  a.phase[1] = kBlock;
  a.phase[2] = static_cast<int64_t>(y.w) * kBlock;
  a.phase[3] = a.phase[2] + kBlock;
  a.act = static_cast<Activation>(call.i[kAttrActivation]);
  a.lanes = real_lanes(ob, y.c);
  const float* w_ob = w.data + static_cast<int64_t>(ob) * ibs * kPhases * kTileFloats;
  const float* x_img = x.block(it.n, 0);
  // Passes over the range, each with the weights of a few input blocks (in L1); the partial
  // sums of the range (at most 64 KB) wait in L2 between passes.
  for (int ib0 = 0; ib0 < ibs; ib0 += kFwdPassBlocks) {
    a.blocks = std::min(kFwdPassBlocks, ibs - ib0);
    a.w = w_ob + static_cast<int64_t>(ib0) * kPhases * kTileFloats;
    a.first = ib0 == 0;
    a.last = ib0 + a.blocks == ibs;
    a.bias = a.first && b.data ? b.data + ob * kBlock : nullptr;
    for_each_segment(it.p1 - it.p0, kFwdPixels, [&](int first, int np) {
      const int q0 = it.p0 + first;
      a.x = x_img + ib0 * a.x_blk + static_cast<int64_t>(q0) * kBlock;
      for (int j = 0; j < np; ++j) a.out[j] = big_offset(q0 + j, x.w);
      kFwdTiles[np - 1](a);
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Backward data: dx_i(iy, ix) (+)= sum over output channels o and phases k of
// dy_o(2 iy + ky, 2 ix + kx) * w[o][i][k]. A tile: P small-grid pixels (consecutive in the
// plane, each with its own dy address) x 4 dx blocks, with the weights transposed so that a
// row runs over dx channels: wt[dy block][k][o lane][dx block][i lane].

constexpr int kTransposedBlockFloats = kPhases * kBlock * kBwdDataBlocks * kBlock;  // 16 KB

struct TconvBwdDataTile {
  const float* src[kBwdDataPixels];  // each pixel's phase (0, 0) source in the pass's first dy block
  int64_t dy_row;                    // floats between dy rows
  int64_t dy_blk;                    // floats between dy blocks
  int blocks;                        // dy blocks of the pass
  const float* wt;                   // transposed weights of the pass's first dy block
  float* dx;                         // dx block of the group's first at the tile's first pixel
  int64_t dx_blk;                    // floats between dx blocks
  int nb;                            // real dx blocks of the group (1 to 4)
  bool load;                         // add to what dx holds (accumulate, or a later pass)
  __mmask16 lanes[kBwdDataBlocks];   // real lanes of each dx block
  // The folded ReLU backward: relu_y at the tile's first pixel in the group's first dx block
  // (same offsets as dx); the final store zeroes lanes where it is <= 0. nullptr: none, or
  // not the last pass.
  const float* relu_y;
};

template <int P>
void tconv_bwd_data_tile(const TconvBwdDataTile& a) {
  constexpr int B = kBwdDataBlocks;
  __m512 acc[P][B];
#pragma GCC unroll 4
  for (int b = 0; b < B; ++b)
#pragma GCC unroll 8
    for (int p = 0; p < P; ++p)
      acc[p][b] = a.load && b < a.nb ? _mm512_loadu_ps(a.dx + b * a.dx_blk + p * kBlock) : _mm512_setzero_ps();
  const int64_t tap[kPhases] = {0, kBlock, a.dy_row, a.dy_row + kBlock};
  for (int ob = 0; ob < a.blocks; ++ob) {
#pragma GCC unroll 4
    for (int k = 0; k < kPhases; ++k) {
      const int64_t off = ob * a.dy_blk + tap[k];
      const float* wk = a.wt + (ob * kPhases + k) * kBlock * B * kBlock;
#pragma GCC unroll 1
      for (int l = 0; l < kBlock; ++l) {
        __m512 wv[B];
#pragma GCC unroll 4
        for (int b = 0; b < B; ++b) wv[b] = _mm512_loadu_ps(wk + (l * B + b) * kBlock);
#pragma GCC unroll 8
        for (int p = 0; p < P; ++p) {
          const __m512 s = _mm512_set1_ps(a.src[p][off + l]);
#pragma GCC unroll 4
          for (int b = 0; b < B; ++b) fmadd_in_place(acc[p][b], s, wv[b]);
        }
      }
    }
  }
#pragma GCC unroll 4
  for (int b = 0; b < B; ++b) {
    if (b >= a.nb) break;
#pragma GCC unroll 8
    for (int p = 0; p < P; ++p) {
      float* dst = a.dx + b * a.dx_blk + p * kBlock;
      if (a.relu_y) {
        const __mmask16 live = relu_live(a.lanes[b], a.relu_y + b * a.dx_blk + p * kBlock);
        _mm512_storeu_ps(dst, _mm512_maskz_mov_ps(live, acc[p][b]));
      } else if (a.load) {  // padding lanes stay as they are (zero)
        _mm512_mask_storeu_ps(dst, a.lanes[b], acc[p][b]);
      } else {
        _mm512_storeu_ps(dst, _mm512_maskz_mov_ps(a.lanes[b], acc[p][b]));
      }
    }
  }
}

using TconvBwdDataTileFn = void (*)(const TconvBwdDataTile&);
template <size_t... I>
constexpr std::array<TconvBwdDataTileFn, sizeof...(I)> tconv_bwd_data_tiles(std::index_sequence<I...>) {
  return {{tconv_bwd_data_tile<int(I) + 1>...}};
}
constexpr auto kBwdDataTiles = tconv_bwd_data_tiles(std::make_index_sequence<kBwdDataPixels>{});

// The weights of dx group g (dx blocks 4g .. 4g+3), every dy block, transposed into
// wt[dy block][k][o lane][dx block][i lane]; dx blocks past the last are zero.
void transpose_group(const TensorArg& w, int g, float* wt) {
  const int ibs = channel_blocks(w.c), obs = channel_blocks(w.n);
  const __m512i rows = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                          _mm512_set1_epi32(kBlock));
  for (int ob = 0; ob < obs; ++ob)
    for (int k = 0; k < kPhases; ++k)
      for (int b = 0; b < kBwdDataBlocks; ++b) {
        const int ib = g * kBwdDataBlocks + b;
        float* dst = wt + static_cast<int64_t>(ob) * kTransposedBlockFloats + (k * kBlock * kBwdDataBlocks + b) * kBlock;
        const float* tile = w.data + ((static_cast<int64_t>(ob) * ibs + ib) * kPhases + k) * kTileFloats;
        for (int o = 0; o < kBlock; ++o)
          _mm512_storeu_ps(dst + o * kBwdDataBlocks * kBlock,
                           ib < ibs ? _mm512_i32gather_ps(rows, tile + o, 4) : _mm512_setzero_ps());
      }
}

void bwd_data_item(const KernelCall& call, const RangeItem& it, const float* wt_group, bool accumulate) {
  const TensorArg &dy = call.t[slot::tconv2d_bwd_data::dy], &dx = call.t[slot::tconv2d_bwd_data::dx];
  const int ibs = channel_blocks(dx.c), obs = channel_blocks(dy.c), ib0 = it.group * kBwdDataBlocks;
  TconvBwdDataTile a{};
  a.dy_row = static_cast<int64_t>(dy.w) * kBlock;
  a.dy_blk = static_cast<int64_t>(dy.h) * dy.w * kBlock;
  a.dx_blk = static_cast<int64_t>(dx.h) * dx.w * kBlock;
  a.nb = std::min(kBwdDataBlocks, ibs - ib0);
  for (int b = 0; b < kBwdDataBlocks; ++b) a.lanes[b] = b < a.nb ? real_lanes(ib0 + b, dx.c) : 0;
  const float* dy_img = dy.block(it.n, 0);
  float* dx_grp = dx.block(it.n, ib0);
  const TensorArg& relu_y = call.t[slot::tconv2d_bwd_data::relu_y];
  const float* relu_grp = relu_y.data ? relu_y.block(it.n, ib0) : nullptr;
  // Passes over the range, each with the transposed weights of a few dy blocks (in L1); the
  // partial dx of the range waits in L1 / L2 between passes.
  for (int ob0 = 0; ob0 < obs; ob0 += kBwdDataPassBlocks) {
    a.blocks = std::min(kBwdDataPassBlocks, obs - ob0);
    a.wt = wt_group + static_cast<int64_t>(ob0) * kTransposedBlockFloats;
    a.load = accumulate || ob0 > 0;
    const bool last_pass = ob0 + a.blocks == obs;
    const float* dy_pass = dy_img + ob0 * a.dy_blk;
    for_each_segment(it.p1 - it.p0, kBwdDataPixels, [&](int first, int np) {
      const int q0 = it.p0 + first;
      for (int j = 0; j < np; ++j) a.src[j] = dy_pass + big_offset(q0 + j, dx.w);
      a.dx = dx_grp + static_cast<int64_t>(q0) * kBlock;
      a.relu_y = last_pass && relu_grp ? relu_grp + static_cast<int64_t>(q0) * kBlock : nullptr;
      kBwdDataTiles[np - 1](a);
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Backward weights: dw[o][i][k] += sum over images and small-grid pixels of
// x_i(iy, ix) * dy_o(2 iy + ky, 2 ix + kx). A tile: L input lanes (broadcast from x) x the 4
// phases of one dy block, over the pixels of a pass (whole rows).

struct TconvBwdWeightsTile {
  const float* x;   // input block at the tile's first lane, the pass's first pixel
  const float* dy;  // dy block at the phase (0, 0) pixel of the pass's first small-grid pixel
  int rows, cols;   // small-grid rows of the pass and pixels per row
  int64_t dy_row;   // floats between dy rows
};

template <int L>
void tconv_bwd_weights_tile(const TconvBwdWeightsTile& a, float (*sum)[kPhases][kBlock]) {
  __m512 acc[L][kPhases];
#pragma GCC unroll 8
  for (int l = 0; l < L; ++l)
#pragma GCC unroll 4
    for (int k = 0; k < kPhases; ++k) acc[l][k] = _mm512_setzero_ps();
  for (int r = 0; r < a.rows; ++r) {
    const float* xr = a.x + static_cast<int64_t>(r) * a.cols * kBlock;
    const float* d0 = a.dy + 2 * r * a.dy_row;
    const float* d1 = d0 + a.dy_row;
    for (int ix = 0; ix < a.cols; ++ix) {
      const __m512 dv[kPhases] = {_mm512_loadu_ps(d0 + 2 * ix * kBlock), _mm512_loadu_ps(d0 + (2 * ix + 1) * kBlock),
                                  _mm512_loadu_ps(d1 + 2 * ix * kBlock), _mm512_loadu_ps(d1 + (2 * ix + 1) * kBlock)};
#pragma GCC unroll 8
      for (int l = 0; l < L; ++l) {
        const __m512 xs = _mm512_set1_ps(xr[ix * kBlock + l]);
#pragma GCC unroll 4
        for (int k = 0; k < kPhases; ++k) fmadd_in_place(acc[l][k], xs, dv[k]);
      }
    }
  }
#pragma GCC unroll 8
  for (int l = 0; l < L; ++l)
#pragma GCC unroll 4
    for (int k = 0; k < kPhases; ++k)
      _mm512_storeu_ps(sum[l][k], _mm512_add_ps(_mm512_loadu_ps(sum[l][k]), acc[l][k]));
}

using TconvBwdWeightsTileFn = void (*)(const TconvBwdWeightsTile&, float (*)[kPhases][kBlock]);
template <size_t... I>
constexpr std::array<TconvBwdWeightsTileFn, sizeof...(I)> tconv_bwd_weights_tiles(std::index_sequence<I...>) {
  return {{tconv_bwd_weights_tile<int(I) + 1>...}};
}
constexpr auto kBwdWeightsTiles = tconv_bwd_weights_tiles(std::make_index_sequence<kBwdWeightsLanes>{});

// Asks for `floats` floats from `p` on into L2, one request per cache line.
void prefetch_l2(const float* p, int64_t floats) {
  for (int64_t f = 0; f < floats; f += kBlock) _mm_prefetch(reinterpret_cast<const char*>(p + f), _MM_HINT_T1);
}

// Sum of the dy vectors (all four phases) of a pass, for the bias gradient, while they are in L1.
__m512 dy_pass_sum(const TconvBwdWeightsTile& a) {
  __m512 part[kPhases] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
  for (int r = 0; r < a.rows; ++r) {
    const float* d0 = a.dy + 2 * r * a.dy_row;
    for (int ix = 0; ix < 2 * a.cols; ++ix) {
      part[ix % 2] = _mm512_add_ps(part[ix % 2], _mm512_loadu_ps(d0 + ix * kBlock));
      part[2 + ix % 2] = _mm512_add_ps(part[2 + ix % 2], _mm512_loadu_ps(d0 + a.dy_row + ix * kBlock));
    }
  }
  return _mm512_add_ps(_mm512_add_ps(part[0], part[1]), _mm512_add_ps(part[2], part[3]));
}

// db[ob*16 + l] += sum (double) for the real lanes of block ob.
void add_bias_sum(float* db, int ob, __mmask16 lanes, __m512d lo, __m512d hi) {
  float* out = db + ob * kBlock;
  const __m512 old = _mm512_loadu_ps(out);
  lo = _mm512_add_pd(lo, _mm512_cvtps_pd(_mm512_castps512_ps256(old)));
  hi = _mm512_add_pd(hi, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(old), 1))));
  const __m512 sum = _mm512_castpd_ps(_mm512_insertf64x4(
      _mm512_castpd256_pd512(_mm256_castps_pd(_mm512_cvtpd_ps(lo))), _mm256_castps_pd(_mm512_cvtpd_ps(hi)), 1));
  _mm512_mask_storeu_ps(out, lanes, sum);
}

// Items [first, last) (at most kPanelItems, each one (ob, ib) pair) summed together: every
// pass over a few rows of an image serves all of them while its x and dy are in L1, so x and
// dy stream from memory about once per panel.
void bwd_weights_panel(const KernelCall& call, size_t first, size_t last) {
  namespace slots = slot::tconv2d_bwd_weights;
  const TensorArg &x = call.t[slots::x], &dy = call.t[slots::dy], &dw = call.t[slots::dw], &db = call.t[slots::db];
  const int ibs = channel_blocks(dw.c), count = static_cast<int>(last - first);
  const int rows_per_pass = std::clamp(kBwdWeightsPassPixels / x.w, 1, x.h);
  alignas(64) float sum[kPanelItems][kBlock][kPhases][kBlock] = {};
  __m512d bias_lo[kPanelItems], bias_hi[kPanelItems];
  for (int j = 0; j < count; ++j) bias_lo[j] = bias_hi[j] = _mm512_setzero_pd();
  TconvBwdWeightsTile a{};
  a.cols = x.w;
  a.dy_row = static_cast<int64_t>(dy.w) * kBlock;
  // Which items bring a new input / output block into the panel: they prefetch it.
  bool new_ib[kPanelItems], new_ob[kPanelItems];
  for (int j = 0; j < count; ++j) {
    new_ib[j] = new_ob[j] = true;
    for (int i = 0; i < j; ++i) {
      new_ib[j] = new_ib[j] && (first + i) % ibs != (first + j) % ibs;
      new_ob[j] = new_ob[j] && (first + i) / ibs != (first + j) / ibs;
    }
  }
  for (int n = 0; n < x.n; ++n)
    for (int y0 = 0; y0 < x.h; y0 += rows_per_pass) {
      a.rows = std::min(rows_per_pass, x.h - y0);
      // The next pass (next rows, or the next image's first): its x and dy go to L2 while
      // this pass computes, a block per item, since every pass starts on new pages where the
      // hardware prefetchers would start late.
      int next_n = n, next_y = y0 + rows_per_pass;
      if (next_y >= x.h) next_y = 0, ++next_n;
      const int next_rows = std::min(rows_per_pass, x.h - next_y);
      for (int j = 0; j < count; ++j) {
        const int ob = static_cast<int>((first + j) / ibs), ib = static_cast<int>((first + j) % ibs);
        if (next_n < x.n && new_ib[j])
          prefetch_l2(x.block(next_n, ib) + static_cast<int64_t>(next_y) * x.w * kBlock,
                      static_cast<int64_t>(next_rows) * x.w * kBlock);
        if (next_n < x.n && new_ob[j]) prefetch_l2(dy.block(next_n, ob) + 2 * next_y * a.dy_row, 2 * next_rows * a.dy_row);
        a.dy = dy.block(n, ob) + 2 * y0 * a.dy_row;
        const float* x_pass = x.block(n, ib) + static_cast<int64_t>(y0) * x.w * kBlock;
        for_each_segment(real_lane_count(ib, dw.c), kBwdWeightsLanes, [&](int l0, int nl) {
          a.x = x_pass + l0;
          kBwdWeightsTiles[nl - 1](a, sum[j] + l0);
        });
        if (ib == 0 && db.data) {
          const __m512 s = dy_pass_sum(a);
          bias_lo[j] = _mm512_add_pd(bias_lo[j], _mm512_cvtps_pd(_mm512_castps512_ps256(s)));
          bias_hi[j] = _mm512_add_pd(
              bias_hi[j], _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(s), 1))));
        }
      }
    }
  for (int j = 0; j < count; ++j) {
    const int ob = static_cast<int>((first + j) / ibs), ib = static_cast<int>((first + j) % ibs);
    const __mmask16 out_lanes = real_lanes(ob, dw.n);
    for (int l = 0; l < real_lane_count(ib, dw.c); ++l)
      for (int k = 0; k < kPhases; ++k) {
        float* tile = dw.data + ((static_cast<int64_t>(ob) * ibs + ib) * kPhases + k) * kTileFloats;
        add_weight_row(tile + l * kBlock, sum[j][l][k], out_lanes);
      }
    if (ib == 0 && db.data) add_bias_sum(db.data, ob, real_lanes(ob, dy.c), bias_lo[j], bias_hi[j]);
  }
}

}  // namespace

bool tconv2d_fwd_supports(const KernelCall& call) {
  return is_2x2_stride2(call, call.t[slot::tconv2d_fwd::x], call.t[slot::tconv2d_fwd::w], call.t[slot::tconv2d_fwd::y]);
}
bool tconv2d_bwd_weights_supports(const KernelCall& call) {
  return is_2x2_stride2(call, call.t[slot::tconv2d_bwd_weights::x], call.t[slot::tconv2d_bwd_weights::dw],
                        call.t[slot::tconv2d_bwd_weights::dy]);
}

size_t tconv2d_fwd_work(const KernelCall& call) {
  const TensorArg &x = call.t[slot::tconv2d_fwd::x], &y = call.t[slot::tconv2d_fwd::y];
  return range_split(x, channel_blocks(y.c)).items();
}

void tconv2d_fwd_run(const KernelCall& call, size_t begin, size_t end) {
  const TensorArg &x = call.t[slot::tconv2d_fwd::x], &y = call.t[slot::tconv2d_fwd::y];
  const RangeSplit s = range_split(x, channel_blocks(y.c));
  for (size_t item = begin; item < end; ++item) fwd_item(call, s, item);
}

// dy blocks whose transposed weights (one group's: 16 KB a dy block) fit a kernel's stack
// budget with room to spare; wider dy is declined (supports()).
constexpr int kMaxBwdDataDyBlocks = 32;
static_assert(kMaxBwdDataDyBlocks * kTransposedBlockFloats * sizeof(float) <= kMaxKernelStackBytes / 2);

bool bwd_data_fast(const KernelCall& call) {
  namespace slots = slot::tconv2d_bwd_data;
  const TensorArg &dy = call.t[slots::dy], &w = call.t[slots::w], &dx = call.t[slots::dx];
  return is_2x2_stride2(call, dx, w, dy) && channel_blocks(dy.c) <= kMaxBwdDataDyBlocks;
}

bool tconv2d_bwd_data_supports(const KernelCall& call) { return bwd_data_fast(call); }

size_t tconv2d_bwd_data_work(const KernelCall& call) {
  const TensorArg& dx = call.t[slot::tconv2d_bwd_data::dx];
  return range_split(dx, (channel_blocks(dx.c) + kBwdDataBlocks - 1) / kBwdDataBlocks).items();
}

void tconv2d_bwd_data_run(const KernelCall& call, size_t begin, size_t end) {
  const TensorArg &w = call.t[slot::tconv2d_bwd_data::w], &dx = call.t[slot::tconv2d_bwd_data::dx];
  const int groups = (channel_blocks(dx.c) + kBwdDataBlocks - 1) / kBwdDataBlocks;
  const RangeSplit s = range_split(dx, groups);
  const bool accumulate = call.i[kAttrAccumulate] != 0;
  // The transposed weights of the group the items are in (group outermost), transposed when
  // the range enters it: once per group and run.
  alignas(64) float wt[kMaxBwdDataDyBlocks * kTransposedBlockFloats];
  int current = -1;
  for (size_t item = begin; item < end; ++item) {
    const RangeItem it = range_item(s, item, /*group_outer=*/true);
    if (it.group != current) {
      transpose_group(w, it.group, wt);
      current = it.group;
    }
    bwd_data_item(call, it, wt, accumulate);
  }
}

size_t tconv2d_bwd_weights_work(const KernelCall& call) {
  const TensorArg& dw = call.t[slot::tconv2d_bwd_weights::dw];
  return size_t(channel_blocks(dw.n)) * channel_blocks(dw.c);
}

// Items (output block, input block), ordered as the reference's; each owns its four weight
// tiles and, with input block 0, the bias gradient lanes of its output block.
void tconv2d_bwd_weights_run(const KernelCall& call, size_t begin, size_t end) {
  for (size_t first = begin; first < end; first += kPanelItems)
    bwd_weights_panel(call, first, std::min(end, first + kPanelItems));
}

}  // namespace unet::kernels::UNET_AVX512_TIER_NS
