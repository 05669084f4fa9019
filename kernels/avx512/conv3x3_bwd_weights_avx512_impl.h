// Body of the direct 3x3 convolution's backward-weights kernel (stride 1, padding 1, "same"
// output) with the bias gradient, nChw16c activations, OIhw16i16o weight gradient. Included by
// one translation unit per ISA tier, each defining UNET_AVX512_TIER_NS; AVX512F intrinsics only
// (the pass loop, conv3x3_bwd_weights_pass_avx512_impl.h, is x86-64 assembly of AVX512F
// instructions). It takes the shapes conv3x3_bwd_weights_supports() accepts.
#ifndef UNET_AVX512_TIER_NS
#error "define UNET_AVX512_TIER_NS before including conv3x3_bwd_weights_avx512_impl.h"
#endif

#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "kernels/avx512/avx512_kernels.h"
#include "kernels/avx512/conv3x3_bwd_weights_pass_avx512_impl.h"
#include "kernels/avx512/conv3x3_shape_avx512_impl.h"
#include "kernels/kernel_call.h"
#include "kernels/kernel_family.h"
#include "kernels/tensor_arg.h"

namespace unet::kernels::UNET_AVX512_TIER_NS {
namespace {

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

// The fast path: the 3x3 "same" shapes with rows of at least 2 pixels (the pass loop's left
// and right edge pixels are distinct).
bool covered(const TensorArg& x, const TensorArg& w, const TensorArg& dy, const KernelCall& call) {
  return is_same_3x3(x, w, dy, call) && x.w >= 2;
}

// Work items. Images of one channel: one item a dy block (its 9 taps in one pass; a cut of
// them would read all of x and the block again, and that pass is bound by those streams).
// Otherwise a unit is (group of up to kMaxWeightBlocks dy blocks, x block), and its items are
// half passes: for each pair of its dy blocks (a lone last block), each vertical tap ky, the
// input lanes in halves of a pass's (2 of a pair's 4, 4 of a lone block's 8), all 3
// horizontal taps, in that order (consecutive items read the same rows). An item owns its dw
// elements whole (every image, row and pixel), so dw does not depend on the split. The UNet's
// 128x128 and 64x64 layers make only 2 to 4 units but 48 to 192 items, enough for 16 threads.
// A range that holds a whole unit runs it as full passes over each chunk while the chunk is
// in L1, as one thread does; a part of a unit, only its passes, still reading the unit's x
// block and dy pairs whole (a few passes of a wide image are bound by that stream).
constexpr int kVerticalTaps = 3;

int half_pass_lanes(int blocks) { return (blocks == 2 ? kLanesPerPass<2> : kLanesPerPass<1>) / 2; }
int half_passes(int blocks, int x_lanes) {
  const int lanes = half_pass_lanes(blocks);
  return (x_lanes + lanes - 1) / lanes;
}

struct Unit {
  int ob, ocb;  // dy blocks [ob, ob + ocb)
  int ib, x_lanes;  // x block, its real lanes (the rest are zero)

