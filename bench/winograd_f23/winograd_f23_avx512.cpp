// Winograd F(2x2,3x3) forward convolution, one thread, AVX-512 (see the header).
//
// Per block of TB output tiles (tiles numbered across the whole batch, row-major in each image):
//   1. input transform  V = B^T d B  of every tile and input channel
//        V[point][TB/14 groups][C_in/16][14][16]
//   2. 16 GEMMs, one per Winograd point:  M_p[tile][C_out] = V_p[tile][C_in] . U_p[C_in][C_out]
//        M[C_out/32][TB][point][32]
//   3. output transform  y = A^T M A + bias, ReLU, straight into nChw16c.
// The GEMM's register tile is 14 tiles x 32 output channels (28 accumulators): per input channel
// 2 loads of U and 14 broadcasts of V feed 28 FMAs. Measured alone with its data in L1 it runs at
// ~0.85 of the FMA peak (16 loads per 28 FMAs; on this core loads take FMA slots, see
// kernels/avx512/conv3x3_avx512_impl.h); 6x4 and 12x2 tiles measured no better.
// Layout choices:
//   V puts the 16 channels of one tile together so a broadcast walks them in order, and a
//   register tile's 14 tiles x C_in in one contiguous run.
//   U is [point][C_out/32][C_in][32]: one (point, 32-channel) panel is contiguous, read in order.
//   M keeps a tile's 16 points together (the output transform reads them as one 2 KB run).
// Tried and dropped (no gain above the noise): software prefetch of x and y a few tiles ahead,
// an unmasked-load path for interior tiles, the GEMM loop with register tiles outside the
// output-channel panels (U_p then streams once per register tile: 2x slower at 512 channels).
#include "bench/winograd_f23/winograd_f23_avx512.h"

#include <immintrin.h>
#include <x86intrin.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

