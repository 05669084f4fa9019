// Winograd F(2x2,3x3) 3x3 convolutions (stride 1, padding 1, "same" output) on nChw16c with
// OIhw16i16o weights, avx512 tier:
//   forward        y = bias + conv(x, w), ReLU or none, optional folded dropout and 2x2 max-pool;
//   backward-data  dx (+)= conv^T(dy, w), optional folded ReLU backward (relu_y).
// Backward-data of a "same" 3x3 stride-1 conv is itself a "same" 3x3 conv of dy with the
// flipped, transposed weights w'[i][o][ky][kx] = w[o][i][2-ky][2-kx], so both kernels run one
// pipeline: they differ only in the weights they transform (run_items' transform_weights
// loader) and in what they do with each 2x2 output tile (the epilogue).
// Grown from the prototype in bench/winograd_f23 (measured there 1.13-1.61x over the direct
// kernel on 32-128 channel layers, one thread).
//
// Below, "input" is the tensor the input transform reads (x; dy) and "output" the one the
// output transform writes (y; dx); C_in and C_out are their channel counts.
// Items: (output-channel group of 32, block of kTilesPerItem 2x2 output tiles), group outermost.
// A range of items transforms the weights U = G g G^T of each group it touches once, into a
// buffer on its stack: the weights change every training step, so U cannot be kept, and the
// runtime's static partition gives each thread one contiguous range, so each group's U is
// made about once per call (twice where two threads share a group).
// Per item:
//   1. input transform  V = B^T d B  of the block's tiles, every input channel
//        V[point][tiles/14 groups][C_in/16][rows <= 14][16]
//   2. 16 GEMMs, one per Winograd point:  M_p[tile][32] = V_p[tile][C_in] . U_p[C_in][32]
//        M[tile][point][32]
//   3. output transform  A^T M A, then the epilogue: forward + bias, ReLU, a folded dropout,
//      into y (and the 2x2 max of each tile into pool_y: a tile is exactly one window of the
//      folded pool); backward-data + dx when accumulating, the ReLU mask, into dx.
// The input transform is redone for every output group (C_out / 32 times): at 128 output
// channels that is 4 transforms of each tile's input; it is the price of a U small enough for
// the stack (16 C_in 32 floats, 512 KB at C_in 256) and of items that split across threads.
//
// work() and run() take only the shapes supports() accepts; the kernel chooser gives the rest
// to the direct kernels (or the reference).
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <utility>

#define UNET_AVX512_TIER_NS avx512
#include "kernels/avx512/avx512_kernels.h"
#include "kernels/avx512/dropout_avx512_simd.h"  // DropoutMask
#include "kernels/avx512/eltwise_avx512_simd.h"  // relu_live
#include "kernels/family_signature.h"
#include "kernels/kernel_call.h"
#include "kernels/kernel_family.h"
#include "kernels/tensor_arg.h"

