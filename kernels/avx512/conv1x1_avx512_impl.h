// Body of the 1x1 convolution kernels (conv1x1_avx512.h). A 1x1 conv with stride 1 and no
// padding treats an image plane as one long row of pixels, so the register tiles of
// conv1x1_avx512_tiles.h run along whole planes. Included by one translation unit per ISA
// tier defining UNET_AVX512_TIER_NS.
#ifndef UNET_AVX512_TIER_NS
#error "define UNET_AVX512_TIER_NS before including conv1x1_avx512_impl.h"
#endif

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "kernels/avx512/conv1x1_avx512.h"
#include "kernels/avx512/conv1x1_avx512_tiles.h"
#include "kernels/avx512/eltwise_avx512_simd.h"
#include "kernels/family_signature.h"
#include "kernels/kernel_call.h"
#include "kernels/kernel_family.h"
#include "kernels/tensor_arg.h"

namespace unet::kernels::UNET_AVX512_TIER_NS {
namespace {

constexpr int kPairBlocks = 2;             // output (fwd, bwd-weights) or dx blocks per item
constexpr int kFwdPixels2 = 12;            // forward tile: 12 pixels x 2 blocks
constexpr int kFwdPixels1 = 24;            // forward tile: 24 pixels x 1 block
constexpr int kBwdDataPixels = 12;         // backward-data tile: 12 pixels x 1-2 dx blocks
constexpr int kPlanePixelsPerItem = 512;   // pixels a forward / backward-data item aims for
constexpr int kWeightsPixelsPerSum = 256;  // backward-weights: register sums flushed this often

bool is_pointwise(const KernelCall& call, const TensorArg& in, const TensorArg& w, const TensorArg& out) {
  return w.h == 1 && w.w == 1 && call.i[kAttrStride] == 1 && call.i[kAttrPadTop] == 0 &&
         call.i[kAttrPadLeft] == 0 && in.h == out.h && in.w == out.w && in.n == out.n &&
         in.h > 0 && in.w > 0;
}

// Items (block pair, image, pixel range of the plane).
struct PlaneSplit {
  int ranges, range_pixels, images, pairs, pixels;
  size_t items() const { return size_t(pairs) * images * ranges; }
};

PlaneSplit plane_split(const TensorArg& t, int blocks) {
  PlaneSplit s{};
  s.pixels = t.h * t.w;
  s.ranges = (s.pixels + kPlanePixelsPerItem - 1) / kPlanePixelsPerItem;
  s.range_pixels = (s.pixels + s.ranges - 1) / s.ranges;
  s.images = t.n;
  s.pairs = (blocks + kPairBlocks - 1) / kPairBlocks;
  return s;
}

struct PlaneItem {
  int pair, n, p0, p1;
};

PlaneItem plane_item(const PlaneSplit& s, size_t item) {
  const int r = static_cast<int>(item % s.ranges);
  const size_t rest = item / s.ranges;
  const int p0 = r * s.range_pixels;
  return {static_cast<int>(rest / s.images), static_cast<int>(rest % s.images), p0,
          std::min(s.pixels, p0 + s.range_pixels)};
}

constexpr auto kFwdTiles2 = fwd_tiles<2>(std::make_index_sequence<kFwdPixels2>{});
constexpr auto kFwdTiles1 = fwd_tiles<1>(std::make_index_sequence<kFwdPixels1>{});
constexpr auto kBwdDataTiles2 = bwd_data_tiles<2, 1>(std::make_index_sequence<kBwdDataPixels>{});
constexpr auto kBwdDataTiles1 = bwd_data_tiles<1, 1>(std::make_index_sequence<kBwdDataPixels>{});

template <int K>
void fwd_item(const KernelCall& call, const PlaneItem& it) {
  namespace slots = slot::conv2d_fwd;
  const TensorArg &x = call.t[slots::x], &w = call.t[slots::w], &b = call.t[slots::b], &y = call.t[slots::y];
  const int ibs = channel_blocks(x.c), ob0 = it.pair * kPairBlocks;
  FwdTile<K> a{};
  a.x_blk = static_cast<int64_t>(x.h) * x.w * kBlock;
  a.blocks = ibs;
  a.last_lanes = real_lane_count(ibs - 1, x.c);
  a.w_ib = kTileFloats;
  a.out_step = kBlock;
  a.act = static_cast<Activation>(call.i[kAttrActivation]);
  for (int k = 0; k < K; ++k) {
    a.w[k] = w.data + static_cast<int64_t>(ob0 + k) * ibs * kTileFloats;
    a.bias[k] = b.data ? b.data + (ob0 + k) * kBlock : nullptr;
    a.lanes[k] = real_lanes(ob0 + k, y.c);
  }
  const float* x0 = x.block(it.n, 0);
  for_each_segment(it.p1 - it.p0, K == 2 ? kFwdPixels2 : kFwdPixels1, [&](int first, int np) {
    const int64_t p = it.p0 + first;
    a.x = x0 + p * kBlock;
    for (int k = 0; k < K; ++k) a.out[k] = y.block(it.n, ob0 + k) + p * kBlock;
    if constexpr (K == 2) kFwdTiles2[np - 1](a);
    else kFwdTiles1[np - 1](a);
  });
}

template <int B>
void bwd_data_items(const KernelCall& call, const PlaneSplit& s, size_t first, size_t last, int ob0,
                    int blocks, const float* wt, bool load) {
  const TensorArg &dy = call.t[slot::conv2d_bwd_data::dy], &dx = call.t[slot::conv2d_bwd_data::dx];
  // The folded ReLU backward, with the chunk of dy blocks that ends the sum.
  const TensorArg& relu_y = call.t[slot::conv2d_bwd_data::relu_y];
  const bool relu = relu_y.data && ob0 + blocks == channel_blocks(dy.c);
  const int64_t tap[1] = {0};
  for (size_t item = first; item < last; ++item) {
    const PlaneItem it = plane_item(s, item);
    const int ib0 = it.pair * kPairBlocks;
    BwdDataTile<B> a{};
    a.dy_blk = static_cast<int64_t>(dy.h) * dy.w * kBlock;
    a.blocks = blocks;
    a.last_lanes = real_lane_count(ob0 + blocks - 1, dy.c);
    a.tap = tap;
    a.src_step = kBlock;
    a.wt = wt;
    a.load = load;
    for (int b = 0; b < B; ++b) a.lanes[b] = real_lanes(ib0 + b, dx.c);
    const float* dy0 = dy.block(it.n, ob0);
    for_each_segment(it.p1 - it.p0, kBwdDataPixels, [&](int seg, int np) {
      const int64_t p = it.p0 + seg;
      a.dy = dy0 + p * kBlock;
      for (int b = 0; b < B; ++b) {
        a.out[b] = dx.block(it.n, ib0 + b) + p * kBlock;
        a.relu[b] = relu ? relu_y.block(it.n, ib0 + b) + p * kBlock : nullptr;
      }
      if constexpr (B == 2) kBwdDataTiles2[np - 1](a);
      else kBwdDataTiles1[np - 1](a);
    });
  }
}

// dw tiles of output blocks [ob0, ob0 + K) and input block ib, summed over all images.
template <int K>
void bwd_weights_item(const KernelCall& call, int ob0, int ib) {
  constexpr int L = K == 2 ? 8 : 16;  // L input lanes x K output blocks: 16 zmm
  namespace slots = slot::conv2d_bwd_weights;
  const TensorArg &x = call.t[slots::x], &dy = call.t[slots::dy], &dw = call.t[slots::dw];
  const int ibs = channel_blocks(dw.c), in_lanes = real_lane_count(ib, dw.c);
  const int pixels = x.h * x.w;
  // Every group of L input lanes on one pixel range while it is in L1: x and dy stream once.
  const int groups = (in_lanes + L - 1) / L;
  alignas(64) float sum[kBlock / L][L][K][kBlock] = {};
  for (int n = 0; n < x.n; ++n)
    for (int p0 = 0; p0 < pixels; p0 += kWeightsPixelsPerSum)
      for (int g = 0; g < groups; ++g) {
        BwdWeightsTile<K> a{};
        a.x = x.block(n, ib) + static_cast<int64_t>(p0) * kBlock + g * L;
        for (int k = 0; k < K; ++k) a.dy[k] = dy.block(n, ob0 + k) + static_cast<int64_t>(p0) * kBlock;
        a.dy_step = kBlock;
        a.pixels = std::min(kWeightsPixelsPerSum, pixels - p0);
        bwd_weights_tile<L, K>(a, sum[g]);
      }
  for (int l = 0; l < in_lanes; ++l)
    for (int k = 0; k < K; ++k) {
      float* tile = dw.data + (static_cast<int64_t>(ob0 + k) * ibs + ib) * kTileFloats;
      add_weight_row(tile + l * kBlock, sum[l / L][l % L][k], real_lanes(ob0 + k, dw.n));
    }
}

}  // namespace

bool conv1x1_fwd_supports(const KernelCall& call) {
  return is_pointwise(call, call.t[slot::conv2d_fwd::x], call.t[slot::conv2d_fwd::w], call.t[slot::conv2d_fwd::y]);
}
bool conv1x1_bwd_data_supports(const KernelCall& call) {
  return is_pointwise(call, call.t[slot::conv2d_bwd_data::dx], call.t[slot::conv2d_bwd_data::w],
                      call.t[slot::conv2d_bwd_data::dy]);
}
bool conv1x1_bwd_weights_supports(const KernelCall& call) {
  return is_pointwise(call, call.t[slot::conv2d_bwd_weights::x], call.t[slot::conv2d_bwd_weights::dw],
                      call.t[slot::conv2d_bwd_weights::dy]);
}

size_t conv1x1_fwd_work(const KernelCall& call) {
  const TensorArg& y = call.t[slot::conv2d_fwd::y];
  return plane_split(y, channel_blocks(y.c)).items();
}

void conv1x1_fwd_run(const KernelCall& call, size_t begin, size_t end) {
  const TensorArg& y = call.t[slot::conv2d_fwd::y];
  const int obs = channel_blocks(y.c);
  const PlaneSplit s = plane_split(y, obs);
  for (size_t item = begin; item < end; ++item) {
    const PlaneItem it = plane_item(s, item);
    if (obs - it.pair * kPairBlocks >= 2) fwd_item<2>(call, it);
    else fwd_item<1>(call, it);
  }
}

size_t conv1x1_bwd_data_work(const KernelCall& call) {
  const TensorArg& dx = call.t[slot::conv2d_bwd_data::dx];
  return plane_split(dx, channel_blocks(dx.c)).items();
}

void conv1x1_bwd_data_run(const KernelCall& call, size_t begin, size_t end) {
  namespace slots = slot::conv2d_bwd_data;
  const TensorArg &dy = call.t[slots::dy], &w = call.t[slots::w], &dx = call.t[slots::dx];
  const int ibs = channel_blocks(dx.c), obs = channel_blocks(dy.c);
  const PlaneSplit s = plane_split(dx, ibs);
  const size_t per_pair = size_t(s.images) * s.ranges;
  alignas(64) float wt[kTransposedFloats];
  const bool accumulate = call.i[kAttrAccumulate] != 0;
  for (size_t first = begin; first < end;) {
    const int pair = static_cast<int>(first / per_pair);
    const size_t last = std::min(end, (pair + 1) * per_pair);
    const int ib0 = pair * kPairBlocks, nb = std::min(kPairBlocks, ibs - ib0);
    const int chunk = kTransposedFloats / (nb * kTileFloats);
    for (int ob0 = 0; ob0 < obs; ob0 += chunk) {
      const int blocks = std::min(chunk, obs - ob0);
      const bool load = accumulate || ob0 > 0;
      if (nb == 2) {
        transpose_weights<2, 1>(w.data, ibs, ob0, blocks, ib0, wt);
        bwd_data_items<2>(call, s, first, last, ob0, blocks, wt, load);
      } else {
        transpose_weights<1, 1>(w.data, ibs, ob0, blocks, ib0, wt);
        bwd_data_items<1>(call, s, first, last, ob0, blocks, wt, load);
      }
    }
    first = last;
  }
}

size_t conv1x1_bwd_weights_work(const KernelCall& call) {
  const TensorArg& dw = call.t[slot::conv2d_bwd_weights::dw];
  return size_t((channel_blocks(dw.n) + kPairBlocks - 1) / kPairBlocks) * channel_blocks(dw.c);
}

void conv1x1_bwd_weights_run(const KernelCall& call, size_t begin, size_t end) {
  namespace slots = slot::conv2d_bwd_weights;
  const TensorArg &dy = call.t[slots::dy], &dw = call.t[slots::dw], &db = call.t[slots::db];
  const int ibs = channel_blocks(dw.c), obs = channel_blocks(dw.n);
  for (size_t item = begin; item < end; ++item) {
    const int ib = static_cast<int>(item % ibs), ob0 = static_cast<int>(item / ibs) * kPairBlocks;
    const int nob = std::min(kPairBlocks, obs - ob0);
    if (nob == 2) bwd_weights_item<2>(call, ob0, ib);
    else bwd_weights_item<1>(call, ob0, ib);
    if (ib == 0 && db.data)
      for (int ob = ob0; ob < ob0 + nob; ++ob) add_bias_gradient_block(dy, db.data, ob);
  }
}

}  // namespace unet::kernels::UNET_AVX512_TIER_NS