namespace unet::bench::wino {
namespace {

constexpr int kB = 16;      // channels per nChw16c block
constexpr int kNr = 32;     // output channels of the GEMM register tile
constexpr int kMr = 14;     // tiles of the GEMM register tile
constexpr int kPoints = 16;

// ---------------------------------------------------------------------------------------------
// GEMM micro-kernel: R tiles x 32 output channels over all input channels of one point.
//   v: V_p at the first tile (v[cbi * v_cb_stride + r * 16 + c])
//   u: the (point, 32-channel) panel, u[cin * 32 + o]
//   m: M at (first tile, point), m[r * m_tile_stride + o]
template <int R>
inline void gemm_tile(const float* __restrict v, int64_t v_cb_stride, const float* __restrict u,
                      int cin_blocks, float* __restrict m, int64_t m_tile_stride) {
  __m512 acc0[R], acc1[R];
#pragma GCC unroll 14
  for (int r = 0; r < R; ++r) acc0[r] = acc1[r] = _mm512_setzero_ps();
  for (int cb = 0; cb < cin_blocks; ++cb) {
    const float* vb = v + cb * v_cb_stride;
    const float* ub = u + cb * kB * kNr;
#pragma GCC unroll 16
    for (int c = 0; c < kB; ++c) {
      const __m512 u0 = _mm512_load_ps(ub + c * kNr);
      const __m512 u1 = _mm512_load_ps(ub + c * kNr + 16);
#pragma GCC unroll 14
      for (int r = 0; r < R; ++r) {
        const __m512 b = _mm512_set1_ps(vb[r * kB + c]);
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
// gemm_table[R - 1]: the tail of a tile block narrower than 14 tiles gets its own unrolled tile.
constexpr auto gemm_table = make_gemm_table(std::make_integer_sequence<int, kMr>{});

// ---------------------------------------------------------------------------------------------
// Tile numbering: t -> (image, tile row, tile column).
struct TileCoord {
  int n, ty, tx;
};
inline TileCoord tile_coord(int t, int tiles_w, int tiles_per_image) {
  const int n = t / tiles_per_image;
  const int r = t - n * tiles_per_image;
  return {n, r / tiles_w, r % tiles_w};
}

// Where tile i of a block (tb tiles) lies in V, per point: V_p is cut into groups of kMr
// tiles (the GEMM's register tile), each [C_in/16][rows][16], so a register tile reads one
// contiguous run (the L2 prefetcher follows it) rather than C_in/16 runs a block apart.
struct VGroup {
  int64_t base;    // floats from V_p's start to the group
  int64_t stride;  // floats between the group's channel blocks (rows * 16)
};
inline VGroup v_group(int g, int tb, int cin) {
  const int rows = std::min(kMr, tb - g * kMr);
  return {int64_t(g) * kMr * cin, int64_t(rows) * kB};
}

// Input transform of tiles [t0, t0 + tb) into V (p stride: tb_cap * C_in).
void input_transform(const ConvShape& s, const float* x, int t0, int tb, int tb_cap, float* v) {
  const int tiles_w = s.w / 2, tiles_per_image = tiles_w * (s.h / 2);
  const int cin_blocks = s.cin / kB;
  const int64_t plane = int64_t(s.h) * s.w * kB;
  const int64_t p_stride = int64_t(tb_cap) * s.cin;
  for (int cb = 0; cb < cin_blocks; ++cb) {
    TileCoord tc = tile_coord(t0, tiles_w, tiles_per_image);
    for (int i = 0; i < tb; ++i) {
      const float* xb = x + tc.n * s.x_image_stride + cb * plane;
      const int y0 = 2 * tc.ty - 1, x0 = 2 * tc.tx - 1;
      // Out-of-image rows and columns load as zero through an empty mask (a masked-off lane
      // never faults), so border tiles take the same straight-line path as interior ones.
      __mmask16 colmask[4];
      for (int j = 0; j < 4; ++j) colmask[j] = (x0 + j >= 0 && x0 + j < s.w) ? 0xFFFF : 0;
      __m512 d[4][4];
      for (int r = 0; r < 4; ++r) {
        const bool row_ok = y0 + r >= 0 && y0 + r < s.h;
        const float* row = xb + (int64_t(y0 + r) * s.w + x0) * kB;
        for (int j = 0; j < 4; ++j)
          d[r][j] = _mm512_maskz_loadu_ps(row_ok ? colmask[j] : __mmask16(0), row + j * kB);
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
      const VGroup g = v_group(i / kMr, tb, s.cin);
      float* vt = v + g.base + cb * g.stride + (i % kMr) * kB;
      for (int r = 0; r < 4; ++r) {
        _mm512_store_ps(vt + (r * 4 + 0) * p_stride, _mm512_sub_ps(t[r][0], t[r][2]));
        _mm512_store_ps(vt + (r * 4 + 1) * p_stride, _mm512_add_ps(t[r][1], t[r][2]));
        _mm512_store_ps(vt + (r * 4 + 2) * p_stride, _mm512_sub_ps(t[r][2], t[r][1]));
        _mm512_store_ps(vt + (r * 4 + 3) * p_stride, _mm512_sub_ps(t[r][1], t[r][3]));
      }
      if (++tc.tx == tiles_w) {
        tc.tx = 0;
        if (++tc.ty == s.h / 2) {
          tc.ty = 0;
          ++tc.n;
        }
      }
    }
  }
}

// Output transform of tiles [t0, t0 + tb) from M, + bias, ReLU, into y.
void output_transform(const ConvShape& s, const float* m, const float* bias, float* y, bool relu,
                      int t0, int tb, int tb_cap) {
  const int tiles_w = s.w / 2, tiles_per_image = tiles_w * (s.h / 2);
  const int64_t plane = int64_t(s.h) * s.w * kB;
  const __m512 zero = _mm512_setzero_ps();
  for (int ob = 0; ob < s.cout / kNr; ++ob) {
    const float* mob = m + int64_t(ob) * tb_cap * kPoints * kNr;
    for (int half = 0; half < 2; ++half) {
      const __m512 b = _mm512_loadu_ps(bias + ob * kNr + half * 16);
      TileCoord tc = tile_coord(t0, tiles_w, tiles_per_image);
      for (int i = 0; i < tb; ++i) {
        const float* mt = mob + int64_t(i) * kPoints * kNr + half * 16;
        __m512 q[4][4];
        for (int p = 0; p < 16; ++p) q[p / 4][p % 4] = _mm512_load_ps(mt + p * kNr);
        // A^T q: rows.
        __m512 r0[4], r1[4];
        for (int j = 0; j < 4; ++j) {
          r0[j] = _mm512_add_ps(_mm512_add_ps(q[0][j], q[1][j]), q[2][j]);
          r1[j] = _mm512_sub_ps(_mm512_sub_ps(q[1][j], q[2][j]), q[3][j]);
        }
        // (A^T q) A: columns, + bias.
        __m512 o[2][2];
        o[0][0] = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(r0[0], r0[1]), r0[2]), b);
        o[0][1] = _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(r0[1], r0[2]), r0[3]), b);
        o[1][0] = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(r1[0], r1[1]), r1[2]), b);
        o[1][1] = _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(r1[1], r1[2]), r1[3]), b);
        float* yb = y + tc.n * s.y_image_stride + (ob * 2 + half) * plane +
                    (int64_t(2 * tc.ty) * s.w + 2 * tc.tx) * kB;
        for (int r = 0; r < 2; ++r)
          for (int c = 0; c < 2; ++c) {
            const __m512 val = relu ? _mm512_max_ps(o[r][c], zero) : o[r][c];
            _mm512_storeu_ps(yb + (int64_t(r) * s.w + c) * kB, val);
          }
        if (++tc.tx == tiles_w) {
          tc.tx = 0;
          if (++tc.ty == s.h / 2) {
            tc.ty = 0;
            ++tc.n;
          }
        }
      }
    }
  }
}