// GCC cannot see that the GEMMs write every M value the output transform reads (the scratch
// is left uninitialised on purpose) and warns through the intrinsics' inlined bodies.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace unet::kernels::avx512 {
namespace {

constexpr int kNr = 32;      // output channels of a group (the GEMM's register tile width)
constexpr int kMr = 14;      // tiles of the GEMM's register tile (28 accumulators)
constexpr int kPoints = 16;  // 4x4 Winograd points of a tile
// C_in up to 256 takes in the UNet's 256-channel inputs (conv4b, conv6b, conv7a forward; dy of
// conv4a and conv4b backward-data); 512 would put U alone at 1 MB, the stack's whole allowance.
constexpr int kMaxCin = 256;
constexpr int kMaxCout = 256;
// Tiles per item: one register tile. One group's U (<= 512 KB) stays in L2 whatever the
// block, so larger blocks would only spread the per-item overhead: 28 and 56 tiles measured
// the same as 14 (within 3 %, bench_winograd_f23, 32-128 channels), and 14 keeps V small.
constexpr int kTilesPerItem = kMr;

// Scratch for C_in up to MaxCin: U 16 x MaxCin x 32, V 16 x 14 x MaxCin, M 16 x 14 x 32
// floats. run() picks the smaller frame where C_in allows (396 KB at 128 against 764 KB at
// 256), so the layers that fit keep the stack they had.
template <int MaxCin>
struct Scratch {
  alignas(64) float u[kPoints * MaxCin * kNr];
  alignas(64) float v[kPoints * kTilesPerItem * MaxCin];
  alignas(64) float m[kPoints * kTilesPerItem * kNr];
};
constexpr int kSmallScratchCin = 128;
// The contract's bound (kernel_call.h); the runtime's worker stacks are 8 times that.
static_assert(sizeof(Scratch<kMaxCin>) <= kMaxKernelStackBytes, "Winograd scratch over the kernel stack allowance");

// 3x3, stride 1, padding 1, input and output of the same even size, channel counts in range.
bool same_3x3_ok(const TensorArg& in, const TensorArg& w, const TensorArg& out, const KernelCall& call) {
  return w.h == 3 && w.w == 3 && call.i[kAttrStride] == 1 && call.i[kAttrPadTop] == 1 &&
         call.i[kAttrPadLeft] == 1 && in.n == out.n && in.h == out.h && in.w == out.w && in.h > 0 &&
         in.w > 0 && in.h % 2 == 0 && in.w % 2 == 0 && in.c % kBlock == 0 && in.c >= kBlock &&
         in.c <= kMaxCin && out.c % kNr == 0 && out.c >= kNr && out.c <= kMaxCout;
}

bool fwd_shape_ok(const KernelCall& call) {
  namespace slots = slot::conv2d_fwd;
  const TensorArg &x = call.t[slots::x], &w = call.t[slots::w], &y = call.t[slots::y];
  const auto act = static_cast<Activation>(call.i[kAttrActivation]);
  return same_3x3_ok(x, w, y, call) && w.c == x.c && w.n == y.c &&
         (act == Activation::none || act == Activation::relu);
}

// The forward conv's weights are [C_out = dy.c][C_in = dx.c].
bool bwd_data_shape_ok(const KernelCall& call) {
  namespace slots = slot::conv2d_bwd_data;
  const TensorArg &dy = call.t[slots::dy], &w = call.t[slots::w], &dx = call.t[slots::dx];
  const int acc = call.i[kAttrAccumulate];
  return same_3x3_ok(dy, w, dx, call) && w.n == dy.c && w.c == dx.c && (acc == 0 || acc == 1);
}

struct Layout {
  int cin, cout, h, w;  // channels of the input and output tensors (see the top); output size
  int tiles_w, tiles_per_image, tiles;
  int tb;      // tiles per item
  int blocks;  // items per output group
  int groups;  // output groups
};

Layout layout_of(const TensorArg& in, const TensorArg& out) {
  Layout l{};
  l.cin = in.c;
  l.cout = out.c;
  l.h = out.h;
  l.w = out.w;
  l.tiles_w = out.w / 2;
  l.tiles_per_image = l.tiles_w * (out.h / 2);
  l.tiles = out.n * l.tiles_per_image;
  l.tb = kTilesPerItem;
  l.blocks = (l.tiles + l.tb - 1) / l.tb;
  l.groups = out.c / kNr;
  return l;
}

// ---------------------------------------------------------------------------------------------
// Weight transform of output group g: U[point][C_in][32]. load_taps(ob, i, k) fills k[ky][kx]
// with the 3x3 kernel from input channel i to the 16 output channels of block ob, one vector a
// tap: 9 loads, the transform on 16 outputs at once, 16 stores.
template <typename LoadTaps>
void transform_weights(LoadTaps&& load_taps, int cin, int g, float* __restrict u) {
  const __m512 half = _mm512_set1_ps(0.5f);
  const int64_t p_stride = int64_t(cin) * kNr;
  for (int hb = 0; hb < 2; ++hb) {
    const int ob = 2 * g + hb;
    for (int i = 0; i < cin; ++i) {
      __m512 k[3][3];
      load_taps(ob, i, k);
      // G k, G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1]: rows.
      __m512 a[4][3];
      for (int c = 0; c < 3; ++c) {
        const __m512 sum02 = _mm512_add_ps(k[0][c], k[2][c]);
        a[0][c] = k[0][c];
        a[1][c] = _mm512_mul_ps(half, _mm512_add_ps(sum02, k[1][c]));
        a[2][c] = _mm512_mul_ps(half, _mm512_sub_ps(sum02, k[1][c]));
        a[3][c] = k[2][c];
      }
      // (G k) G^T: columns.
      float* ui = u + int64_t(i) * kNr + hb * kBlock;
      for (int r = 0; r < 4; ++r) {
        const __m512 sum02 = _mm512_add_ps(a[r][0], a[r][2]);
        _mm512_store_ps(ui + (r * 4 + 0) * p_stride, a[r][0]);
        _mm512_store_ps(ui + (r * 4 + 1) * p_stride, _mm512_mul_ps(half, _mm512_add_ps(sum02, a[r][1])));
        _mm512_store_ps(ui + (r * 4 + 2) * p_stride, _mm512_mul_ps(half, _mm512_sub_ps(sum02, a[r][1])));
        _mm512_store_ps(ui + (r * 4 + 3) * p_stride, a[r][2]);
      }
    }
  }
}

// Forward: the 16 output channels of a (input channel, tap) are one contiguous vector of
// OIhw16i16o.
struct ForwardTaps {
  const float* w;
  int cib;  // input channel blocks of w
  void operator()(int ob, int i, __m512 (&k)[3][3]) const {
    const float* wi = w + (int64_t(ob) * cib + i / kBlock) * 9 * 256 + (i % kBlock) * kBlock;
    for (int t = 0; t < 9; ++t) k[t / 3][t % 3] = _mm512_loadu_ps(wi + t * 256);
  }
};

// Backward-data: "input" channel o is a dy channel (the forward's output), "output" block ob
// 16 dx channels (the forward's input), and the kernel is flipped, w'[ky][kx] = w[2-ky][2-kx].
// Those 16 dx channels of one (o, tap) lie 16 floats apart in OIhw16i16o: a gather. Its cost
// is C_in x 2 x 9 gathers a group, against C_in x 32 x 16 x tiles FMAs.
struct BackwardDataTaps {
  const float* w;
  int cib;  // input channel blocks of w (dx's)
  void operator()(int ob, int o, __m512 (&k)[3][3]) const {
    const __m512i lane_stride =
        _mm512_set_epi32(240, 224, 208, 192, 176, 160, 144, 128, 112, 96, 80, 64, 48, 32, 16, 0);
    const float* wo = w + (int64_t(o / kBlock) * cib + ob) * 9 * 256 + o % kBlock;
    for (int t = 0; t < 9; ++t) k[t / 3][t % 3] = _mm512_i32gather_ps(lane_stride, wo + (8 - t) * 256, 4);
  }
};

// ---------------------------------------------------------------------------------------------
// GEMM register tile: R tiles x 32 output channels over all input channels of one point.
//   v: V_p at the first tile (v[cb * v_cb_stride + r * 16 + c]); u: U_p, u[cin * 32 + o];
//   m: M at (first tile, point), m[r * m_tile_stride + o].
// Per input channel 2 loads of U and R broadcasts of V feed 2R FMAs.
template <int R>
void gemm_tile(const float* __restrict v, int64_t v_cb_stride, const float* __restrict u, int cin_blocks,
               float* __restrict m, int64_t m_tile_stride) {
  __m512 acc0[R], acc1[R];
#pragma GCC unroll 14
  for (int r = 0; r < R; ++r) acc0[r] = acc1[r] = _mm512_setzero_ps();
  for (int cb = 0; cb < cin_blocks; ++cb) {
    const float* vb = v + cb * v_cb_stride;
    const float* ub = u + cb * kBlock * kNr;
#pragma GCC unroll 16
    for (int c = 0; c < kBlock; ++c) {
      const __m512 u0 = _mm512_load_ps(ub + c * kNr);
      const __m512 u1 = _mm512_load_ps(ub + c * kNr + 16);
#pragma GCC unroll 14
      for (int r = 0; r < R; ++r) {
        const __m512 b = _mm512_set1_ps(vb[r * kBlock + c]);
        acc0[r] = _mm512_fmadd_ps(b, u0, acc0[r]);
        acc1[r] = _mm512_fmadd_ps(b, u1, acc1[r]);
      }
    }
  }
#pragma GCC unroll 14
  for (int r = 0; r < R; ++r) {
    _mm512_store_ps(m + r * m_tile_stride, acc0[r]);
    _mm512_store_ps(m + r * m_tile_stride + 16, acc1[r]);
  }
}

using GemmFn = void (*)(const float*, int64_t, const float*, int, float*, int64_t);

template <int... Rs>
constexpr auto make_gemm_table(std::integer_sequence<int, Rs...>) {
  return std::array<GemmFn, sizeof...(Rs)>{&gemm_tile<Rs + 1>...};
}
// gemm_table[R - 1]: the last register tile of the batch's last item may be narrower.
constexpr auto gemm_table = make_gemm_table(std::make_integer_sequence<int, kMr>{});

// ---------------------------------------------------------------------------------------------
// Tiles are numbered across the batch, row-major in each image.
struct TileCoord {
  int n, ty, tx;
  void advance(const Layout& l) {
    if (++tx == l.tiles_w) {
      tx = 0;
      if (++ty == l.h / 2) {
        ty = 0;
        ++n;
      }
    }
  }
};
TileCoord tile_coord(const Layout& l, int t) {
  const int n = t / l.tiles_per_image;
  const int r = t - n * l.tiles_per_image;
  return {n, r / l.tiles_w, r % l.tiles_w};
}

// V_p is cut into groups of kMr tiles (a register tile), each [C_in/16][rows][16], so that a
// register tile reads one contiguous run.
struct VGroup {
  int64_t base;    // floats from V_p's start to the group
  int64_t stride;  // floats between the group's channel blocks
};
VGroup v_group(int gi, int tb, int cin) {
  const int rows = std::min(kMr, tb - gi * kMr);
  return {int64_t(gi) * kMr * cin, int64_t(rows) * kBlock};
}

// Input transform of tiles [t0, t0 + tb) into V (point stride p_stride).
void input_transform(const Layout& l, const TensorArg& x, int t0, int tb, int64_t p_stride, float* __restrict v) {
  const int cin_blocks = l.cin / kBlock;
  for (int cb = 0; cb < cin_blocks; ++cb) {
    TileCoord tc = tile_coord(l, t0);
    for (int i = 0; i < tb; ++i, tc.advance(l)) {
      const float* xb = x.block(tc.n, cb);
      const int y0 = 2 * tc.ty - 1, x0 = 2 * tc.tx - 1;
      // Rows and columns outside the image load as zero through an empty mask (a masked-off
      // lane never faults), so border tiles take the interior tiles' path.
      __mmask16 colmask[4];
      for (int j = 0; j < 4; ++j) colmask[j] = (x0 + j >= 0 && x0 + j < l.w) ? 0xFFFF : 0;
      __m512 d[4][4];
      for (int r = 0; r < 4; ++r) {
        const bool row_ok = y0 + r >= 0 && y0 + r < l.h;
        const float* row = xb + (int64_t(y0 + r) * l.w + x0) * kBlock;
        for (int j = 0; j < 4; ++j) d[r][j] = _mm512_maskz_loadu_ps(row_ok ? colmask[j] : __mmask16(0), row + j * kBlock);
      }
      // B^T d: rows.
      __m512 t[4][4];
      for (int j = 0; j < 4; ++j) {
        t[0][j] = _mm512_sub_ps(d[0][j], d[2][j]);
        t[1][j] = _mm512_add_ps(d[1][j], d[2][j]);
        t[2][j] = _mm512_sub_ps(d[2][j], d[1][j]);
        t[3][j] = _mm512_sub_ps(d[1][j], d[3][j]);
      }
      // (B^T d) B: columns, stored point by point.
      const VGroup g = v_group(i / kMr, tb, l.cin);
      float* vt = v + g.base + cb * g.stride + (i % kMr) * kBlock;
      for (int r = 0; r < 4; ++r) {
        _mm512_store_ps(vt + (r * 4 + 0) * p_stride, _mm512_sub_ps(t[r][0], t[r][2]));
        _mm512_store_ps(vt + (r * 4 + 1) * p_stride, _mm512_add_ps(t[r][1], t[r][2]));
        _mm512_store_ps(vt + (r * 4 + 2) * p_stride, _mm512_sub_ps(t[r][2], t[r][1]));
        _mm512_store_ps(vt + (r * 4 + 3) * p_stride, _mm512_sub_ps(t[r][1], t[r][3]));
      }
    }
  }
}

// Output transform of tiles [t0, t0 + tb) of group g from M: each tile's 2x2 outputs of one
// channel block go to epilogue.tile(tc, ob, o), after epilogue.start_block(ob). The epilogue
// is a copy whose address does not escape, so its fields stay in registers: the stores
// (through __m512, which may alias anything) would otherwise reload them every tile.
template <typename Epilogue>
void output_transform(const Layout& l, const float* __restrict m, Epilogue epilogue, int g, int t0, int tb) {
  for (int hb = 0; hb < 2; ++hb) {
    const int ob = 2 * g + hb;
    epilogue.start_block(ob);
    TileCoord tc = tile_coord(l, t0);
    for (int i = 0; i < tb; ++i, tc.advance(l)) {
      const float* mt = m + int64_t(i) * kPoints * kNr + hb * kBlock;
      __m512 q[4][4];
      for (int p = 0; p < kPoints; ++p) q[p / 4][p % 4] = _mm512_load_ps(mt + p * kNr);
      // A^T q: rows.
      __m512 r0[4], r1[4];
      for (int j = 0; j < 4; ++j) {
        r0[j] = _mm512_add_ps(_mm512_add_ps(q[0][j], q[1][j]), q[2][j]);
        r1[j] = _mm512_sub_ps(_mm512_sub_ps(q[1][j], q[2][j]), q[3][j]);
      }
      // (A^T q) A: columns.
      __m512 o[2][2];
      o[0][0] = _mm512_add_ps(_mm512_add_ps(r0[0], r0[1]), r0[2]);
      o[0][1] = _mm512_sub_ps(_mm512_sub_ps(r0[1], r0[2]), r0[3]);
      o[1][0] = _mm512_add_ps(_mm512_add_ps(r1[0], r1[1]), r1[2]);
      o[1][1] = _mm512_sub_ps(_mm512_sub_ps(r1[1], r1[2]), r1[3]);
      epilogue.tile(tc, ob, o);
    }
  }
}

// Offset of the top-left output of tile tc in a channel block of a w-pixel-wide image.
int64_t tile_offset(const TileCoord& tc, int w) { return (int64_t(2 * tc.ty) * w + 2 * tc.tx) * kBlock; }

// Forward: + bias, ReLU, the folded dropout when `dropout`, into y, and the tile's maximum
// into pool_y when it is given.
struct ForwardEpilogue {
  const float* bias;
  bool relu;
  const DropoutMask* dropout;
  TensorArg y;
  TensorArg pool_y;
  __m512 b;

