// Body of the 2x2 stride-2 transposed convolution kernels (padding 0, output exactly twice
// the input), forward, backward-data and backward-weights, in nChw16c with OIhw16i16o
// weights. With stride = kernel every output pixel has exactly one tap, so each output phase
// (ky, kx) is a 1x1 conv of the input: the register tiles of conv1x1_avx512_tiles.h do the
// work. Included by one translation unit per ISA tier defining UNET_AVX512_TIER_NS.
// Other transposed convs go to the reference kernel, so these kernels serve every op of the
// family.
#ifndef UNET_AVX512_TIER_NS
#error "define UNET_AVX512_TIER_NS before including tconv2d_avx512_impl.h"
#endif

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "kernels/avx512/conv1x1_avx512_tiles.h"
#include "kernels/avx512/eltwise_avx512_simd.h"
#include "kernels/kernel_call.h"
#include "kernels/kernel_family.h"
#include "kernels/ref/ref_kernels.h"
#include "kernels/tensor_arg.h"

namespace unet::kernels::UNET_AVX512_TIER_NS {

size_t tconv2d_fwd_work(const KernelCall& call);
void tconv2d_fwd_run(const KernelCall& call, size_t begin, size_t end);
size_t tconv2d_bwd_data_work(const KernelCall& call);
void tconv2d_bwd_data_run(const KernelCall& call, size_t begin, size_t end);
size_t tconv2d_bwd_weights_work(const KernelCall& call);
void tconv2d_bwd_weights_run(const KernelCall& call, size_t begin, size_t end);

namespace {

constexpr int kPhases = 4;             // (ky, kx) of the 2x2 kernel
constexpr int kFwdPixels = 6;          // forward tile: 6 input pixels x 4 phases = 24 zmm
constexpr int kBwdDataPixels = 12;     // backward-data tile: 12 pixels x 2 dx blocks
constexpr int kBwdDataBlocks = 2;
constexpr int kRowPixelsPerItem = 64;  // input pixels a forward / backward-data item aims for

// The fast path: 2x2 taps, stride 2, no padding, the large grid exactly twice the small one.
bool is_2x2_stride2(const KernelCall& call, const TensorArg& small, const TensorArg& w,
                    const TensorArg& big) {
  return w.h == 2 && w.w == 2 && call.i[kAttrStride] == 2 && call.i[kAttrPadTop] == 0 &&
         call.i[kAttrPadLeft] == 0 && big.h == 2 * small.h && big.w == 2 * small.w &&
         big.n == small.n && small.h > 0 && small.w > 0;
}

// Items of forward / backward-data: (channel group, image, row group) with row groups of
// about kRowPixelsPerItem input pixels.
struct RowSplit {
  int rows, row_groups, channel_groups, images;
  size_t items() const { return size_t(channel_groups) * images * row_groups; }
};

RowSplit row_split(const TensorArg& small, int channel_groups) {
  RowSplit s{};
  s.rows = std::clamp((kRowPixelsPerItem + small.w - 1) / small.w, 1, small.h);
  s.row_groups = (small.h + s.rows - 1) / s.rows;
  s.channel_groups = channel_groups;
  s.images = small.n;
  return s;
}

struct RowItem {
  int group, n, y0, y1;
};

RowItem row_item(const RowSplit& s, size_t item, int h) {
  const int rg = static_cast<int>(item % s.row_groups);
  const size_t rest = item / s.row_groups;
  const int y0 = rg * s.rows;
  return {static_cast<int>(rest / s.images), static_cast<int>(rest % s.images), y0,
          std::min(h, y0 + s.rows)};
}

constexpr auto kFwdTiles = fwd_tiles<kPhases>(std::make_index_sequence<kFwdPixels>{});
constexpr auto kBwdDataTiles2 = bwd_data_tiles<2, kPhases>(std::make_index_sequence<kBwdDataPixels>{});
constexpr auto kBwdDataTiles1 = bwd_data_tiles<1, kPhases>(std::make_index_sequence<kBwdDataPixels>{});

// ---- forward: items (output block, image, row group) ----

void fwd_item(const KernelCall& call, const RowSplit& s, size_t item) {
  const TensorArg &x = call.t[0], &w = call.t[1], &b = call.t[2], &y = call.t[3];
  const RowItem it = row_item(s, item, x.h);
  const int ob = it.group, ibs = channel_blocks(x.c);
  FwdTile<kPhases> a{};
  a.x_blk = static_cast<int64_t>(x.h) * x.w * kBlock;
  a.blocks = ibs;
  a.last_lanes = real_lane_count(ibs - 1, x.c);
  a.w_ib = kPhases * kTileFloats;
  a.out_step = 2 * kBlock;
  a.act = static_cast<Activation>(call.i[kAttrActivation]);
  const float* w0 = w.data + static_cast<int64_t>(ob) * ibs * kPhases * kTileFloats;
  for (int k = 0; k < kPhases; ++k) {
    a.w[k] = w0 + k * kTileFloats;
    a.bias[k] = b.data ? b.data + ob * kBlock : nullptr;
    a.lanes[k] = real_lanes(ob, y.c);
  }
  const float* x_img = x.block(it.n, 0);
  float* y_blk = y.block(it.n, ob);
  for (int iy = it.y0; iy < it.y1; ++iy)
    for_each_segment(x.w, kFwdPixels, [&](int x0, int np) {
      a.x = x_img + (static_cast<int64_t>(iy) * x.w + x0) * kBlock;
      for (int k = 0; k < kPhases; ++k)
        a.out[k] = y_blk + ((static_cast<int64_t>(2 * iy + k / 2) * y.w) + 2 * x0 + k % 2) * kBlock;
      kFwdTiles[np - 1](a);
    });
}

// ---- backward data: items (dx block pair, image, row group); the weights of a chunk of dy
// blocks are transposed once per run of items sharing the dx block pair ----

template <int B>
void bwd_data_rows(const KernelCall& call, const RowSplit& s, size_t first, size_t last, int ob0,
                   int blocks, const float* wt, bool load) {
  const TensorArg &dy = call.t[0], &dx = call.t[2];
  const auto& tiles = []() -> const auto& {
    if constexpr (B == 2) return kBwdDataTiles2;
    else return kBwdDataTiles1;
  }();
  const int64_t tap[kPhases] = {0, kBlock, static_cast<int64_t>(dy.w) * kBlock,
                                (static_cast<int64_t>(dy.w) + 1) * kBlock};
  for (size_t item = first; item < last; ++item) {
    const RowItem it = row_item(s, item, dx.h);
    const int ib0 = it.group * kBwdDataBlocks;
    BwdDataTile<B> a{};
    a.dy_blk = static_cast<int64_t>(dy.h) * dy.w * kBlock;
    a.blocks = blocks;
    a.last_lanes = real_lane_count(ob0 + blocks - 1, dy.c);
    a.tap = tap;
    a.src_step = 2 * kBlock;
    a.wt = wt;
    a.load = load;
    for (int b = 0; b < B; ++b) a.lanes[b] = real_lanes(ib0 + b, dx.c);
    const float* dy0 = dy.block(it.n, ob0);
    for (int iy = it.y0; iy < it.y1; ++iy)
      for_each_segment(dx.w, kBwdDataPixels, [&](int x0, int np) {
        a.dy = dy0 + (static_cast<int64_t>(2 * iy) * dy.w + 2 * x0) * kBlock;
        for (int b = 0; b < B; ++b)
          a.out[b] = dx.block(it.n, ib0 + b) + (static_cast<int64_t>(iy) * dx.w + x0) * kBlock;
        tiles[np - 1](a);
      });
  }
}

}  // namespace

size_t tconv2d_fwd_work(const KernelCall& call) {
  const TensorArg &x = call.t[0], &w = call.t[1], &y = call.t[3];
  if (!is_2x2_stride2(call, x, w, y)) return ref::tconv2d_fwd_work(call);
  return row_split(x, channel_blocks(y.c)).items();
}

void tconv2d_fwd_run(const KernelCall& call, size_t begin, size_t end) {
  const TensorArg &x = call.t[0], &w = call.t[1], &y = call.t[3];
  if (!is_2x2_stride2(call, x, w, y)) return ref::tconv2d_fwd_run(call, begin, end);
  const RowSplit s = row_split(x, channel_blocks(y.c));
  for (size_t item = begin; item < end; ++item) fwd_item(call, s, item);
}

size_t tconv2d_bwd_data_work(const KernelCall& call) {
  const TensorArg &dy = call.t[0], &w = call.t[1], &dx = call.t[2];
  if (!is_2x2_stride2(call, dx, w, dy)) return ref::tconv2d_bwd_data_work(call);
  return row_split(dx, (channel_blocks(dx.c) + kBwdDataBlocks - 1) / kBwdDataBlocks).items();
}

void tconv2d_bwd_data_run(const KernelCall& call, size_t begin, size_t end) {
  const TensorArg &dy = call.t[0], &w = call.t[1], &dx = call.t[2];
  if (!is_2x2_stride2(call, dx, w, dy)) return ref::tconv2d_bwd_data_run(call, begin, end);
  const int ibs = channel_blocks(dx.c), obs = channel_blocks(dy.c);
  const RowSplit s = row_split(dx, (ibs + kBwdDataBlocks - 1) / kBwdDataBlocks);
  const size_t per_group = size_t(s.images) * s.row_groups;
  alignas(64) float wt[kTransposedFloats];
  const bool accumulate = call.i[kAttrAccumulate] != 0;
  for (size_t first = begin; first < end;) {
    const int group = static_cast<int>(first / per_group);
    const size_t last = std::min(end, (group + 1) * per_group);
    const int ib0 = group * kBwdDataBlocks, nb = std::min(kBwdDataBlocks, ibs - ib0);
    const int chunk = kTransposedFloats / (kPhases * nb * kTileFloats);
    for (int ob0 = 0; ob0 < obs; ob0 += chunk) {
      const int blocks = std::min(chunk, obs - ob0);
      const bool load = accumulate || ob0 > 0;
      if (nb == 2) {
        transpose_weights<2, kPhases>(w.data, ibs, ob0, blocks, ib0, wt);
        bwd_data_rows<2>(call, s, first, last, ob0, blocks, wt, load);
      } else {
        transpose_weights<1, kPhases>(w.data, ibs, ob0, blocks, ib0, wt);
        bwd_data_rows<1>(call, s, first, last, ob0, blocks, wt, load);
      }
    }
    first = last;
  }
}

// ---- backward weights: items (output block, input block, ky); each sums over all images and
// pixels into its own two weight tiles (kx = 0, 1), so items never share a write ----

size_t tconv2d_bwd_weights_work(const KernelCall& call) {
  const TensorArg &x = call.t[0], &dy = call.t[1], &dw = call.t[2];
  if (!is_2x2_stride2(call, x, dw, dy)) return ref::tconv2d_bwd_weights_work(call);
  return size_t(channel_blocks(dw.n)) * channel_blocks(dw.c) * 2;
}

void tconv2d_bwd_weights_run(const KernelCall& call, size_t begin, size_t end) {
  const TensorArg &x = call.t[0], &dy = call.t[1], &dw = call.t[2], &db = call.t[3];
  if (!is_2x2_stride2(call, x, dw, dy)) return ref::tconv2d_bwd_weights_run(call, begin, end);
  constexpr int L = 8, K = 2;  // 8 input lanes x the two kx phases: 16 zmm
  const int ibs = channel_blocks(dw.c);
  for (size_t item = begin; item < end; ++item) {
    const int ky = static_cast<int>(item % 2);
    const int ib = static_cast<int>((item / 2) % ibs), ob = static_cast<int>(item / 2 / ibs);
    const int in_lanes = real_lane_count(ib, dw.c);
    const __mmask16 out_lanes = real_lanes(ob, dw.n);
    // Both halves of the input lanes on one row while it is in L1: x and dy stream once.
    const int halves = (in_lanes + L - 1) / L;
    alignas(64) float sum[2][L][K][kBlock] = {};
    for (int n = 0; n < x.n; ++n)
      for (int iy = 0; iy < x.h; ++iy)
        for (int h = 0; h < halves; ++h) {
          BwdWeightsTile<K> a{};
          a.x = x.block(n, ib) + static_cast<int64_t>(iy) * x.w * kBlock + h * L;
          for (int kx = 0; kx < K; ++kx)
            a.dy[kx] = dy.block(n, ob) + (static_cast<int64_t>(2 * iy + ky) * dy.w + kx) * kBlock;
          a.dy_step = 2 * kBlock;
          a.pixels = x.w;
          bwd_weights_tile<L, K>(a, sum[h]);
        }
    for (int l = 0; l < in_lanes; ++l)
      for (int kx = 0; kx < K; ++kx) {
        float* tile = dw.data + ((static_cast<int64_t>(ob) * ibs + ib) * kPhases + ky * 2 + kx) * kTileFloats;
        add_weight_row(tile + l * kBlock, sum[l / L][l % L][kx], out_lanes);
      }
    if (ib == 0 && ky == 0 && db.data) add_bias_gradient_block(dy, db.data, ob);
  }
}

}  // namespace unet::kernels::UNET_AVX512_TIER_NS