  // Items of the dy pair (a lone block) at block o (even), per vertical tap.
  int pair_items_per_ky(int o) const { return half_passes(std::min(2, ocb - o), x_lanes); }
  // The pair's first item: every pair before it holds 2 blocks.
  int pair_first(int o) const { return o / 2 * kVerticalTaps * half_passes(2, x_lanes); }
  int items() const {
    const int last = (ocb - 1) / 2 * 2;
    return pair_first(last) + kVerticalTaps * pair_items_per_ky(last);
  }
};

Unit unit_at(const TensorArg& x, const TensorArg& dy, int group, int ib) {
  const int ob = group * kMaxWeightBlocks;
  return Unit{ob, std::min(kMaxWeightBlocks, channel_blocks(dy.c) - ob), ib,
              std::min(kBlock, x.c - ib * kBlock)};
}

size_t bwd_weights_work(const KernelCall& call) {
  const TensorArg &x = call.t[slot::conv2d_bwd_weights::x], &dy = call.t[slot::conv2d_bwd_weights::dy];
  if (x.c == 1) return size_t(channel_blocks(dy.c));
  const int groups = (channel_blocks(dy.c) + kMaxWeightBlocks - 1) / kMaxWeightBlocks;
  size_t items = 0;
  for (int g = 0; g < groups; ++g)
    for (int ib = 0; ib < channel_blocks(x.c); ++ib) items += size_t(unit_at(x, dy, g, ib).items());
  return items;
}

using PassFn = void (*)(const PassArgs&);
constexpr PassFn kPasses[2][2][2] = {  // [half][prefetch][dy blocks - 1]
    {{bww_pass<1, false, false>, bww_pass<2, false, false>}, {bww_pass<1, true, false>, bww_pass<2, true, false>}},
    {{bww_pass<1, false, true>, bww_pass<2, false, true>}, {bww_pass<1, true, true>, bww_pass<2, true, true>}}};

// dw of one dy block (g0: its block in image 0) and a one-channel x (rows in whole rows at a
// time): rows with 3 vertical taps by the 9-tap pass, the top and bottom rows by the 3-tap
// pass of their valid taps.
void one_channel_item(const TensorArg& x, const float* g0, int64_t g_image, float* dw0, const float** rows) {
  const int h = x.h, w = x.w;
  PassArgs a;
  a.rows = rows;
  a.start = 64;
  a.pend = 64 + int64_t((w - 2) / 2) * 128;
  a.odd = (w - 2) % 2;
  a.right = 1;
  a.dw_ob = 0;
  a.pf = nullptr;
  a.lane = 0;
  a.g_off = 0;
  for (int n = 0; n < x.n; ++n) {
    const float* x0 = x.block(n, 0);
    const float* g = g0 + n * g_image;
    a.g_blk = int64_t(w) * kBlock * int64_t(sizeof(float));  // between x rows
    a.dw = dw0;
    for (int y0 = 1; y0 < h - 1; y0 += kMaxChunkRows) {
      const int y1 = std::min(h - 1, y0 + kMaxChunkRows);
      for (int y = y0; y < y1; ++y) {
        rows[2 * (y - y0)] = x0 + int64_t(y - 1) * w * kBlock;
        rows[2 * (y - y0) + 1] = g + int64_t(y) * w * kBlock;
      }
      a.nrows = y1 - y0;
      bww_pass9(a);
    }
    a.g_blk = 0;
    for (int ky = 0; ky < 3; ++ky) {
      int nrows = 0;
      for (int y : {0, h - 1}) {
        if (y + ky - 1 < 0 || y + ky - 1 >= h || (y == h - 1 && h == 1 && nrows > 0)) continue;
        rows[2 * nrows] = x0 + int64_t(y + ky - 1) * w * kBlock;
        rows[2 * nrows + 1] = g + int64_t(y) * w * kBlock;
        ++nrows;
      }
      if (nrows == 0) continue;
      a.nrows = nrows;
      a.dw = dw0 + ky * 3 * kTapFloats;
      kPasses[0][0][0](a);
    }
  }
}
// The items [i0, i1) of unit u. WHOLE: all of them (every pass of every chunk, full), the
// selection folded away (most ranges are whole units: every unit, for one thread).
template <bool WHOLE>
void run_unit(const KernelCall& call, const Unit& u, int i0, int i1, const float** rows) {
  namespace slots = slot::conv2d_bwd_weights;
  const TensorArg &x = call.t[slots::x], &dy = call.t[slots::dy], &dw = call.t[slots::dw], &db = call.t[slots::db];
  const int ibs = channel_blocks(x.c);
  const int ob = u.ob, ocb = u.ocb, ib = u.ib;
  const int64_t plane = int64_t(x.h) * x.w * kBlock;
  const int64_t dw_ob = int64_t(ibs) * kTaps * kTapFloats;
  // Chunks of whole rows, about kPixelsPerChunk pixels, swept 3 x 16 / lanes x blocks / 2
  // times from L1; rows wider than 2 * kPixelsPerChunk are cut into column pieces. They
  // depend on the shape only: each dw element sums its terms in one order whatever the split.
  const int col_chunks = (x.w + kMaxPieceWidth - 1) / kMaxPieceWidth;
  const int piece = (x.w + col_chunks - 1) / col_chunks;
  const int chunk = std::clamp(kPixelsPerChunk / piece, 1, std::min(x.h, kMaxChunkRows));
  float* dw0 = dw.data + (int64_t(ob) * ibs + ib) * kTaps * kTapFloats;
  auto selected = [&](int item) { return WHOLE || (item >= i0 && item < i1); };
  // The dy pairs with items in the range; the bias gradient of a pair's blocks is summed by
  // its first item of the first x block, while dy is in L1, once whatever the split.
  // Per pair: its first item, its items per vertical tap (half passes), the lanes of one.
  bool pair_used[kMaxWeightBlocks / 2] = {}, bias[kMaxWeightBlocks / 2] = {};
  int pair_first[kMaxWeightBlocks / 2] = {}, pair_halves[kMaxWeightBlocks / 2] = {};
  for (int o = 0; o < ocb; o += 2) {
    pair_first[o / 2] = u.pair_first(o);
    pair_halves[o / 2] = u.pair_items_per_ky(o);
    pair_used[o / 2] = WHOLE || (pair_first[o / 2] < i1 && pair_first[o / 2] + kVerticalTaps * pair_halves[o / 2] > i0);
    bias[o / 2] = ib == 0 && db.data != nullptr && selected(pair_first[o / 2]);
  }
  __m512 bsum[kMaxWeightBlocks] = {};
  for (int n = 0; n < x.n; ++n)
    for (int y0 = 0; y0 < x.h; y0 += chunk) {
      const int y1 = std::min(x.h, y0 + chunk);
      // The next chunk: the dy rows of the pairs in the range and the x rows it adds,
      // prefetched into L2 by the first passes, each one half of a stream (one line a pixel
      // pair). Spread over twice the passes at half the rate of one line a pixel, the requests
      // stall the loop less (wide images, whose rows stream from memory: +4-10 points).
      const bool last = n + 1 == x.n && y1 == x.h;
      const int nn = y1 == x.h ? n + 1 : n, ny0 = y1 == x.h ? 0 : y1;
      const float* next[kMaxWeightBlocks + 1] = {};
      int streams = 0;
      if (!last) {
        for (int o = 0; o < ocb; ++o)
          if (pair_used[o / 2]) next[streams++] = dy.block(nn, ob + o) + int64_t(ny0) * x.w * kBlock;
        next[streams++] = x.block(nn, ib) + int64_t(nn == n ? ny0 + 1 : 0) * x.w * kBlock;
      }
      for (int cc = 0; cc < col_chunks; ++cc) {
        const int xa = x.w * cc / col_chunks, xb = x.w * (cc + 1) / col_chunks;
        const bool left = xa == 0, right = xb == x.w;
        // This piece's share of the next chunk's rows to prefetch.
        const int64_t piece_pf = int64_t(chunk) * x.w * cc / col_chunks * kBlock;
        const int64_t half_pf = int64_t(chunk) * x.w / col_chunks / 2 * kBlock;
        const int interior = (xb - right) - (xa + left);
        PassArgs a;
        a.rows = rows;
        a.start = left ? 64 : 0;
        a.pend = a.start + int64_t(interior / 2) * 128;
        a.odd = interior % 2;
        a.right = right;
        a.dw_ob = dw_ob * int64_t(sizeof(float));
        a.g_blk = plane * int64_t(sizeof(float));
        for (int ky = 0, pass = 0; ky < kVerticalTaps; ++ky) {
          const int ya = std::max(y0, 1 - ky), yb = std::min(y1, x.h + 1 - ky);
          if (ya >= yb) continue;
          bool rows_set = false;
          // Passes of 2 dy blocks (a lone last block: 1), input lanes by the pass's width: a
          // pass whose halves are both in the range (or whose one half holds every real lane
          // it has) runs full, else its half in the range runs alone.
          for (int o = 0; o < ocb; o += 2) {
            if (!pair_used[o / 2]) continue;
            const int blocks = std::min(2, ocb - o), half_lanes = half_pass_lanes(blocks);
            const int halves = pair_halves[o / 2];
            const int ky_first = pair_first[o / 2] + ky * halves;
            for (int h = 0; h < halves; h += 2) {
              const bool lower = selected(ky_first + h), upper = h + 1 < halves && selected(ky_first + h + 1);
              if (!lower && !upper) continue;
              const bool full = lower && (upper || h + 1 == halves);
              if (!rows_set) {
                for (int y = ya; y < yb; ++y) {
                  rows[2 * (y - ya)] = x.block(n, ib) + (int64_t(y + ky - 1) * x.w + xa) * kBlock;
                  rows[2 * (y - ya) + 1] = dy.block(n, ob) + (int64_t(y) * x.w + xa) * kBlock;
                }
                a.nrows = yb - ya;
                rows_set = true;
              }
              const int l0 = (h + (lower ? 0 : 1)) * half_lanes;
              const bool prefetch = pass < 2 * streams;
              a.pf = prefetch ? next[pass / 2] + piece_pf + pass % 2 * half_pf : nullptr;
              a.dw = dw0 + o * dw_ob + ky * 3 * kTapFloats + l0 * kBlock;
              a.lane = l0 * int64_t(sizeof(float));
              a.g_off = o * plane * int64_t(sizeof(float));
              kPasses[!full][prefetch][blocks - 1](a);
              ++pass;
            }
          }
        }
      }
      for (int o = 0; o < ocb; ++o)
        if (bias[o / 2])
          bsum[o] = sum_pixels(bsum[o], dy.block(n, ob + o), int64_t(y0) * x.w, int64_t(y1) * x.w);
    }
  for (int o = 0; o < ocb; ++o)
    if (bias[o / 2]) {
      float* bp = db.data + (ob + o) * kBlock;
      _mm512_storeu_ps(bp, _mm512_add_ps(_mm512_loadu_ps(bp), bsum[o]));
    }
}

void bwd_weights_run(const KernelCall& call, size_t begin, size_t end) {
  namespace slots = slot::conv2d_bwd_weights;
  const TensorArg &x = call.t[slots::x], &dy = call.t[slots::dy], &dw = call.t[slots::dw], &db = call.t[slots::db];
  const float* rows[2 * kMaxChunkRows];  // per row of a pass: x row, dy row
  if (x.c == 1) {
    for (size_t item = begin; item < end; ++item) {
      const int ob = static_cast<int>(item);
      one_channel_item(x, dy.block(0, ob), dy.image_stride, dw.data + int64_t(ob) * kTaps * kTapFloats, rows);
      if (db.data != nullptr) {
        __m512 bsum = _mm512_setzero_ps();
        for (int n = 0; n < x.n; ++n) bsum = sum_pixels(bsum, dy.block(n, ob), 0, int64_t(x.h) * x.w);
        float* bp = db.data + ob * kBlock;
        _mm512_storeu_ps(bp, _mm512_add_ps(_mm512_loadu_ps(bp), bsum));
      }
    }
    return;
  }
  // The units in item order, each its items' offset; the range's share of each it meets.
  const int groups = (channel_blocks(dy.c) + kMaxWeightBlocks - 1) / kMaxWeightBlocks;
  size_t first = 0;
  for (int g = 0; g < groups && first < end; ++g)
    for (int ib = 0; ib < channel_blocks(x.c) && first < end; ++ib) {
      const Unit u = unit_at(x, dy, g, ib);
      const size_t count = size_t(u.items());
      const size_t i0 = std::max(begin, first) - first, i1 = std::min(end, first + count) - first;
      if (i0 == 0 && i1 == count)
        run_unit<true>(call, u, 0, int(count), rows);
      else if (i0 < i1)
        run_unit<false>(call, u, int(i0), int(i1), rows);
      first += count;
    }
}
}  // namespace

bool conv3x3_bwd_weights_supports(const KernelCall& call) {
  return covered(call.t[slot::conv2d_bwd_weights::x], call.t[slot::conv2d_bwd_weights::dw],
                 call.t[slot::conv2d_bwd_weights::dy], call);
}
size_t conv3x3_bwd_weights_work(const KernelCall& call) { return bwd_weights_work(call); }
void conv3x3_bwd_weights_run(const KernelCall& call, size_t begin, size_t end) {
  bwd_weights_run(call, begin, end);
}

}  // namespace unet::kernels::UNET_AVX512_TIER_NS