  void start_block(int ob) { b = bias ? _mm512_loadu_ps(bias + ob * kBlock) : _mm512_setzero_ps(); }
  void tile(const TileCoord& tc, int ob, __m512 (&o)[2][2]) const {
    const __m512 zero = _mm512_setzero_ps();
    for (auto& row : o)
      for (auto& val : row) val = _mm512_add_ps(val, b);
    if (relu)
      for (auto& row : o)
        for (auto& val : row) val = _mm512_max_ps(val, zero);
    if (dropout) {
      const __m512i image = dropout->image_hash(tc.n);
      for (int r = 0; r < 2; ++r)
        for (int c = 0; c < 2; ++c) o[r][c] = dropout->pixel(image, ob, 2 * tc.ty + r, 2 * tc.tx + c, o[r][c]);
    }
    float* yt = y.block(tc.n, ob) + tile_offset(tc, y.w);
    _mm512_storeu_ps(yt, o[0][0]);
    _mm512_storeu_ps(yt + kBlock, o[0][1]);
    _mm512_storeu_ps(yt + int64_t(y.w) * kBlock, o[1][0]);
    _mm512_storeu_ps(yt + int64_t(y.w + 1) * kBlock, o[1][1]);
    if (pool_y.data) {
      const __m512 top = _mm512_max_ps(o[0][0], o[0][1]), bottom = _mm512_max_ps(o[1][0], o[1][1]);
      _mm512_storeu_ps(pool_y.block(tc.n, ob) + (int64_t(tc.ty) * pool_y.w + tc.tx) * kBlock,
                       _mm512_max_ps(top, bottom));
    }
  }
};

// Backward-data: + dx when accumulating, then the folded ReLU backward (relu_y > 0 ? dx : 0,
// relu_y has its own image stride), into dx.
struct BackwardDataEpilogue {
  bool accumulate;
  TensorArg dx;
  TensorArg relu_y;