int total_tiles(const ConvShape& s) { return s.n * (s.h / 2) * (s.w / 2); }

}  // namespace

bool supports(const ConvShape& s) {
  return s.cin % kB == 0 && s.cout % kNr == 0 && s.h % 2 == 0 && s.w % 2 == 0 && s.n > 0;
}

size_t transformed_weight_floats(const ConvShape& s) { return size_t(kPoints) * s.cin * s.cout; }

void transform_weights(const ConvShape& s, const float* w, float* u) {
  // OIhw16i16o holds 16 output channels of one (input channel, tap) in a vector, and U holds
  // them contiguously too: 9 loads, the transform on 16 output channels at once, 16 stores.
  const int cib = s.cin / kB, cob32 = s.cout / kNr;
  const __m512 half = _mm512_set1_ps(0.5f);
  for (int ob = 0; ob < s.cout / kB; ++ob)
    for (int i = 0; i < s.cin; ++i) {
      const float* wi = w + (int64_t(ob) * cib + i / kB) * 9 * 256 + (i % kB) * kB;
      __m512 g[3][3];
      for (int k = 0; k < 9; ++k) g[k / 3][k % 3] = _mm512_loadu_ps(wi + k * 256);
      // G g, G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1]: rows.
      __m512 a[4][3];
      for (int k = 0; k < 3; ++k) {
        const __m512 sum02 = _mm512_add_ps(g[0][k], g[2][k]);
        a[0][k] = g[0][k];
        a[1][k] = _mm512_mul_ps(half, _mm512_add_ps(sum02, g[1][k]));
        a[2][k] = _mm512_mul_ps(half, _mm512_sub_ps(sum02, g[1][k]));
        a[3][k] = g[2][k];
      }
      // (G g) G^T: columns, stored at U[p][o / 32][i][o % 32].
      float* ui = u + (int64_t(ob / 2) * s.cin + i) * kNr + (ob % 2) * kB;
      const int64_t p_stride = int64_t(cob32) * s.cin * kNr;
      for (int r = 0; r < 4; ++r) {
        const __m512 sum02 = _mm512_add_ps(a[r][0], a[r][2]);
        _mm512_store_ps(ui + (r * 4 + 0) * p_stride, a[r][0]);
        _mm512_store_ps(ui + (r * 4 + 1) * p_stride, _mm512_mul_ps(half, _mm512_add_ps(sum02, a[r][1])));
        _mm512_store_ps(ui + (r * 4 + 2) * p_stride, _mm512_mul_ps(half, _mm512_sub_ps(sum02, a[r][1])));
        _mm512_store_ps(ui + (r * 4 + 3) * p_stride, a[r][2]);
      }
    }
}

