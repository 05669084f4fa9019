// Body of the direct 3x3 convolution kernels (stride 1, padding 1, "same" output), forward
// and backward-data (backward-weights: conv3x3_bwd_weights_avx512_impl.h), in nChw16c with OIhw16i16o weights. Included by one
// translation unit per ISA tier, each defining UNET_AVX512_TIER_NS (the namespace its
// entry points live in) and compiled with that tier's flags; uses AVX512F intrinsics only,
// so the avx512f (Knights Landing) build gets the same kernels.
//
// Shapes the fast path does not cover (other kernel sizes, strides, paddings or output
// sizes) go to the reference kernel, so these kernels serve every conv2d op of a plan.
#ifndef UNET_AVX512_TIER_NS
#error "define UNET_AVX512_TIER_NS before including conv3x3_avx512_impl.h"
#endif

#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <utility>

#include "kernels/avx512/avx512_kernels.h"
#include "kernels/kernel_call.h"
#include "kernels/kernel_family.h"
#include "kernels/ref/ref_kernels.h"
#include "kernels/tensor_arg.h"
#include "kernels/avx512/conv3x3_shape_avx512_impl.h"

namespace unet::kernels::UNET_AVX512_TIER_NS {
namespace {

constexpr int kTaps = 9;
constexpr int kTapFloats = kBlock * kBlock;  // one 16x16 weight tile
constexpr int kMaxPixels = 8;                // widest row segment of a register tile
constexpr int kMaxChannelBlocks = 2;         // output blocks of a register tile (fwd, bwd-data)
// Pixels a work item aims for. Forward: small, because planes of 2^k pixels put the same
// pixel of every row and block in one L1 set: an item must touch few rows at a time.
// Backward-data transposes its weights per item: 1024 pixels spread that cost (measured
// against 128, 256, 512 with bench_kernels, runs alternated: 1024 is 3-7 points of peak
// better on every layer). Transposing once per step, in an op of its own, would do better.
constexpr int kForwardPixelsPerItem = 64;
constexpr int kBackwardPixelsPerItem = 1024;
// Forward: input blocks per sweep of an item's rows (their weights stay in L1); narrow
// images, whose rows do not collide in L1, take more per sweep and store partial sums less.
inline int input_blocks_per_pass(int w) { return w >= 64 ? 2 : 2; }

// ---------------------------------------------------------------------------------------------
// How a forward / backward-data call is cut into items: (image group, channel group, row group).
// Wide images give each item a band of rows of one image; small ones give it whole images.

struct Split {
  int images, rows;                   // per item
  int image_groups, channel_groups, row_groups;
  size_t items() const { return size_t(image_groups) * channel_groups * row_groups; }
};

Split split_of(int n, int h, int w, int channel_groups, int pixels) {
  Split s{};
  s.rows = std::clamp(pixels / w, 1, h);
  s.images = s.rows == h ? std::clamp(pixels / (h * w), 1, n) : 1;
  s.image_groups = (n + s.images - 1) / s.images;
  s.row_groups = (h + s.rows - 1) / s.rows;
  s.channel_groups = channel_groups;
  return s;
}

struct ItemCoords {
  int n0, n1, cg, y0, y1;
};

// Channel group outermost: a thread's range of items shares one group's weights (in L2).
ItemCoords coords_of(const Split& s, size_t item, int n, int h) {
  const int rg = static_cast<int>(item % s.row_groups);
  const size_t rest = item / s.row_groups;
  const int ig = static_cast<int>(rest % s.image_groups);
  const int cg = static_cast<int>(rest / s.image_groups);
  return {ig * s.images, std::min(n, (ig + 1) * s.images), cg, rg * s.rows,
          std::min(h, (rg + 1) * s.rows)};
}

// ---------------------------------------------------------------------------------------------
// The register tile shared by forward and backward-data: OCB output blocks x NP pixels of one
// row, summed over `blocks` input channel blocks, 3x3 taps and 16 input lanes per block.
// Weights: for output block o, input block b, tap t, input lane l, the 16 output lanes at
//   w + o*w_ob + b*w_ib + t*256 + l*16.
// L / R: the segment starts / ends at the image border, so its first / last pixel has no
// left / right tap.

struct TileArgs {
  const float* in;     // input block 0, row y, pixel x0
  int64_t in_row;      // floats between rows
  int64_t in_blk;      // floats between input channel blocks
  int blocks;          // input channel blocks summed
  int last_lanes;      // real input lanes of the last of them (padding lanes are zero)
  unsigned row_taps;   // bit ky set when row y + ky - 1 lies inside the input
  const float* w;
  int64_t w_ob, w_ib;
  float* out;          // output block 0, row y, pixel x0
  int64_t out_blk;     // floats between output channel blocks (of out and relu_y alike)
  // The folded ReLU backward: the final store zeroes lanes where relu_y (same pixel and
  // block as out) is <= 0. nullptr: none; only with the last input blocks of a sweep.
  const float* relu_y;
  const float* bias;   // padded bias of the first output block, or nullptr
  bool load_out;       // start from the values in out (accumulate)
  // Rows the next row of tiles needs, prefetched into L2 (the hardware prefetcher starts
  // late on each 4 KB page, and a row of a wide image is one or two pages): the input row
  // two below (all `blocks`), and when writing fresh output, the output row below.
  bool prefetch_in, prefetch_out;
  Activation act;
  __mmask16 lanes[kMaxChannelBlocks];  // real lanes of each output block
};

// acc += w * x, always as vfmadd231ps (accumulator in place). An asm statement, because the
// compiler otherwise picks the 132/213 forms that overwrite a weight or broadcast and then
// copies accumulators between registers: moves that take FMA port slots.
UNET_INLINE void fmadd_into(__m512& acc, __m512 w, __m512 x) {
  asm("vfmadd231ps %[x], %[w], %[acc]" : [acc] "+v"(acc) : [w] "v"(w), [x] "v"(x));
}

// One input lane l of horizontal tap KX: OCB weight vectors, NP broadcasts, OCB x NP FMAs.
template <int OCB, int NP, bool L, bool R, int KX>
UNET_INLINE void tile_lane(__m512 (&acc)[OCB][NP], const float* ip, const float* wk, int64_t w_ob,
                           int l) {
  constexpr int first = (L && KX == 0) ? 1 : 0;
  constexpr int last = (R && KX == 2) ? NP - 1 : NP;
  const float* xp = ip + (KX - 1) * kBlock + l;
  const float* wt = wk + KX * kTapFloats + l * kBlock;
  __m512 wv[OCB];
#pragma GCC unroll 4
  for (int o = 0; o < OCB; ++o) wv[o] = _mm512_loadu_ps(wt + o * w_ob);
#pragma GCC unroll 16
  for (int p = first; p < last; ++p) {
    const __m512 xb = _mm512_set1_ps(xp[p * kBlock]);
#pragma GCC unroll 4
    for (int o = 0; o < OCB; ++o) fmadd_into(acc[o][p], wv[o], xb);
  }
}

// One row of taps (ky fixed), over the first `lanes` input lanes (fewer than 16 only for the
// last block of a tensor whose channels are not a multiple of 16, e.g. the 1-channel image).
// The three horizontal taps share one loop over the lanes: a longer loop, its exit
// predicted. Tiles stay at 20 accumulators or fewer: the taps read overlapping pixels and
// the compiler keeps their shared broadcasts live, so wider tiles spill.
template <int OCB, int NP, bool L, bool R>
UNET_INLINE void tile_row(__m512 (&acc)[OCB][NP], const float* ip, const float* wk, int64_t w_ob,
                          int lanes) {
  static_assert(OCB * NP <= 20, "wider tiles spill accumulators");
  for (int l = 0; l < lanes; ++l) {
    tile_lane<OCB, NP, L, R, 0>(acc, ip, wk, w_ob, l);
    tile_lane<OCB, NP, L, R, 1>(acc, ip, wk, w_ob, l);
    tile_lane<OCB, NP, L, R, 2>(acc, ip, wk, w_ob, l);
  }
}

template <int OCB, int NP, bool L, bool R>
void conv_tile(const TileArgs& a) {
  __m512 acc[OCB][NP];
#pragma GCC unroll 4
  for (int o = 0; o < OCB; ++o) {
    const __m512 start = a.bias ? _mm512_loadu_ps(a.bias + o * kBlock) : _mm512_setzero_ps();
#pragma GCC unroll 16
    for (int p = 0; p < NP; ++p)
      acc[o][p] = a.load_out ? _mm512_loadu_ps(a.out + o * a.out_blk + p * kBlock) : start;
  }
  if (a.prefetch_in)
    for (int b = 0; b < a.blocks; ++b)
#pragma GCC unroll 16
      for (int p = 0; p < NP; ++p)
        _mm_prefetch(reinterpret_cast<const char*>(a.in + b * a.in_blk + 2 * a.in_row + p * kBlock),
                     _MM_HINT_T1);
  if (a.prefetch_out)
#pragma GCC unroll 4
    for (int o = 0; o < OCB; ++o)
#pragma GCC unroll 16
      for (int p = 0; p < NP; ++p)
        _mm_prefetch(reinterpret_cast<const char*>(a.out + o * a.out_blk + a.in_row + p * kBlock),
                     _MM_HINT_T1);
  for (int b = 0; b < a.blocks; ++b) {
    const float* ib = a.in + b * a.in_blk;
    const float* wb = a.w + b * a.w_ib;
    const int lanes = b + 1 == a.blocks ? a.last_lanes : kBlock;
    for (int ky = 0; ky < 3; ++ky) {
      if (!((a.row_taps >> ky) & 1u)) continue;
      const float* ip = ib + (ky - 1) * a.in_row;
      const float* wk = wb + ky * 3 * kTapFloats;
      tile_row<OCB, NP, L, R>(acc, ip, wk, a.w_ob, lanes);
    }
  }
#pragma GCC unroll 4
  for (int o = 0; o < OCB; ++o) {
    float* op = a.out + o * a.out_blk;
    if (a.relu_y) {
      const float* rp = a.relu_y + o * a.out_blk;
#pragma GCC unroll 16
      for (int p = 0; p < NP; ++p) {
        const __mmask16 live = _mm512_mask_cmp_ps_mask(a.lanes[o], _mm512_loadu_ps(rp + p * kBlock),
                                                       _mm512_setzero_ps(), _CMP_GT_OQ);
        _mm512_storeu_ps(op + p * kBlock, _mm512_maskz_mov_ps(live, acc[o][p]));
      }
      continue;
    }
#pragma GCC unroll 16
    for (int p = 0; p < NP; ++p) {
      const __m512 v = a.act == Activation::relu
                           ? _mm512_maskz_max_ps(a.lanes[o], acc[o][p], _mm512_setzero_ps())
                           : _mm512_maskz_mov_ps(a.lanes[o], acc[o][p]);
      _mm512_storeu_ps(op + p * kBlock, v);
    }
    if (a.act == Activation::sigmoid) {
      // Rare (3x3 convs feed ReLUs); scalar libm keeps it exact to the reference.
      for (int k = 0; k < NP * kBlock; ++k)
        if ((a.lanes[o] >> (k % kBlock)) & 1) op[k] = 1.f / (1.f + std::exp(-op[k]));
    }
  }
}

using TileFn = void (*)(const TileArgs&);

// Entry [(np - 1) * 4 + left * 2 + right] is conv_tile<OCB, np, left, right>.
template <int OCB, size_t... I>
constexpr std::array<TileFn, sizeof...(I)> make_tile_table(std::index_sequence<I...>) {
  return {{(I % 4 == 0   ? conv_tile<OCB, int(I / 4) + 1, false, false>
            : I % 4 == 1 ? conv_tile<OCB, int(I / 4) + 1, false, true>
            : I % 4 == 2 ? conv_tile<OCB, int(I / 4) + 1, true, false>
                         : conv_tile<OCB, int(I / 4) + 1, true, true>)...}};
}

constexpr auto kTiles1 = make_tile_table<1>(std::make_index_sequence<kMaxPixels * 4>{});
constexpr auto kTiles2 = make_tile_table<2>(std::make_index_sequence<kMaxPixels * 4>{});

UNET_INLINE TileFn tile_fn(int ocb, int np, bool left, bool right) {
  const int e = (np - 1) * 4 + (left ? 2 : 0) + (right ? 1 : 0);
  return ocb == 2 ? kTiles2[e] : kTiles1[e];
}

// Runs the register tiles over rows [y0, y1) of one image, the row cut into near-equal
// segments of at most kMaxPixels pixels. `a` holds the pointers for row 0, pixel 0.
void conv_rows(TileArgs a, int ocb, int h, int w, int y0, int y1) {
  const int segments = (w + kMaxPixels - 1) / kMaxPixels;
  const int base = w / segments, wider = w % segments;
  const float* in0 = a.in;
  float* out0 = a.out;
  const float* relu0 = a.relu_y;
  const bool fresh_out = !a.load_out;
  for (int y = y0; y < y1; ++y) {
    a.row_taps = (y > 0 ? 1u : 0u) | 2u | (y + 1 < h ? 4u : 0u);
    a.prefetch_in = y + 2 < h;
    a.prefetch_out = fresh_out && y + 1 < h;
    int x0 = 0;
    for (int s = 0; s < segments; ++s) {
      const int np = base + (s < wider ? 1 : 0);
      a.in = in0 + (int64_t(y) * w + x0) * kBlock;
      a.out = out0 + (int64_t(y) * w + x0) * kBlock;
      if (relu0) a.relu_y = relu0 + (int64_t(y) * w + x0) * kBlock;
      tile_fn(ocb, np, x0 == 0, x0 + np == w)(a);
      x0 += np;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Forward.

size_t fwd_work(const KernelCall& call) {
  const TensorArg &x = call.t[0], &w = call.t[1], &y = call.t[3];
  if (!is_same_3x3(x, w, y, call)) return ref::conv2d_fwd_work(call);
  const int groups = (channel_blocks(y.c) + kMaxChannelBlocks - 1) / kMaxChannelBlocks;
  return split_of(y.n, y.h, y.w, groups, kForwardPixelsPerItem).items();
}

void fwd_run(const KernelCall& call, size_t begin, size_t end) {
  const TensorArg &x = call.t[0], &w = call.t[1], &b = call.t[2], &y = call.t[3];
  if (!is_same_3x3(x, w, y, call)) return ref::conv2d_fwd_run(call, begin, end);
  const int obs = channel_blocks(y.c), ibs = channel_blocks(x.c);
  const Split s = split_of(y.n, y.h, y.w, (obs + kMaxChannelBlocks - 1) / kMaxChannelBlocks,
                           kForwardPixelsPerItem);
  const int blocks_per_pass = input_blocks_per_pass(y.w);
  const int64_t plane = int64_t(y.h) * y.w * kBlock;
  for (size_t item = begin; item < end; ++item) {
    const ItemCoords c = coords_of(s, item, y.n, y.h);
    const int ob = c.cg * kMaxChannelBlocks, ocb = std::min(kMaxChannelBlocks, obs - ob);
    TileArgs a{};
    a.in_row = int64_t(x.w) * kBlock;
    a.in_blk = plane;
    a.blocks = ibs;
    a.w = w.data + int64_t(ob) * ibs * kTaps * kTapFloats;
    a.w_ob = int64_t(ibs) * kTaps * kTapFloats;
    a.w_ib = kTaps * kTapFloats;
    a.out_blk = plane;
    a.bias = b.data ? b.data + ob * kBlock : nullptr;
    a.load_out = false;
    a.act = static_cast<Activation>(call.i[kAttrActivation]);
    for (int o = 0; o < ocb; ++o) a.lanes[o] = real_lanes(ob + o, y.c);
    // Input blocks in chunks whose weights stay in L1 while the tiles sweep the item's rows.
    const Activation act = a.act;
    const float* bias = a.bias;
    for (int b0 = 0; b0 < ibs; b0 += blocks_per_pass) {
      a.blocks = std::min(blocks_per_pass, ibs - b0);
      a.last_lanes = b0 + a.blocks == ibs ? x.c - (ibs - 1) * kBlock : kBlock;
      a.w = w.data + (int64_t(ob) * ibs + b0) * kTaps * kTapFloats;
      a.load_out = b0 > 0;
      a.bias = b0 == 0 ? bias : nullptr;
      a.act = b0 + a.blocks == ibs ? act : Activation::none;
      for (int n = c.n0; n < c.n1; ++n) {
        a.in = x.block(n, b0);
        a.out = y.block(n, ob);
        conv_rows(a, ocb, y.h, y.w, c.y0, c.y1);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Backward data: a forward pass over dy with the taps flipped and the 16x16 tiles
// transposed, one dy block at a time, accumulating in dx.

// dst[r][c] = src[c][r] for one 16x16 tile.
UNET_INLINE void transpose16(const float* src, float* dst) {
  __m512 r[16], t[16];
  for (int i = 0; i < 16; ++i) r[i] = _mm512_loadu_ps(src + i * kBlock);
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  // u[4q + j]: rows 4q..4q+3 of columns j, j+4, j+8, j+12 (one per 128-bit lane).
  __m512 u[16];
  for (int q = 0; q < 4; ++q) {
    const __m512 a0 = t[4 * q], a1 = t[4 * q + 1], b0 = t[4 * q + 2], b1 = t[4 * q + 3];
    u[4 * q + 0] = _mm512_shuffle_ps(a0, b0, 0x44);
    u[4 * q + 1] = _mm512_shuffle_ps(a0, b0, 0xEE);
    u[4 * q + 2] = _mm512_shuffle_ps(a1, b1, 0x44);
    u[4 * q + 3] = _mm512_shuffle_ps(a1, b1, 0xEE);
  }
  for (int j = 0; j < 4; ++j) {
    const __m512 v0 = _mm512_shuffle_f32x4(u[j], u[4 + j], 0x88);
    const __m512 w0 = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0x88);
    const __m512 v1 = _mm512_shuffle_f32x4(u[j], u[4 + j], 0xDD);
    const __m512 w1 = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0xDD);
    _mm512_storeu_ps(dst + (j + 0) * kBlock, _mm512_shuffle_f32x4(v0, w0, 0x88));
    _mm512_storeu_ps(dst + (j + 8) * kBlock, _mm512_shuffle_f32x4(v0, w0, 0xDD));
    _mm512_storeu_ps(dst + (j + 4) * kBlock, _mm512_shuffle_f32x4(v1, w1, 0x88));
    _mm512_storeu_ps(dst + (j + 12) * kBlock, _mm512_shuffle_f32x4(v1, w1, 0xDD));
  }
}

size_t bwd_data_work(const KernelCall& call) {
  const TensorArg &dy = call.t[0], &w = call.t[1], &dx = call.t[2];
  if (!is_same_3x3(dy, w, dx, call)) return ref::conv2d_bwd_data_work(call);
  const int groups = (channel_blocks(dx.c) + kMaxChannelBlocks - 1) / kMaxChannelBlocks;
  return split_of(dx.n, dx.h, dx.w, groups, kBackwardPixelsPerItem).items();
}

// dy blocks summed per sweep of an item's rows: two halve the partial sums stored and
// reloaded; their transposed weights (36 KB) still leave L1 room for the rows.
constexpr int kDyBlocksPerPass = 2;

void bwd_data_run(const KernelCall& call, size_t begin, size_t end) {
  const TensorArg &dy = call.t[0], &w = call.t[1], &dx = call.t[2];
  const TensorArg& relu_y = call.t[relu_mask_slot(Family::conv2d_bwd_data)];
  if (!is_same_3x3(dy, w, dx, call)) return ref::conv2d_bwd_data_run(call, begin, end);
  const int obs = channel_blocks(dy.c), ibs = channel_blocks(dx.c);
  const Split s = split_of(dx.n, dx.h, dx.w, (ibs + kMaxChannelBlocks - 1) / kMaxChannelBlocks,
                           kBackwardPixelsPerItem);
  const int64_t plane = int64_t(dx.h) * dx.w * kBlock;
  const bool accumulate = call.i[kAttrAccumulate] != 0;
  // [dx block of the group][dy block of the pass][tap][dy lane][16 dx lanes].
  alignas(64) float wt[kMaxChannelBlocks * kDyBlocksPerPass * kTaps * kTapFloats];
  for (size_t item = begin; item < end; ++item) {
    const ItemCoords c = coords_of(s, item, dx.n, dx.h);
    const int ib = c.cg * kMaxChannelBlocks, icb = std::min(kMaxChannelBlocks, ibs - ib);
    TileArgs a{};
    a.in_row = int64_t(dy.w) * kBlock;
    a.in_blk = plane;
    a.w = wt;
    a.w_ob = kDyBlocksPerPass * kTaps * kTapFloats;
    a.w_ib = kTaps * kTapFloats;
    a.out_blk = plane;
    a.bias = nullptr;
    a.act = Activation::none;
    for (int o = 0; o < icb; ++o) a.lanes[o] = real_lanes(ib + o, dx.c);
    for (int ob = 0; ob < obs; ob += kDyBlocksPerPass) {
      a.blocks = std::min(kDyBlocksPerPass, obs - ob);
      for (int o = 0; o < icb; ++o)
        for (int b = 0; b < a.blocks; ++b)
          for (int t = 0; t < kTaps; ++t)
            transpose16(w.data + ((int64_t(ob + b) * ibs + ib + o) * kTaps + (kTaps - 1 - t)) * kTapFloats,
                        wt + ((o * kDyBlocksPerPass + b) * kTaps + t) * kTapFloats);
      a.load_out = accumulate || ob > 0;
      a.last_lanes = std::min(kBlock, dy.c - (ob + a.blocks - 1) * kBlock);
      const bool last_pass = ob + a.blocks == obs;
      for (int n = c.n0; n < c.n1; ++n) {
        a.in = dy.block(n, ob);
        a.out = dx.block(n, ib);
        a.relu_y = last_pass && relu_y.data ? relu_y.block(n, ib) : nullptr;
        conv_rows(a, icb, dx.h, dx.w, c.y0, c.y1);
      }
    }
  }
}

}  // namespace

size_t conv3x3_fwd_work(const KernelCall& call) { return fwd_work(call); }
void conv3x3_fwd_run(const KernelCall& call, size_t begin, size_t end) { fwd_run(call, begin, end); }
size_t conv3x3_bwd_data_work(const KernelCall& call) { return bwd_data_work(call); }
void conv3x3_bwd_data_run(const KernelCall& call, size_t begin, size_t end) {
  bwd_data_run(call, begin, end);
}

}  // namespace unet::kernels::UNET_AVX512_TIER_NS