  void start_block(int) {}
  void tile(const TileCoord& tc, int ob, __m512 (&o)[2][2]) const {
    float* dxt = dx.block(tc.n, ob) + tile_offset(tc, dx.w);
    const int64_t at[2][2] = {{0, kBlock}, {int64_t(dx.w) * kBlock, int64_t(dx.w + 1) * kBlock}};
    if (accumulate)
      for (int r = 0; r < 2; ++r)
        for (int c = 0; c < 2; ++c) o[r][c] = _mm512_add_ps(o[r][c], _mm512_loadu_ps(dxt + at[r][c]));
    if (relu_y.data) {
      const float* live = relu_y.block(tc.n, ob) + tile_offset(tc, dx.w);
      for (int r = 0; r < 2; ++r)
        for (int c = 0; c < 2; ++c) o[r][c] = _mm512_maskz_mov_ps(relu_live(0xFFFF, live + at[r][c]), o[r][c]);
    }
    for (int r = 0; r < 2; ++r)
      for (int c = 0; c < 2; ++c) _mm512_storeu_ps(dxt + at[r][c], o[r][c]);
  }
};

// Items [begin, end) of the pipeline: `in` the tensor the input transform reads, `load_taps`
// the weights' loader (see transform_weights), `epilogue` the tile's last step.
template <int MaxCin, typename LoadTaps, typename Epilogue>
void run_items_in(const Layout& l, const TensorArg& in, const LoadTaps& load_taps, const Epilogue& epilogue,
                  size_t begin, size_t end) {
  const int cin_blocks = l.cin / kBlock;
  const int64_t v_p_stride = int64_t(l.tb) * l.cin;
  constexpr int64_t m_tile_stride = kPoints * kNr;
  Scratch<MaxCin> s;  // uninitialised: every value read is written first
  int u_group = -1;
  for (size_t item = begin; item < end; ++item) {
    const int g = static_cast<int>(item / l.blocks);
    const int t0 = static_cast<int>(item % l.blocks) * l.tb;
    const int tb = std::min(l.tb, l.tiles - t0);
    if (g != u_group) {
      transform_weights(load_taps, l.cin, g, s.u);
      u_group = g;
    }
    input_transform(l, in, t0, tb, v_p_stride, s.v);
    for (int p = 0; p < kPoints; ++p) {
      const float* up = s.u + int64_t(p) * l.cin * kNr;
      for (int r0 = 0; r0 < tb; r0 += kMr) {
        const VGroup vg = v_group(r0 / kMr, tb, l.cin);
        gemm_table[std::min(kMr, tb - r0) - 1](s.v + p * v_p_stride + vg.base, vg.stride, up, cin_blocks,
                                               s.m + int64_t(r0) * m_tile_stride + p * kNr, m_tile_stride);
      }
    }
    output_transform(l, s.m, epilogue, g, t0, tb);
  }
}

template <typename LoadTaps, typename Epilogue>
void run_items(const Layout& l, const TensorArg& in, const LoadTaps& load_taps, const Epilogue& epilogue, size_t begin,
               size_t end) {
  if (l.cin <= kSmallScratchCin)
    run_items_in<kSmallScratchCin>(l, in, load_taps, epilogue, begin, end);
  else
    run_items_in<kMaxCin>(l, in, load_taps, epilogue, begin, end);
}

void fwd_run_items(const KernelCall& call, size_t begin, size_t end) {
  namespace slots = slot::conv2d_fwd;
  const TensorArg &x = call.t[slots::x], &w = call.t[slots::w], &b = call.t[slots::b], &y = call.t[slots::y];
  const TensorArg& pool_y = call.t[slot::conv2d_fwd::pool_y];
  std::optional<DropoutMask> dropout;
  if (call.i[kAttrFoldedDropout]) dropout.emplace(call, y);
  ForwardEpilogue epilogue{b.data, static_cast<Activation>(call.i[kAttrActivation]) == Activation::relu,
                           dropout ? &*dropout : nullptr, y, pool_y, _mm512_setzero_ps()};
  run_items(layout_of(x, y), x, ForwardTaps{w.data, channel_blocks(w.c)}, epilogue, begin, end);
}

void bwd_data_run_items(const KernelCall& call, size_t begin, size_t end) {
  namespace slots = slot::conv2d_bwd_data;
  const TensorArg &dy = call.t[slots::dy], &w = call.t[slots::w], &dx = call.t[slots::dx];
  BackwardDataEpilogue epilogue{call.i[kAttrAccumulate] != 0, dx, call.t[slot::conv2d_bwd_data::relu_y]};
  run_items(layout_of(dy, dx), dy, BackwardDataTaps{w.data, channel_blocks(w.c)}, epilogue, begin, end);
}

}  // namespace

bool conv3x3_wino_fwd_supports(const KernelCall& call) { return fwd_shape_ok(call); }

size_t conv3x3_wino_fwd_work(const KernelCall& call) {
  const Layout l = layout_of(call.t[slot::conv2d_fwd::x], call.t[slot::conv2d_fwd::y]);
  return size_t(l.groups) * l.blocks;
}

void conv3x3_wino_fwd_run(const KernelCall& call, size_t begin, size_t end) {
  fwd_run_items(call, begin, end);
}

bool conv3x3_wino_bwd_data_supports(const KernelCall& call) { return bwd_data_shape_ok(call); }

size_t conv3x3_wino_bwd_data_work(const KernelCall& call) {
  const Layout l = layout_of(call.t[slot::conv2d_bwd_data::dy], call.t[slot::conv2d_bwd_data::dx]);
  return size_t(l.groups) * l.blocks;
}

void conv3x3_wino_bwd_data_run(const KernelCall& call, size_t begin, size_t end) {
  bwd_data_run_items(call, begin, end);
}

}  // namespace unet::kernels::avx512