int default_tile_block(const ConvShape& s) {
  // A block re-reads all of U (64 C_in C_out bytes) from L2 or L3, so a block takes about one
  // tile per 48 KB of U; small blocks otherwise, so that a block's V and M stay near L1
  // (measured with --sweep: 14 tiles best up to 64 channels, 28 at 128, 56-112 at 256, the
  // whole batch of 128 at 512).
  const int64_t u_bytes = int64_t(64) * s.cin * s.cout;
  const int64_t want = (u_bytes + 48 * 1024 - 1) / (48 * 1024);
  const int tb = int(std::max<int64_t>(1, (want + kMr - 1) / kMr)) * kMr;
  return std::min(tb, total_tiles(s));
}

size_t scratch_floats(const ConvShape& s, int tb) {
  return size_t(kPoints) * tb * (s.cin + s.cout);  // V, then M
}

void conv_fwd(const ConvShape& s, const float* x, const float* u, const float* bias, float* y,
              bool relu, int tb_cap, float* scratch, PhaseCycles* phases) {
  if (tb_cap <= 0) tb_cap = default_tile_block(s);
  const int cin_blocks = s.cin / kB, cob32 = s.cout / kNr;
  float* v = scratch;
  float* m = scratch + size_t(kPoints) * tb_cap * s.cin;
  const int64_t v_p_stride = int64_t(tb_cap) * s.cin;
  const int64_t m_tile_stride = kPoints * kNr;
  const int tiles = total_tiles(s);
  for (int t0 = 0; t0 < tiles; t0 += tb_cap) {
    const int tb = std::min(tb_cap, tiles - t0);
    unsigned long long c0 = phases ? __rdtsc() : 0;
    input_transform(s, x, t0, tb, tb_cap, v);
    unsigned long long c1 = phases ? __rdtsc() : 0;
    for (int p = 0; p < kPoints; ++p)
      for (int ob = 0; ob < cob32; ++ob) {
        // U_(p, ob), C_in x 32, is reused by every register tile of the block: with a block of
        // many tiles, U (16 C_in C_out floats, up to 16 MB) streams from L3 once a block.
        const float* up = u + (int64_t(p) * cob32 + ob) * s.cin * kNr;
        float* mp = m + int64_t(ob) * tb_cap * m_tile_stride + p * kNr;
        for (int r0 = 0; r0 < tb; r0 += kMr) {
          const VGroup g = v_group(r0 / kMr, tb, s.cin);
          gemm_table[std::min(kMr, tb - r0) - 1](v + p * v_p_stride + g.base, g.stride, up, cin_blocks,
                                                 mp + int64_t(r0) * m_tile_stride, m_tile_stride);
        }
      }
    unsigned long long c2 = phases ? __rdtsc() : 0;
    output_transform(s, m, bias, y, relu, t0, tb, tb_cap);
    if (phases) {
      const unsigned long long c3 = __rdtsc();
      phases->input += c1 - c0;
      phases->gemm += c2 - c1;
      phases->output += c3 - c2;
    }
  }
}

}  // namespace unet::bench::wino
