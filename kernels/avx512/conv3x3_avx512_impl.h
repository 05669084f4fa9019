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
#include <optional>
#include <cstddef>
#include <cstdint>
#include <utility>

#include "kernels/avx512/avx512_kernels.h"
#include "kernels/family_signature.h"
#include "kernels/kernel_call.h"
#include "kernels/kernel_family.h"
#include "kernels/tensor_arg.h"
#include "kernels/avx512/conv3x3_shape_avx512_impl.h"
#include "kernels/avx512/dropout_avx512_simd.h"

namespace unet::kernels::UNET_AVX512_TIER_NS {
namespace {

constexpr int kTaps = 9;
constexpr int kTapFloats = kBlock * kBlock;  // one 16x16 weight tile
constexpr int kMaxPixels = 12;               // widest row segment of a register tile
constexpr int kMaxChannelBlocks = 2;         // output blocks of a register tile (fwd, bwd-data)
constexpr int kMaxTileRows = 6;              // (input block, ky) rows of one tile call
// Pixels a work item aims for. Forward: small, because planes of 2^k pixels put the same
// pixel of every row and block in one L1 set: an item must touch few rows at a time.
// Backward-data transposes its weights per item and pass: 1024 pixels spread that cost
// (36 16x16 transposes against 1024 x 2 x 9 x 16 x 2 FMAs: under 1 %). Re-measured with the
// 2x12 tile in the 2-thread training step (forward 128, 256; backward 512, 2048): no
// difference above the noise.
constexpr int kForwardPixelsPerItem = 64;
constexpr int kBackwardPixelsPerItem = 1024;
// Forward: input blocks per sweep of an item's rows (their weights, 36 KB, stay in L1).
// One a sweep (18 KB) was slower on every layer, in bench_kernels and in the training step.
constexpr int kForwardBlocksPerPass = 2;

// ---------------------------------------------------------------------------------------------
// How a forward / backward-data call is cut into items: (image group, channel group, row group).
// Wide images give each item a band of rows of one image; small ones give it whole images.

struct Split {
  int images, rows;                   // per item
  int image_groups, channel_groups, row_groups;
  size_t items() const { return size_t(image_groups) * channel_groups * row_groups; }
};

// rows_multiple: a band's rows are a multiple of it (2: a folded max-pool's rows pair up
// within an item).
Split split_of(int n, int h, int w, int channel_groups, int pixels, int rows_multiple = 1) {
  Split s{};
  s.rows = std::clamp(pixels / w, 1, h);
  s.rows = std::min(h, (s.rows + rows_multiple - 1) / rows_multiple * rows_multiple);
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

// The memory the next unit of work (an item's pass: its new input rows, its weights when they
// change, its output and relu_y rows) reads, prefetched into L2 while the current unit runs,
// spread evenly over it: each row of a tile's list takes a chunk of the stream and its lane
// steps prefetch 1, 2 or 4 lines each, the fewest that cover the next unit's lines in the
// current unit's steps. In the training step a layer's tensors come from memory (they are far
// larger than L2): without software prefetch the 1-thread step's forward 3x3 ops took 0.84 s
// instead of 0.56 s. At a higher rate than needed (4 lines a step throughout) the requests
// hold the fill buffers that the tiles' own loads need: the 2-thread step's 3x3 ops were
// 1-2 % slower.
struct PrefetchRange {
  const char* p;       // first line
  int64_t lines;       // contiguous lines per piece
  int64_t pieces;      // pieces, `stride` bytes apart (one per image of an item)
  int64_t stride;
};
class PrefetchStream {
 public:
  static constexpr int kMaxRanges = 8;
  static constexpr int kStepsPerChunk = 4;  // lane steps of a 16-lane row of a tile
  void clear() { n_ = i_ = 0, left_ = 0, pieces_left_ = 0, total_ = 0, step_lines_ = 1; }
  // Adds `lines` lines from p, then the same at p + stride, ... (`pieces` in all).
  void add(const void* p, int64_t lines, int64_t pieces = 1, int64_t stride = 0) {
    if (n_ < kMaxRanges && lines > 0 && pieces > 0) {
      r_[n_++] = {static_cast<const char*>(p), lines, pieces, stride};
      total_ += lines * pieces;
    }
  }
  // The rate: lines per lane step that cover the stream in `steps` lane steps (at most 4;
  // a longer stream is cut short).
  void spread_over(int64_t steps) {
    const int64_t need = (total_ + std::max<int64_t>(steps, 1) - 1) / std::max<int64_t>(steps, 1);
    step_lines_ = need <= 1 ? 1 : need <= 2 ? 2 : 4;
  }
  int64_t step_bytes() const { return step_lines_ * 64; }
  // The next chunk (its end may run past the range's: harmless), or nullptr when all are
  // handed out.
  const char* next() {
    while (left_ <= 0) {
      if (pieces_left_ > 0) {
        piece_ += r_[i_ - 1].stride;
        cur_ = piece_;
        left_ = r_[i_ - 1].lines;
        --pieces_left_;
      } else if (i_ < n_) {
        piece_ = cur_ = r_[i_].p;
        left_ = r_[i_].lines;
        pieces_left_ = r_[i_].pieces - 1;
        ++i_;
      } else {
        return nullptr;
      }
    }
    const char* chunk = cur_;
    cur_ += kStepsPerChunk * step_bytes();
    left_ -= kStepsPerChunk * step_lines_;
    return chunk;
  }

 private:
  PrefetchRange r_[kMaxRanges];
  int n_ = 0, i_ = 0;
  const char* piece_ = nullptr;
  const char* cur_ = nullptr;
  int64_t left_ = 0, pieces_left_ = 0, total_ = 0, step_lines_ = 1;
};

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
  // What the next unit of work (item and pass) reads, prefetched into L2 while this one runs.
  PrefetchStream* prefetch;
  Activation act;
  __mmask16 lanes[kMaxChannelBlocks];  // real lanes of each output block
};

// The sums of a tile, one asm statement (GCC, given this loop as intrinsics, copies
// accumulators between registers or reloads broadcasts: moves and loads that take FMA slots).
// Accumulators: output block o, pixel p in zmm(12 o + p); weights of tap kx for block o in
// zmm(24 + 2 kx + o); broadcasts in zmm30 / zmm31. Per input lane the loop loads the 3 x OCB
// weight vectors once and broadcasts each input pixel q (-1 .. NP) once, for every tap that
// reads it (output pixels q + 1, q, q - 1): NP + 2 broadcasts and 3 x OCB loads per
// 3 x OCB x NP FMAs. Loads cost FMA slots on this core even when the load ports are free
// (measured: a 2x8 lane loop runs at 0.94 of peak with its 16 loads, 0.99 without the 10
// broadcasts), so the tile is as wide as the registers allow: 2 x 12 (loads / FMA 0.28
// against 0.33 for 2 x 8).
//
// Rows: a list of (input row of one block and tap row ky, its weights, input lanes); the
// loop takes 4 lanes a step when all 16 are real, else one.
struct TileRow {
  const float* in;  // input at (block, row y + ky - 1, pixel x0), lane 0
  const float* w;   // weights of (output block 0, input block, ky, kx = 0), lane 0
  int64_t lanes;
  const char* pf;   // lines to prefetch into L2 while this row runs (16 lanes only)
};
// How the accumulators start: zero, the bias (16 lanes per block) or the values in out.
enum class TileStart : int64_t { zero = 0, bias = 1, out = 2 };
struct TileRows {
  const TileRow* rows;
  int64_t count;
  int64_t w_ob;     // bytes between the weights of output blocks 0 and 1
  const float* start_from;  // bias of output block 0, or out at pixel 0 of block 0
  int64_t out_blk;  // bytes between the output blocks of out
  TileStart start;
  int64_t pf_step;  // bytes prefetched a lane step: 64, 128 or 256
};
static_assert(sizeof(TileRow) == 32 && offsetof(TileRows, pf_step) == 48, "the tile loop's offsets");

// Broadcast of input pixel q (a literal) and its FMAs: output pixel q + 1 (tap kx = 0,
// accumulators a0 / b0 of blocks 0 / 1), q (kx = 1: a1 / b1), q - 1 (kx = 2: a2 / b2); a pixel
// of the left / right neighbour segment only where the tile does not start / end at the
// image border. ct_fma emits nothing for output pixels outside the tile.
#define CT_PIXEL(q, br, a0, b0, a1, b1, a2, b2)                                            \
  ".if (" #q " <= .Lct_np) && ((" #q " >= 0) || (.Lct_l == 0)) && ((" #q " < .Lct_np) || (.Lct_r == 0))\n\t" \
  "vbroadcastss (" #q ")*64+\\l*4(%%rdi), %%zmm" #br "\n\t"                                \
  "ct_fma (" #q ")+1, " #br ", 24, 25, " #a0 ", " #b0 "\n\t"                                \
  "ct_fma (" #q "), " #br ", 26, 27, " #a1 ", " #b1 "\n\t"                                  \
  "ct_fma (" #q ")-1, " #br ", 28, 29, " #a2 ", " #b2 "\n\t"                                \
  ".endif\n\t"

// "<m> p, p + 12" for the pixels p of a tile (register pairs of output blocks 0 and 1).
#define CT_PAIRS(m)                                                                        \
  m "0, 12\n\t" m "1, 13\n\t" m "2, 14\n\t" m "3, 15\n\t" m "4, 16\n\t" m "5, 17\n\t"      \
  m "6, 18\n\t" m "7, 19\n\t" m "8, 20\n\t" m "9, 21\n\t" m "10, 22\n\t" m "11, 23\n\t"

#define CT_LOOP                                                                            \
  ".macro ct_fma p, x, wa, wb, a, b\n\t"                                                   \
  ".if (\\p >= 0) && (\\p < .Lct_np)\n\t"                                                  \
  "vfmadd231ps %%zmm\\x, %%zmm\\wa, %%zmm\\a\n\t"                                          \
  ".if .Lct_ocb == 2\n\t"                                                                  \
  "vfmadd231ps %%zmm\\x, %%zmm\\wb, %%zmm\\b\n\t"                                          \
  ".endif\n\t"                                                                             \
  ".endif\n\t"                                                                             \
  ".endm\n\t"                                                                              \
  ".macro ct_lane l\n\t"                                                                   \
  "vmovups \\l*64(%%rsi), %%zmm24\n\t"                                                     \
  "vmovups \\l*64+1024(%%rsi), %%zmm26\n\t"                                                \
  "vmovups \\l*64+2048(%%rsi), %%zmm28\n\t"                                                \
  ".if .Lct_ocb == 2\n\t"                                                                  \
  "vmovups \\l*64(%%rsi,%%rdx), %%zmm25\n\t"                                               \
  "vmovups \\l*64+1024(%%rsi,%%rdx), %%zmm27\n\t"                                          \
  "vmovups \\l*64+2048(%%rsi,%%rdx), %%zmm29\n\t"                                          \
  ".endif\n\t"                                                                             \
  CT_PIXEL(-1, 30, 0, 12, 0, 12, 0, 12)                                                    \
  CT_PIXEL(0, 31, 1, 13, 0, 12, 0, 12)                                                     \
  CT_PIXEL(1, 30, 2, 14, 1, 13, 0, 12)                                                     \
  CT_PIXEL(2, 31, 3, 15, 2, 14, 1, 13)                                                     \
  CT_PIXEL(3, 30, 4, 16, 3, 15, 2, 14)                                                     \
  CT_PIXEL(4, 31, 5, 17, 4, 16, 3, 15)                                                     \
  CT_PIXEL(5, 30, 6, 18, 5, 17, 4, 16)                                                     \
  CT_PIXEL(6, 31, 7, 19, 6, 18, 5, 17)                                                     \
  CT_PIXEL(7, 30, 8, 20, 7, 19, 6, 18)                                                     \
  CT_PIXEL(8, 31, 9, 21, 8, 20, 7, 19)                                                     \
  CT_PIXEL(9, 30, 10, 22, 9, 21, 8, 20)                                                    \
  CT_PIXEL(10, 31, 11, 23, 10, 22, 9, 21)                                                  \
  CT_PIXEL(11, 30, 11, 23, 11, 23, 10, 22)                                                 \
  CT_PIXEL(12, 31, 11, 23, 11, 23, 11, 23)                                                 \
  ".endm\n\t"                                                                              \
  ".macro ct_start_out p\n\t"                                                              \
  ".if \\p < .Lct_np\n\t"                                                                     \
  "vmovups \\p*64(%%rax), %%zmm\\p\n\t"                                                      \
  ".endif\n\t"                                                                             \
  ".endm\n\t"                                                                              \
  ".macro ct_start_out1 p, q\n\t"                                                          \
  ".if (.Lct_ocb == 2) && (\\p < .Lct_np)\n\t"                                                \
  "vmovups \\p*64(%%rax,%%r10), %%zmm\\q\n\t"                                                \
  ".endif\n\t"                                                                             \
  ".endm\n\t"                                                                              \
  ".macro ct_copy from, p, q\n\t"                                                          \
  ".if \\p < .Lct_np\n\t"                                                                     \
  "vmovaps %%zmm\\from, %%zmm\\q\n\t"                                                        \
  ".endif\n\t"                                                                             \
  ".endm\n\t"                                                                              \
  ".macro ct_zero p, q\n\t"                                                                \
  ".if \\p < .Lct_np\n\t"                                                                     \
  "vpxord %%zmm\\q, %%zmm\\q, %%zmm\\q\n\t"                                                  \
  ".endif\n\t"                                                                             \
  ".endm\n\t"                                                                              \
  "mov 24(%[t]), %%rax\n\t"                                                                \
  "mov 32(%[t]), %%r10\n\t"                                                                \
  "mov 40(%[t]), %%r11\n\t"                                                                \
  "cmp $1, %%r11\n\t"                                                                      \
  "je 6f\n\t"                                                                              \
  "jb 7f\n\t"                                                                              \
  ".irp p, 0,1,2,3,4,5,6,7,8,9,10,11\n\t"                                                  \
  "ct_start_out \\p\n\t"                                                                     \
  ".endr\n\t"                                                                              \
  CT_PAIRS("ct_start_out1 ")                                                               \
  "jmp 8f\n\t"                                                                             \
  "6:\n\t"                                                                                 \
  "vmovups (%%rax), %%zmm0\n\t"                                                            \
  ".irp p, 1,2,3,4,5,6,7,8,9,10,11\n\t"                                                    \
  "ct_copy 0, \\p, \\p\n\t"                                                                  \
  ".endr\n\t"                                                                              \
  ".if .Lct_ocb == 2\n\t"                                                                  \
  "vmovups 64(%%rax), %%zmm12\n\t"                                                         \
  CT_PAIRS("ct_copy 12, ")                                                                 \
  ".endif\n\t"                                                                             \
  "jmp 8f\n\t"                                                                             \
  "7:\n\t"                                                                                 \
  ".irp p, 0,1,2,3,4,5,6,7,8,9,10,11\n\t"                                                  \
  "ct_zero \\p, \\p\n\t"                                                                     \
  ".endr\n\t"                                                                              \
  ".if .Lct_ocb == 2\n\t"                                                                  \
  CT_PAIRS("ct_zero ")                                                                     \
  ".endif\n\t"                                                                             \
  "8:\n\t"                                                                                 \
  "mov 16(%[t]), %%rdx\n\t"                                                                \
  "mov 48(%[t]), %%r11\n\t"                                                                \
  "mov 0(%[t]), %%r8\n\t"                                                                  \
  "mov 8(%[t]), %%r9\n\t"                                                                  \
  "1:\n\t"                                                                                 \
  "mov 0(%%r8), %%rdi\n\t"                                                                 \
  "mov 8(%%r8), %%rsi\n\t"                                                                 \
  "mov 16(%%r8), %%rcx\n\t"                                                                \
  "mov 24(%%r8), %%r10\n\t"                                                                \
  "cmp $16, %%rcx\n\t"                                                                     \
  "jne 3f\n\t"                                                                             \
  "mov $4, %%ecx\n\t"                                                                      \
  "2:\n\t"                                                                                 \
  "ct_lane 0\n\t"                                                                          \
  "ct_lane 1\n\t"                                                                          \
  "ct_lane 2\n\t"                                                                          \
  "ct_lane 3\n\t"                                                                          \
  "prefetcht1 (%%r10)\n\t"                                                                 \
  "cmp $64, %%r11\n\t"                                                                     \
  "je 5f\n\t"                                                                              \
  "prefetcht1 64(%%r10)\n\t"                                                               \
  "cmp $128, %%r11\n\t"                                                                    \
  "je 5f\n\t"                                                                              \
  "prefetcht1 128(%%r10)\n\t"                                                              \
  "prefetcht1 192(%%r10)\n\t"                                                              \
  "5:\n\t"                                                                                 \
  "add %%r11, %%r10\n\t"                                                                   \
  "add $16, %%rdi\n\t"                                                                     \
  "add $256, %%rsi\n\t"                                                                    \
  "dec %%ecx\n\t"                                                                          \
  "jnz 2b\n\t"                                                                             \
  "jmp 4f\n\t"                                                                             \
  "3:\n\t"                                                                                 \
  "ct_lane 0\n\t"                                                                          \
  "add $4, %%rdi\n\t"                                                                      \
  "add $64, %%rsi\n\t"                                                                     \
  "dec %%ecx\n\t"                                                                          \
  "jnz 3b\n\t"                                                                             \
  "4:\n\t"                                                                                 \
  "add $32, %%r8\n\t"                                                                      \
  "dec %%r9\n\t"                                                                           \
  "jnz 1b\n\t"                                                                             \
  ".purgem ct_lane\n\t"                                                                    \
  ".purgem ct_fma\n\t"                                                                     \
  ".purgem ct_start_out\n\t"                                                               \
  ".purgem ct_start_out1\n\t"                                                              \
  ".purgem ct_copy\n\t"                                                                    \
  ".purgem ct_zero\n\t"

#define CT_ACC(i) register __m512 z##i asm("zmm" #i)
#define CT_OUT(i) acc[i / kMaxPixels][i % kMaxPixels] = z##i

template <int OCB, int NP, bool L, bool R>
void conv_tile(const TileArgs& a) {
  static_assert(OCB <= kMaxChannelBlocks && NP <= kMaxPixels, "the tile loop's registers");
  TileRow rows[kMaxTileRows];
  int count = 0;
  for (int b = 0; b < a.blocks; ++b) {
    const int lanes = b + 1 == a.blocks ? a.last_lanes : kBlock;
    for (int ky = 0; ky < 3; ++ky) {
      if (!((a.row_taps >> ky) & 1u)) continue;
      const float* w = a.w + b * a.w_ib + ky * 3 * kTapFloats;
      // Rows with nothing left to prefetch prefetch their own weights (in L1: no request).
      const char* pf = a.prefetch ? a.prefetch->next() : nullptr;
      rows[count++] = {a.in + b * a.in_blk + (ky - 1) * a.in_row, w, lanes,
                       pf ? pf : reinterpret_cast<const char*>(w)};
    }
  }
  const TileRows t{rows,
                   count,
                   a.w_ob * int64_t(sizeof(float)),
                   a.load_out ? a.out : a.bias,
                   a.out_blk * int64_t(sizeof(float)),
                   a.load_out ? TileStart::out : a.bias ? TileStart::bias : TileStart::zero,
                   a.prefetch ? a.prefetch->step_bytes() : 64};
  CT_ACC(0); CT_ACC(1); CT_ACC(2); CT_ACC(3); CT_ACC(4); CT_ACC(5);
  CT_ACC(6); CT_ACC(7); CT_ACC(8); CT_ACC(9); CT_ACC(10); CT_ACC(11);
  CT_ACC(12); CT_ACC(13); CT_ACC(14); CT_ACC(15); CT_ACC(16); CT_ACC(17);
  CT_ACC(18); CT_ACC(19); CT_ACC(20); CT_ACC(21); CT_ACC(22); CT_ACC(23);
  asm volatile(
      ".set .Lct_np, %c[np]\n\t"
      ".set .Lct_ocb, %c[ocb]\n\t"
      ".set .Lct_l, %c[l]\n\t"
      ".set .Lct_r, %c[r]\n\t"
      CT_LOOP
      : "=v"(z0), "=v"(z1), "=v"(z2), "=v"(z3), "=v"(z4), "=v"(z5), "=v"(z6), "=v"(z7),
        "=v"(z8), "=v"(z9), "=v"(z10), "=v"(z11), "=v"(z12), "=v"(z13), "=v"(z14), "=v"(z15),
        "=v"(z16), "=v"(z17), "=v"(z18), "=v"(z19), "=v"(z20), "=v"(z21), "=v"(z22), "=v"(z23)
      : [t] "r"(&t), [np] "i"(NP), [ocb] "i"(OCB), [l] "i"(L ? 1 : 0), [r] "i"(R ? 1 : 0)
      : "rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "cc", "memory", "xmm24", "xmm25", "xmm26",
        "xmm27", "xmm28", "xmm29", "xmm30", "xmm31");
  // The tile's accumulators as the asm statement leaves them (the others: undefined).
  __m512 acc[kMaxChannelBlocks][kMaxPixels];
  CT_OUT(0); CT_OUT(1); CT_OUT(2); CT_OUT(3); CT_OUT(4); CT_OUT(5);
  CT_OUT(6); CT_OUT(7); CT_OUT(8); CT_OUT(9); CT_OUT(10); CT_OUT(11);
  CT_OUT(12); CT_OUT(13); CT_OUT(14); CT_OUT(15); CT_OUT(16); CT_OUT(17);
  CT_OUT(18); CT_OUT(19); CT_OUT(20); CT_OUT(21); CT_OUT(22); CT_OUT(23);
#pragma GCC unroll 4
  for (int o = 0; o < OCB; ++o) {
    float* op = a.out + o * a.out_blk;
    if (a.relu_y) {
      const float* rp = a.relu_y + o * a.out_blk;
#pragma GCC unroll 16
      for (int p = 0; p < NP; ++p)
        _mm512_storeu_ps(op + p * kBlock, _mm512_maskz_mov_ps(relu_live(a.lanes[o], rp + p * kBlock), acc[o][p]));
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

#undef CT_ACC
#undef CT_OUT
#undef CT_LOOP
#undef CT_PIXEL
#undef CT_PAIRS

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
  for (int y = y0; y < y1; ++y) {
    a.row_taps = (y > 0 ? 1u : 0u) | 2u | (y + 1 < h ? 4u : 0u);
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

// With a folded max-pool (pool_y), an item's rows come in pairs, pooled once its last pass
// has written them (still in L1 / L2).
Split forward_split(const KernelCall& call) {
  const TensorArg& y = call.t[slot::conv2d_fwd::y];
  const bool pool = call.t[slot::conv2d_fwd::pool_y].data != nullptr;
  const int groups = (channel_blocks(y.c) + kMaxChannelBlocks - 1) / kMaxChannelBlocks;
  return split_of(y.n, y.h, y.w, groups, kForwardPixelsPerItem, pool ? kFoldedPoolWindow : 1);
}

size_t fwd_work(const KernelCall& call) {
  return forward_split(call).items();
}

// Adds to pf the rows [y0, y1) of channel block cb of images [n0, n1) of t (one piece an image).
void add_rows(PrefetchStream& pf, const TensorArg& t, int cb, int n0, int n1, int y0, int y1) {
  if (y0 >= y1 || n0 >= n1) return;
  pf.add(t.block(n0, cb) + int64_t(y0) * t.w * kBlock, int64_t(y1 - y0) * t.w, n1 - n0,
         t.image_stride * int64_t(sizeof(float)));
}

// Lane steps of the tile loop in a unit of `blocks` input blocks over item c (edge rows
// counted as inner ones).
int64_t lane_steps(const ItemCoords& c, int w, int blocks) {
  const int64_t tiles = int64_t(c.n1 - c.n0) * (c.y1 - c.y0) * ((w + kMaxPixels - 1) / kMaxPixels);
  return tiles * 3 * blocks * PrefetchStream::kStepsPerChunk;
}

// Input rows [lo, hi) that a unit over item rows [c.y0, c.y1) reads, less those the unit
// before it (`prev`, same images and blocks, the rows just above) has brought in.
std::pair<int, int> new_input_rows(const ItemCoords& c, const ItemCoords* prev, int h) {
  int lo = std::max(0, c.y0 - 1);
  const int hi = std::min(h, c.y1 + 1);
  if (prev && prev->n0 == c.n0 && prev->n1 == c.n1 && prev->y1 == c.y0) lo = std::max(lo, prev->y1 + 1);
  return {lo, hi};
}

void fwd_run(const KernelCall& call, size_t begin, size_t end) {
  namespace slots = slot::conv2d_fwd;
  const TensorArg &x = call.t[slots::x], &w = call.t[slots::w], &b = call.t[slots::b], &y = call.t[slots::y];
  const TensorArg& pool_y = call.t[slot::conv2d_fwd::pool_y];
  std::optional<DropoutMask> dropout;
  if (call.i[kAttrFoldedDropout]) dropout.emplace(call, y);
  const int obs = channel_blocks(y.c), ibs = channel_blocks(x.c);
  const Split s = forward_split(call);
  const int blocks_per_pass = kForwardBlocksPerPass;
  static_assert(3 * kMaxChannelBlocks <= kMaxTileRows, "a pass's tile rows");
  const int64_t plane = int64_t(y.h) * y.w * kBlock;
  const int64_t w_block_lines = int64_t(kTaps) * kTapFloats * sizeof(float) / 64;
  PrefetchStream pf;
  for (size_t item = begin; item < end; ++item) {
    const ItemCoords c = coords_of(s, item, y.n, y.h);
    const int ob = c.cg * kMaxChannelBlocks, ocb = std::min(kMaxChannelBlocks, obs - ob);
    TileArgs a{};
    a.in_row = int64_t(x.w) * kBlock;
    a.in_blk = plane;
    a.w_ob = int64_t(ibs) * kTaps * kTapFloats;
    a.w_ib = kTaps * kTapFloats;
    a.out_blk = plane;
    a.prefetch = &pf;
    const Activation act = static_cast<Activation>(call.i[kAttrActivation]);
    const float* bias = b.data ? b.data + ob * kBlock : nullptr;
    for (int o = 0; o < ocb; ++o) a.lanes[o] = real_lanes(ob + o, y.c);
    // Input blocks in chunks whose weights stay in L1 while the tiles sweep the item's rows.
    for (int b0 = 0; b0 < ibs; b0 += blocks_per_pass) {
      a.blocks = std::min(blocks_per_pass, ibs - b0);
      a.last_lanes = b0 + a.blocks == ibs ? x.c - (ibs - 1) * kBlock : kBlock;
      a.w = w.data + (int64_t(ob) * ibs + b0) * kTaps * kTapFloats;
      a.load_out = b0 > 0;
      a.bias = b0 == 0 ? bias : nullptr;
      a.act = b0 + a.blocks == ibs ? act : Activation::none;
      // The next unit: this item's next pass, else the next item's first.
      pf.clear();
      const bool next_pass = b0 + blocks_per_pass < ibs;
      if (next_pass || item + 1 < end) {
        const ItemCoords nc = next_pass ? c : coords_of(s, item + 1, y.n, y.h);
        const int nb0 = next_pass ? b0 + blocks_per_pass : 0;
        const int nblocks = std::min(blocks_per_pass, ibs - nb0);
        const int nob = nc.cg * kMaxChannelBlocks, nocb = std::min(kMaxChannelBlocks, obs - nob);
        const bool same_data = nb0 == b0;  // the next item's rows under this one's
        const auto [lo, hi] = next_pass ? new_input_rows(nc, nullptr, y.h)
                                        : new_input_rows(nc, same_data ? &c : nullptr, y.h);
        for (int i = 0; i < nblocks; ++i) add_rows(pf, x, nb0 + i, nc.n0, nc.n1, lo, hi);
        if (nb0 != b0 || nob != ob)
          for (int o = 0; o < nocb; ++o)
            pf.add(w.data + (int64_t(nob + o) * ibs + nb0) * kTaps * kTapFloats, nblocks * w_block_lines);
        if (nb0 == 0)  // fresh output: the stores' lines, owned before they are written
          for (int o = 0; o < nocb; ++o) add_rows(pf, y, nob + o, nc.n0, nc.n1, nc.y0, nc.y1);
        pf.spread_over(lane_steps(c, y.w, a.blocks));
      }
      for (int n = c.n0; n < c.n1; ++n) {
        a.in = x.block(n, b0);
        a.out = y.block(n, ob);
        conv_rows(a, ocb, y.h, y.w, c.y0, c.y1);
      }
    }
    if (dropout)  // the item's rows, still in cache, in place
      for (int n = c.n0; n < c.n1; ++n)
        for (int o = 0; o < ocb; ++o)
          for (int r = c.y0; r < c.y1; ++r) {
            float* row = y.block(n, ob + o) + int64_t(r) * y.w * kBlock;
            dropout->row(n, ob + o, r, row, row, nullptr, false);
          }
    if (pool_y.data)  // the item's rows pair up (forward_split): c.y0 is even
      for (int n = c.n0; n < c.n1; ++n)
        for (int o = 0; o < ocb; ++o)
          max_pool_rows(y.block(n, ob + o), y.w, pool_y.block(n, ob + o), pool_y.w, c.y0 / 2,
                        std::min(c.y1 / 2, pool_y.h), kFoldedPoolWindow, kFoldedPoolWindow, real_lanes(ob + o, y.c));
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
  const TensorArg& dx = call.t[slot::conv2d_bwd_data::dx];
  const int groups = (channel_blocks(dx.c) + kMaxChannelBlocks - 1) / kMaxChannelBlocks;
  return split_of(dx.n, dx.h, dx.w, groups, kBackwardPixelsPerItem).items();
}

// dy blocks summed per sweep of an item's rows: two halve the partial sums stored and
// reloaded; their transposed weights (36 KB) still leave L1 room for the rows.
constexpr int kDyBlocksPerPass = 2;

void bwd_data_run(const KernelCall& call, size_t begin, size_t end) {
  namespace slots = slot::conv2d_bwd_data;
  const TensorArg &dy = call.t[slots::dy], &w = call.t[slots::w], &dx = call.t[slots::dx];
  const TensorArg& relu_y = call.t[slot::conv2d_bwd_data::relu_y];
  const int obs = channel_blocks(dy.c), ibs = channel_blocks(dx.c);
  const Split s = split_of(dx.n, dx.h, dx.w, (ibs + kMaxChannelBlocks - 1) / kMaxChannelBlocks,
                           kBackwardPixelsPerItem);
  static_assert(3 * kDyBlocksPerPass <= kMaxTileRows, "a pass's tile rows");
  const int64_t plane = int64_t(dx.h) * dx.w * kBlock;
  const int64_t w_block_lines = int64_t(kTaps) * kTapFloats * sizeof(float) / 64;
  const bool accumulate = call.i[kAttrAccumulate] != 0;
  const int per_pass = kDyBlocksPerPass;
  // [dx block of the group][dy block of the pass][tap][dy lane][16 dx lanes].
  alignas(64) float wt[kMaxChannelBlocks * kDyBlocksPerPass * kTaps * kTapFloats];
  PrefetchStream pf;
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
    a.prefetch = &pf;
    for (int o = 0; o < icb; ++o) a.lanes[o] = real_lanes(ib + o, dx.c);
    for (int ob = 0; ob < obs; ob += per_pass) {
      a.blocks = std::min(per_pass, obs - ob);
      for (int o = 0; o < icb; ++o)
        for (int b = 0; b < a.blocks; ++b)
          for (int t = 0; t < kTaps; ++t)
            transpose16(w.data + ((int64_t(ob + b) * ibs + ib + o) * kTaps + (kTaps - 1 - t)) * kTapFloats,
                        wt + ((o * kDyBlocksPerPass + b) * kTaps + t) * kTapFloats);
      a.load_out = accumulate || ob > 0;
      a.last_lanes = std::min(kBlock, dy.c - (ob + a.blocks - 1) * kBlock);
      const bool last_pass = ob + a.blocks == obs;
      // The next unit: this item's next pass, else the next item's first.
      pf.clear();
      const bool next_pass = !last_pass;
      if (next_pass || item + 1 < end) {
        const ItemCoords nc = next_pass ? c : coords_of(s, item + 1, dx.n, dx.h);
        const int nob = next_pass ? ob + per_pass : 0;
        const int nblocks = std::min(per_pass, obs - nob);
        const int nib = nc.cg * kMaxChannelBlocks, nicb = std::min(kMaxChannelBlocks, ibs - nib);
        const auto [lo, hi] = new_input_rows(nc, !next_pass && nob == ob ? &c : nullptr, dx.h);
        for (int i = 0; i < nblocks; ++i) add_rows(pf, dy, nob + i, nc.n0, nc.n1, lo, hi);
        if (nob != ob || nib != ib)  // the weight tiles the next pass transposes
          for (int i = 0; i < nblocks; ++i)
            pf.add(w.data + (int64_t(nob + i) * ibs + nib) * kTaps * kTapFloats, nicb * w_block_lines);
        if (nob == 0)  // dx: read (accumulate) or owned before it is written
          for (int o = 0; o < nicb; ++o) add_rows(pf, dx, nib + o, nc.n0, nc.n1, nc.y0, nc.y1);
        if (nob + nblocks == obs && relu_y.data)  // read by the next unit's last stores
          for (int o = 0; o < nicb; ++o) add_rows(pf, relu_y, nib + o, nc.n0, nc.n1, nc.y0, nc.y1);
        pf.spread_over(lane_steps(c, dx.w, a.blocks));
      }
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

bool conv3x3_fwd_supports(const KernelCall& call) {
  return is_same_3x3(call.t[slot::conv2d_fwd::x], call.t[slot::conv2d_fwd::w], call.t[slot::conv2d_fwd::y], call);
}
bool conv3x3_bwd_data_supports(const KernelCall& call) {
  return is_same_3x3(call.t[slot::conv2d_bwd_data::dy], call.t[slot::conv2d_bwd_data::w],
                     call.t[slot::conv2d_bwd_data::dx], call);
}
size_t conv3x3_fwd_work(const KernelCall& call) { return fwd_work(call); }
void conv3x3_fwd_run(const KernelCall& call, size_t begin, size_t end) { fwd_run(call, begin, end); }
size_t conv3x3_bwd_data_work(const KernelCall& call) { return bwd_data_work(call); }
void conv3x3_bwd_data_run(const KernelCall& call, size_t begin, size_t end) {
  bwd_data_run(call, begin, end);
}

}  // namespace unet::kernels::UNET_AVX512_TIER_NS
