// Body of the direct 3x3 convolution's backward-weights kernel (stride 1, padding 1, "same"
// output) with the bias gradient, nChw16c activations, OIhw16i16o weight gradient. Included by
// one translation unit per ISA tier, each defining UNET_AVX512_TIER_NS; AVX512F intrinsics only
// (the pass loop is x86-64 assembly of AVX512F instructions).
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
#include "kernels/tensor_arg.h"

namespace unet::kernels::UNET_AVX512_TIER_NS {
namespace {

constexpr int kTaps = 9;
constexpr int kTapFloats = kBlock * kBlock;  // one 16x16 weight tile

// Units are (group of up to 4 dy blocks, x block), each several work items (half passes, see
// bwd_weights_work). A pass holds 24 accumulators in registers (the dw of one vertical tap
// ky, 3 horizontal taps, 2 dy blocks x 4 input lanes or 1 dy block x 8 lanes), sweeps a chunk
// of rows (L1-resident) and adds them back to dw.
constexpr int kMaxWeightBlocks = 4;
constexpr int kPixelsPerChunk = 128;
constexpr int kMaxChunkRows = kPixelsPerChunk / 2;  // the pass loop needs rows of >= 2 pixels
constexpr int kMaxPieceWidth = 2 * kPixelsPerChunk;  // wider rows are cut into column pieces

template <int OB>
constexpr int kLanesPerPass = 24 / (3 * OB);

// One pass, as the pass loop reads it (offsets fixed in the assembly below).
struct PassArgs {
  const float* const* rows;  // per row: x at (row + ky - 1, first pixel), dy at (row, first pixel)
  int64_t nrows;
  int64_t start;  // bytes: 64 when the first pixel is the row's left edge (taps kx = 1, 2 only), else 0
  int64_t pend;   // bytes: start + 128 x the pixel pairs
  int64_t odd;    // one interior pixel after the pairs
  int64_t right;  // the last pixel is the row's right edge (taps kx = 0, 1 only)
  float* dw;      // dw of (first dy block, ky, kx = 0, first lane)
  int64_t dw_ob;  // bytes between the dw of consecutive dy blocks
  int64_t g_blk;  // bytes between consecutive dy blocks (the 9-tap pass: between x rows)
  const float* pf;  // prefetch stream (PF): one line into L2 a pixel pair step, from here on
  int64_t lane;   // bytes: first input lane of the pass
  int64_t g_off;  // bytes: first dy block of the pass from the table's
};
static_assert(offsetof(PassArgs, g_off) == 88, "the pass loop's field offsets");

// The pass loop. Accumulators zmm0..23: acc[o][l][kx] in zmm(o * 12 + l * 3 + kx) (OB = 2,
// 4 lanes) or zmm(l * 3 + kx) (OB = 1, 8 lanes); dy in zmm24..27 (pixel p blocks 0, 1, pixel
// p + 1 blocks 0, 1), broadcasts in zmm28..31. The interior of a row runs two pixels a step:
// their dy vectors are loaded once and each broadcast of the x pixels p - 1 .. p + 2 serves
// every tap of either pixel that reads it (4 broadcasts a lane instead of 6), the loop runs
// ~6 % nearer the FMA peak than one pixel a step. Assembly because GCC, given this loop as
// intrinsics, spills accumulators or copies them between registers (moves that take FMA slots).
// rax: x row, rcx: dy row, rsi: dy row of block 1, rdi: byte offset in the row, r8: row table,
// r9: rows left, r10: prefetch stream, r11: end of the pairs, rdx: scratch.

// Gas macros of one lane, defined and purged inside each asm statement: x of the pixel at
// (%rax,%rdi) + d, dy in zmm24.. . bww_pair: pixels p, p + 1; bww_one: pixel p, the taps kx
// whose flag k0..k2 is set. a00..a12: the lane's accumulators of block 0 / 1, taps kx = 0..2.
#define BWW_LANE_MACROS_OB2                                                              \
  ".macro bww_pair d, a00, a01, a02, a10, a11, a12\n\t"                                  \
  "vbroadcastss \\d-64(%%rax,%%rdi), %%zmm28\n\t"                                        \
  "vfmadd231ps %%zmm28, %%zmm24, \\a00\n\t"                                              \
  "vfmadd231ps %%zmm28, %%zmm25, \\a10\n\t"                                              \
  "vbroadcastss \\d(%%rax,%%rdi), %%zmm29\n\t"                                           \
  "vfmadd231ps %%zmm29, %%zmm24, \\a01\n\t"                                              \
  "vfmadd231ps %%zmm29, %%zmm25, \\a11\n\t"                                              \
  "vfmadd231ps %%zmm29, %%zmm26, \\a00\n\t"                                              \
  "vfmadd231ps %%zmm29, %%zmm27, \\a10\n\t"                                              \
  "vbroadcastss \\d+64(%%rax,%%rdi), %%zmm30\n\t"                                        \
  "vfmadd231ps %%zmm30, %%zmm24, \\a02\n\t"                                              \
  "vfmadd231ps %%zmm30, %%zmm25, \\a12\n\t"                                              \
  "vfmadd231ps %%zmm30, %%zmm26, \\a01\n\t"                                              \
  "vfmadd231ps %%zmm30, %%zmm27, \\a11\n\t"                                              \
  "vbroadcastss \\d+128(%%rax,%%rdi), %%zmm31\n\t"                                       \
  "vfmadd231ps %%zmm31, %%zmm26, \\a02\n\t"                                              \
  "vfmadd231ps %%zmm31, %%zmm27, \\a12\n\t"                                              \
  ".endm\n\t"                                                                            \
  ".macro bww_one k0, k1, k2, d, a00, a01, a02, a10, a11, a12\n\t"                       \
  ".if \\k0\n\t"                                                                         \
  "vbroadcastss \\d-64(%%rax,%%rdi), %%zmm28\n\t"                                        \
  "vfmadd231ps %%zmm28, %%zmm24, \\a00\n\t"                                              \
  "vfmadd231ps %%zmm28, %%zmm25, \\a10\n\t"                                              \
  ".endif\n\t"                                                                           \
  ".if \\k1\n\t"                                                                         \
  "vbroadcastss \\d(%%rax,%%rdi), %%zmm29\n\t"                                           \
  "vfmadd231ps %%zmm29, %%zmm24, \\a01\n\t"                                              \
  "vfmadd231ps %%zmm29, %%zmm25, \\a11\n\t"                                              \
  ".endif\n\t"                                                                           \
  ".if \\k2\n\t"                                                                         \
  "vbroadcastss \\d+64(%%rax,%%rdi), %%zmm30\n\t"                                        \
  "vfmadd231ps %%zmm30, %%zmm24, \\a02\n\t"                                              \
  "vfmadd231ps %%zmm30, %%zmm25, \\a12\n\t"                                              \
  ".endif\n\t"                                                                           \
  ".endm\n\t"                                                                            \
  ".macro bww_load_one\n\t"                                                              \
  "vmovups (%%rcx,%%rdi), %%zmm24\n\t"                                                   \
  "vmovups (%%rsi,%%rdi), %%zmm25\n\t"                                                   \
  ".endm\n\t"                                                                            \
  ".macro bww_load_pair\n\t"                                                             \
  "vmovups (%%rcx,%%rdi), %%zmm24\n\t"                                                   \
  "vmovups (%%rsi,%%rdi), %%zmm25\n\t"                                                   \
  "vmovups 64(%%rcx,%%rdi), %%zmm26\n\t"                                                 \
  "vmovups 64(%%rsi,%%rdi), %%zmm27\n\t"                                                 \
  ".endm\n\t"

#define BWW_LANE_MACROS_OB1                                                              \
  ".macro bww_pair d, a0, a1, a2\n\t"                                                    \
  "vbroadcastss \\d-64(%%rax,%%rdi), %%zmm28\n\t"                                        \
  "vfmadd231ps %%zmm28, %%zmm24, \\a0\n\t"                                               \
  "vbroadcastss \\d(%%rax,%%rdi), %%zmm29\n\t"                                           \
  "vfmadd231ps %%zmm29, %%zmm24, \\a1\n\t"                                               \
  "vfmadd231ps %%zmm29, %%zmm26, \\a0\n\t"                                               \
  "vbroadcastss \\d+64(%%rax,%%rdi), %%zmm30\n\t"                                        \
  "vfmadd231ps %%zmm30, %%zmm24, \\a2\n\t"                                               \
  "vfmadd231ps %%zmm30, %%zmm26, \\a1\n\t"                                               \
  "vbroadcastss \\d+128(%%rax,%%rdi), %%zmm31\n\t"                                       \
  "vfmadd231ps %%zmm31, %%zmm26, \\a2\n\t"                                               \
  ".endm\n\t"                                                                            \
  ".macro bww_one k0, k1, k2, d, a0, a1, a2\n\t"                                         \
  ".if \\k0\n\t"                                                                         \
  "vbroadcastss \\d-64(%%rax,%%rdi), %%zmm28\n\t"                                        \
  "vfmadd231ps %%zmm28, %%zmm24, \\a0\n\t"                                               \
  ".endif\n\t"                                                                           \
  ".if \\k1\n\t"                                                                         \
  "vbroadcastss \\d(%%rax,%%rdi), %%zmm29\n\t"                                           \
  "vfmadd231ps %%zmm29, %%zmm24, \\a1\n\t"                                               \
  ".endif\n\t"                                                                           \
  ".if \\k2\n\t"                                                                         \
  "vbroadcastss \\d+64(%%rax,%%rdi), %%zmm30\n\t"                                        \
  "vfmadd231ps %%zmm30, %%zmm24, \\a2\n\t"                                               \
  ".endif\n\t"                                                                           \
  ".endm\n\t"                                                                            \
  ".macro bww_load_one\n\t"                                                              \
  "vmovups (%%rcx,%%rdi), %%zmm24\n\t"                                                   \
  ".endm\n\t"                                                                            \
  ".macro bww_load_pair\n\t"                                                             \
  "vmovups (%%rcx,%%rdi), %%zmm24\n\t"                                                   \
  "vmovups 64(%%rcx,%%rdi), %%zmm26\n\t"                                                 \
  ".endm\n\t"

// All lanes of the pass: bww_lanes_pair, bww_lanes_one k0, k1, k2.
#define BWW_LANES_OB2 \
  ".macro bww_lanes_pair\n\t" \
  "bww_pair 0, %%zmm0, %%zmm1, %%zmm2, %%zmm12, %%zmm13, %%zmm14\n\t" \
  "bww_pair 4, %%zmm3, %%zmm4, %%zmm5, %%zmm15, %%zmm16, %%zmm17\n\t" \
  "bww_pair 8, %%zmm6, %%zmm7, %%zmm8, %%zmm18, %%zmm19, %%zmm20\n\t" \
  "bww_pair 12, %%zmm9, %%zmm10, %%zmm11, %%zmm21, %%zmm22, %%zmm23\n\t" \
  ".endm\n\t" \
  ".macro bww_lanes_one k0, k1, k2\n\t" \
  "bww_one \\k0, \\k1, \\k2, 0, %%zmm0, %%zmm1, %%zmm2, %%zmm12, %%zmm13, %%zmm14\n\t" \
  "bww_one \\k0, \\k1, \\k2, 4, %%zmm3, %%zmm4, %%zmm5, %%zmm15, %%zmm16, %%zmm17\n\t" \
  "bww_one \\k0, \\k1, \\k2, 8, %%zmm6, %%zmm7, %%zmm8, %%zmm18, %%zmm19, %%zmm20\n\t" \
  "bww_one \\k0, \\k1, \\k2, 12, %%zmm9, %%zmm10, %%zmm11, %%zmm21, %%zmm22, %%zmm23\n\t" \
  ".endm\n\t"

#define BWW_LANES_OB1 \
  ".macro bww_lanes_pair\n\t" \
  "bww_pair 0, %%zmm0, %%zmm1, %%zmm2\n\t" \
  "bww_pair 4, %%zmm3, %%zmm4, %%zmm5\n\t" \
  "bww_pair 8, %%zmm6, %%zmm7, %%zmm8\n\t" \
  "bww_pair 12, %%zmm9, %%zmm10, %%zmm11\n\t" \
  "bww_pair 16, %%zmm12, %%zmm13, %%zmm14\n\t" \
  "bww_pair 20, %%zmm15, %%zmm16, %%zmm17\n\t" \
  "bww_pair 24, %%zmm18, %%zmm19, %%zmm20\n\t" \
  "bww_pair 28, %%zmm21, %%zmm22, %%zmm23\n\t" \
  ".endm\n\t" \
  ".macro bww_lanes_one k0, k1, k2\n\t" \
  "bww_one \\k0, \\k1, \\k2, 0, %%zmm0, %%zmm1, %%zmm2\n\t" \
  "bww_one \\k0, \\k1, \\k2, 4, %%zmm3, %%zmm4, %%zmm5\n\t" \
  "bww_one \\k0, \\k1, \\k2, 8, %%zmm6, %%zmm7, %%zmm8\n\t" \
  "bww_one \\k0, \\k1, \\k2, 12, %%zmm9, %%zmm10, %%zmm11\n\t" \
  "bww_one \\k0, \\k1, \\k2, 16, %%zmm12, %%zmm13, %%zmm14\n\t" \
  "bww_one \\k0, \\k1, \\k2, 20, %%zmm15, %%zmm16, %%zmm17\n\t" \
  "bww_one \\k0, \\k1, \\k2, 24, %%zmm18, %%zmm19, %%zmm20\n\t" \
  "bww_one \\k0, \\k1, \\k2, 28, %%zmm21, %%zmm22, %%zmm23\n\t" \
  ".endm\n\t"

// The lanes of a half pass (the first half of the full pass's).
#define BWW_LANES_OB2_HALF \
  ".macro bww_lanes_pair\n\t" \
  "bww_pair 0, %%zmm0, %%zmm1, %%zmm2, %%zmm12, %%zmm13, %%zmm14\n\t" \
  "bww_pair 4, %%zmm3, %%zmm4, %%zmm5, %%zmm15, %%zmm16, %%zmm17\n\t" \
  ".endm\n\t" \
  ".macro bww_lanes_one k0, k1, k2\n\t" \
  "bww_one \\k0, \\k1, \\k2, 0, %%zmm0, %%zmm1, %%zmm2, %%zmm12, %%zmm13, %%zmm14\n\t" \
  "bww_one \\k0, \\k1, \\k2, 4, %%zmm3, %%zmm4, %%zmm5, %%zmm15, %%zmm16, %%zmm17\n\t" \
  ".endm\n\t"

#define BWW_LANES_OB1_HALF \
  ".macro bww_lanes_pair\n\t" \
  "bww_pair 0, %%zmm0, %%zmm1, %%zmm2\n\t" \
  "bww_pair 4, %%zmm3, %%zmm4, %%zmm5\n\t" \
  "bww_pair 8, %%zmm6, %%zmm7, %%zmm8\n\t" \
  "bww_pair 12, %%zmm9, %%zmm10, %%zmm11\n\t" \
  ".endm\n\t" \
  ".macro bww_lanes_one k0, k1, k2\n\t" \
  "bww_one \\k0, \\k1, \\k2, 0, %%zmm0, %%zmm1, %%zmm2\n\t" \
  "bww_one \\k0, \\k1, \\k2, 4, %%zmm3, %%zmm4, %%zmm5\n\t" \
  "bww_one \\k0, \\k1, \\k2, 8, %%zmm6, %%zmm7, %%zmm8\n\t" \
  "bww_one \\k0, \\k1, \\k2, 12, %%zmm9, %%zmm10, %%zmm11\n\t" \
  ".endm\n\t"

// The accumulators from / to dw at %rdx (dy block 1 at %rdx + %r11). A half pass (half the
// lanes: one item, see bwd_weights_work) has the first half of the full pass's registers.
#define BWW_TILES_LOAD_OB2_HALF \
  "vmovups 0(%%rdx), %%zmm0\n\t" "vmovups 1024(%%rdx), %%zmm1\n\t" "vmovups 2048(%%rdx), %%zmm2\n\t" \
  "vmovups 64(%%rdx), %%zmm3\n\t" "vmovups 1088(%%rdx), %%zmm4\n\t" "vmovups 2112(%%rdx), %%zmm5\n\t" \
  "vmovups 0(%%rdx,%%r11), %%zmm12\n\t" "vmovups 1024(%%rdx,%%r11), %%zmm13\n\t" \
  "vmovups 2048(%%rdx,%%r11), %%zmm14\n\t" \
  "vmovups 64(%%rdx,%%r11), %%zmm15\n\t" "vmovups 1088(%%rdx,%%r11), %%zmm16\n\t" \
  "vmovups 2112(%%rdx,%%r11), %%zmm17\n\t" \

#define BWW_TILES_LOAD_OB2 BWW_TILES_LOAD_OB2_HALF \
  "vmovups 128(%%rdx), %%zmm6\n\t" "vmovups 1152(%%rdx), %%zmm7\n\t" "vmovups 2176(%%rdx), %%zmm8\n\t" \
  "vmovups 192(%%rdx), %%zmm9\n\t" "vmovups 1216(%%rdx), %%zmm10\n\t" "vmovups 2240(%%rdx), %%zmm11\n\t" \
  "vmovups 128(%%rdx,%%r11), %%zmm18\n\t" "vmovups 1152(%%rdx,%%r11), %%zmm19\n\t" \
  "vmovups 2176(%%rdx,%%r11), %%zmm20\n\t" \
  "vmovups 192(%%rdx,%%r11), %%zmm21\n\t" "vmovups 1216(%%rdx,%%r11), %%zmm22\n\t" \
  "vmovups 2240(%%rdx,%%r11), %%zmm23\n\t" \

#define BWW_TILES_LOAD_OB1_HALF \
  "vmovups 0(%%rdx), %%zmm0\n\t" "vmovups 1024(%%rdx), %%zmm1\n\t" "vmovups 2048(%%rdx), %%zmm2\n\t" \
  "vmovups 64(%%rdx), %%zmm3\n\t" "vmovups 1088(%%rdx), %%zmm4\n\t" "vmovups 2112(%%rdx), %%zmm5\n\t" \
  "vmovups 128(%%rdx), %%zmm6\n\t" "vmovups 1152(%%rdx), %%zmm7\n\t" "vmovups 2176(%%rdx), %%zmm8\n\t" \
  "vmovups 192(%%rdx), %%zmm9\n\t" "vmovups 1216(%%rdx), %%zmm10\n\t" "vmovups 2240(%%rdx), %%zmm11\n\t" \

#define BWW_TILES_LOAD_OB1 BWW_TILES_LOAD_OB1_HALF \
  "vmovups 256(%%rdx), %%zmm12\n\t" "vmovups 1280(%%rdx), %%zmm13\n\t" "vmovups 2304(%%rdx), %%zmm14\n\t" \
  "vmovups 320(%%rdx), %%zmm15\n\t" "vmovups 1344(%%rdx), %%zmm16\n\t" "vmovups 2368(%%rdx), %%zmm17\n\t" \
  "vmovups 384(%%rdx), %%zmm18\n\t" "vmovups 1408(%%rdx), %%zmm19\n\t" "vmovups 2432(%%rdx), %%zmm20\n\t" \
  "vmovups 448(%%rdx), %%zmm21\n\t" "vmovups 1472(%%rdx), %%zmm22\n\t" "vmovups 2496(%%rdx), %%zmm23\n\t" \

#define BWW_TILES_STORE_OB2_HALF \
  "vmovups %%zmm0, 0(%%rdx)\n\t" "vmovups %%zmm1, 1024(%%rdx)\n\t" "vmovups %%zmm2, 2048(%%rdx)\n\t" \
  "vmovups %%zmm3, 64(%%rdx)\n\t" "vmovups %%zmm4, 1088(%%rdx)\n\t" "vmovups %%zmm5, 2112(%%rdx)\n\t" \
  "vmovups %%zmm12, 0(%%rdx,%%r11)\n\t" "vmovups %%zmm13, 1024(%%rdx,%%r11)\n\t" \
  "vmovups %%zmm14, 2048(%%rdx,%%r11)\n\t" \
  "vmovups %%zmm15, 64(%%rdx,%%r11)\n\t" "vmovups %%zmm16, 1088(%%rdx,%%r11)\n\t" \
  "vmovups %%zmm17, 2112(%%rdx,%%r11)\n\t" \

#define BWW_TILES_STORE_OB2 BWW_TILES_STORE_OB2_HALF \
  "vmovups %%zmm6, 128(%%rdx)\n\t" "vmovups %%zmm7, 1152(%%rdx)\n\t" "vmovups %%zmm8, 2176(%%rdx)\n\t" \
  "vmovups %%zmm9, 192(%%rdx)\n\t" "vmovups %%zmm10, 1216(%%rdx)\n\t" "vmovups %%zmm11, 2240(%%rdx)\n\t" \
  "vmovups %%zmm18, 128(%%rdx,%%r11)\n\t" "vmovups %%zmm19, 1152(%%rdx,%%r11)\n\t" \
  "vmovups %%zmm20, 2176(%%rdx,%%r11)\n\t" \
  "vmovups %%zmm21, 192(%%rdx,%%r11)\n\t" "vmovups %%zmm22, 1216(%%rdx,%%r11)\n\t" \
  "vmovups %%zmm23, 2240(%%rdx,%%r11)\n\t" \

#define BWW_TILES_STORE_OB1_HALF \
  "vmovups %%zmm0, 0(%%rdx)\n\t" "vmovups %%zmm1, 1024(%%rdx)\n\t" "vmovups %%zmm2, 2048(%%rdx)\n\t" \
  "vmovups %%zmm3, 64(%%rdx)\n\t" "vmovups %%zmm4, 1088(%%rdx)\n\t" "vmovups %%zmm5, 2112(%%rdx)\n\t" \
  "vmovups %%zmm6, 128(%%rdx)\n\t" "vmovups %%zmm7, 1152(%%rdx)\n\t" "vmovups %%zmm8, 2176(%%rdx)\n\t" \
  "vmovups %%zmm9, 192(%%rdx)\n\t" "vmovups %%zmm10, 1216(%%rdx)\n\t" "vmovups %%zmm11, 2240(%%rdx)\n\t" \

#define BWW_TILES_STORE_OB1 BWW_TILES_STORE_OB1_HALF \
  "vmovups %%zmm12, 256(%%rdx)\n\t" "vmovups %%zmm13, 1280(%%rdx)\n\t" "vmovups %%zmm14, 2304(%%rdx)\n\t" \
  "vmovups %%zmm15, 320(%%rdx)\n\t" "vmovups %%zmm16, 1344(%%rdx)\n\t" "vmovups %%zmm17, 2368(%%rdx)\n\t" \
  "vmovups %%zmm18, 384(%%rdx)\n\t" "vmovups %%zmm19, 1408(%%rdx)\n\t" "vmovups %%zmm20, 2432(%%rdx)\n\t" \
  "vmovups %%zmm21, 448(%%rdx)\n\t" "vmovups %%zmm22, 1472(%%rdx)\n\t" "vmovups %%zmm23, 2496(%%rdx)\n\t" \

// The pass (see PassArgs): rows, each its left edge pixel, the pixel pairs, an odd interior
// pixel, its right edge pixel. PREFETCH: the prefetches of a pair step, or nothing.
#define BWW_PASS(LANE_MACROS, LANES, TILES_LOAD, TILES_STORE, PREFETCH)                      \
  LANE_MACROS LANES                                                                        \
  "mov 48(%[a]), %%rdx\n\t"                                                                \
  "mov 56(%[a]), %%r11\n\t" TILES_LOAD                                                     \
  "mov 0(%[a]), %%r8\n\t"                                                                  \
  "mov 8(%[a]), %%r9\n\t"                                                                  \
  "mov 72(%[a]), %%r10\n\t"                                                                \
  "mov 24(%[a]), %%r11\n\t"                                                                \
  "2:\n\t"                                                                                 \
  "mov (%%r8), %%rax\n\t"                                                                  \
  "mov 8(%%r8), %%rcx\n\t"                                                                 \
  "add 80(%[a]), %%rax\n\t"                                                                \
  "add 88(%[a]), %%rcx\n\t"                                                                \
  "mov 64(%[a]), %%rsi\n\t"                                                                \
  "add %%rcx, %%rsi\n\t"                                                                   \
  "xor %%edi, %%edi\n\t"                                                                   \
  "cmpq $0, 16(%[a])\n\t"                                                                  \
  "je 3f\n\t"                                                                              \
  "bww_load_one\n\t"                                                                       \
  "bww_lanes_one 0, 1, 1\n\t"                                                              \
  "mov $64, %%edi\n\t"                                                                     \
  "3:\n\t"                                                                                 \
  "cmp %%r11, %%rdi\n\t"                                                                   \
  "je 5f\n\t"                                                                              \
  "4:\n\t" PREFETCH                                                                        \
  "bww_load_pair\n\t"                                                                      \
  "bww_lanes_pair\n\t"                                                                     \
  "sub $-128, %%rdi\n\t"                                                                   \
  "cmp %%r11, %%rdi\n\t"                                                                   \
  "jne 4b\n\t"                                                                             \
  "5:\n\t"                                                                                 \
  "cmpq $0, 32(%[a])\n\t"                                                                  \
  "je 6f\n\t"                                                                              \
  "bww_load_one\n\t"                                                                       \
  "bww_lanes_one 1, 1, 1\n\t"                                                              \
  "add $64, %%rdi\n\t"                                                                     \
  "6:\n\t"                                                                                 \
  "cmpq $0, 40(%[a])\n\t"                                                                  \
  "je 7f\n\t"                                                                              \
  "bww_load_one\n\t"                                                                       \
  "bww_lanes_one 1, 1, 0\n\t"                                                              \
  "7:\n\t"                                                                                 \
  "add $16, %%r8\n\t"                                                                      \
  "dec %%r9\n\t"                                                                           \
  "jne 2b\n\t"                                                                             \
  "mov 48(%[a]), %%rdx\n\t"                                                                \
  "mov 56(%[a]), %%r11\n\t" TILES_STORE                                                    \
  ".purgem bww_pair\n\t"                                                                   \
  ".purgem bww_one\n\t"                                                                    \
  ".purgem bww_load_one\n\t"                                                               \
  ".purgem bww_load_pair\n\t"                                                              \
  ".purgem bww_lanes_pair\n\t"                                                             \
  ".purgem bww_lanes_one\n\t"

#define BWW_PREFETCH_PAIR "prefetcht1 (%%r10)\n\tadd $64, %%r10\n\t"
#define BWW_PASS_CLOBBERS                                                                        \
  "rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "memory", "cc", "zmm0", "zmm1", "zmm2", \
      "zmm3", "zmm4", "zmm5", "zmm6", "zmm7", "zmm8", "zmm9", "zmm10", "zmm11", "zmm12", "zmm13",    \
      "zmm14", "zmm15", "zmm16", "zmm17", "zmm18", "zmm19", "zmm20", "zmm21", "zmm22", "zmm23",      \
      "zmm24", "zmm25", "zmm26", "zmm27", "zmm28", "zmm29", "zmm30", "zmm31"

// Runs one pass: OB dy blocks (1 or 2), 24 / (3 OB) lanes (HALF: half of them); with PF, the
// prefetch stream. A half pass serves a work item alone when its pass's other half belongs
// to another range; each lane's accumulators take the same FMAs in the same order as in the
// full pass, so dw does not depend on the split.
#define BWW_PASS_ASM(OBV, LANES_SUFFIX, PREFETCH)                                                     \
  asm volatile(BWW_PASS(BWW_LANE_MACROS_##OBV, BWW_LANES_##OBV##LANES_SUFFIX,                           \
                        BWW_TILES_LOAD_##OBV##LANES_SUFFIX, BWW_TILES_STORE_##OBV##LANES_SUFFIX, PREFETCH) \
               : : [a] "r"(&args) : BWW_PASS_CLOBBERS)
template <int OB, bool PF, bool HALF>
void bww_pass(const PassArgs& args) {
  static_assert(OB == 1 || OB == 2, "a pass holds 24 accumulators of 1 or 2 dy blocks");
  if constexpr (OB == 2 && !HALF) {
    if constexpr (PF) BWW_PASS_ASM(OB2, , BWW_PREFETCH_PAIR); else BWW_PASS_ASM(OB2, , "");
  } else if constexpr (OB == 2) {
    if constexpr (PF) BWW_PASS_ASM(OB2, _HALF, BWW_PREFETCH_PAIR); else BWW_PASS_ASM(OB2, _HALF, "");
  } else if constexpr (!HALF) {
    if constexpr (PF) BWW_PASS_ASM(OB1, , BWW_PREFETCH_PAIR); else BWW_PASS_ASM(OB1, , "");
  } else {
    if constexpr (PF) BWW_PASS_ASM(OB1, _HALF, BWW_PREFETCH_PAIR); else BWW_PASS_ASM(OB1, _HALF, "");
  }
}

// The pass of one input lane (images of 1 channel) over rows with all 3 vertical taps: the 9
// taps of one dy block in registers, zmm0..8 (ky * 3 + kx) for the first pixel of a pair and
// zmm9..17 for the second (summed at the end), so every dy vector and x broadcast serves all
// the taps that read it: 18 FMAs a pixel pair instead of 3 passes of 4 lanes, 3 of them zero.
// PassArgs as for the pass above; rows: x at (row - 1, first pixel); g_blk: bytes between
// x rows. rax, rsi, rdx: x rows above, at and below the dy row in rcx.
#define BWW_NINE_MACROS                                                                    \
  ".macro bww_pair9 row, e0, e1, e2, o0, o1, o2\n\t"                                       \
  "vbroadcastss -64(\\row,%%rdi), %%zmm28\n\t"                                             \
  "vfmadd231ps %%zmm28, %%zmm24, \\e0\n\t"                                                 \
  "vbroadcastss (\\row,%%rdi), %%zmm29\n\t"                                                \
  "vfmadd231ps %%zmm29, %%zmm24, \\e1\n\t"                                                 \
  "vfmadd231ps %%zmm29, %%zmm25, \\o0\n\t"                                                 \
  "vbroadcastss 64(\\row,%%rdi), %%zmm30\n\t"                                              \
  "vfmadd231ps %%zmm30, %%zmm24, \\e2\n\t"                                                 \
  "vfmadd231ps %%zmm30, %%zmm25, \\o1\n\t"                                                 \
  "vbroadcastss 128(\\row,%%rdi), %%zmm31\n\t"                                             \
  "vfmadd231ps %%zmm31, %%zmm25, \\o2\n\t"                                                 \
  ".endm\n\t"                                                                              \
  ".macro bww_one9 k0, k1, k2, row, e0, e1, e2\n\t"                                        \
  ".if \\k0\n\t"                                                                           \
  "vbroadcastss -64(\\row,%%rdi), %%zmm28\n\t"                                             \
  "vfmadd231ps %%zmm28, %%zmm24, \\e0\n\t"                                                 \
  ".endif\n\t"                                                                             \
  ".if \\k1\n\t"                                                                           \
  "vbroadcastss (\\row,%%rdi), %%zmm29\n\t"                                                \
  "vfmadd231ps %%zmm29, %%zmm24, \\e1\n\t"                                                 \
  ".endif\n\t"                                                                             \
  ".if \\k2\n\t"                                                                           \
  "vbroadcastss 64(\\row,%%rdi), %%zmm30\n\t"                                              \
  "vfmadd231ps %%zmm30, %%zmm24, \\e2\n\t"                                                 \
  ".endif\n\t"                                                                             \
  ".endm\n\t"                                                                              \
  ".macro bww_step9_one k0, k1, k2\n\t"                                                    \
  "vmovups (%%rcx,%%rdi), %%zmm24\n\t"                                                     \
  "bww_one9 \\k0, \\k1, \\k2, %%rax, %%zmm0, %%zmm1, %%zmm2\n\t"                           \
  "bww_one9 \\k0, \\k1, \\k2, %%rsi, %%zmm3, %%zmm4, %%zmm5\n\t"                           \
  "bww_one9 \\k0, \\k1, \\k2, %%rdx, %%zmm6, %%zmm7, %%zmm8\n\t"                           \
  ".endm\n\t"

// The first pixel's accumulators from dw at %r10, the second's zeroed; their sum back to dw.
#define BWW_NINE_TILES_LOAD \
  "vmovups 0(%%r10), %%zmm0\n\t" "vpxord %%zmm9, %%zmm9, %%zmm9\n\t" \
  "vmovups 1024(%%r10), %%zmm1\n\t" "vpxord %%zmm10, %%zmm10, %%zmm10\n\t" \
  "vmovups 2048(%%r10), %%zmm2\n\t" "vpxord %%zmm11, %%zmm11, %%zmm11\n\t" \
  "vmovups 3072(%%r10), %%zmm3\n\t" "vpxord %%zmm12, %%zmm12, %%zmm12\n\t" \
  "vmovups 4096(%%r10), %%zmm4\n\t" "vpxord %%zmm13, %%zmm13, %%zmm13\n\t" \
  "vmovups 5120(%%r10), %%zmm5\n\t" "vpxord %%zmm14, %%zmm14, %%zmm14\n\t" \
  "vmovups 6144(%%r10), %%zmm6\n\t" "vpxord %%zmm15, %%zmm15, %%zmm15\n\t" \
  "vmovups 7168(%%r10), %%zmm7\n\t" "vpxord %%zmm16, %%zmm16, %%zmm16\n\t" \
  "vmovups 8192(%%r10), %%zmm8\n\t" "vpxord %%zmm17, %%zmm17, %%zmm17\n\t"
#define BWW_NINE_TILES_STORE \
  "vaddps %%zmm9, %%zmm0, %%zmm0\n\t" "vmovups %%zmm0, 0(%%r10)\n\t" \
  "vaddps %%zmm10, %%zmm1, %%zmm1\n\t" "vmovups %%zmm1, 1024(%%r10)\n\t" \
  "vaddps %%zmm11, %%zmm2, %%zmm2\n\t" "vmovups %%zmm2, 2048(%%r10)\n\t" \
  "vaddps %%zmm12, %%zmm3, %%zmm3\n\t" "vmovups %%zmm3, 3072(%%r10)\n\t" \
  "vaddps %%zmm13, %%zmm4, %%zmm4\n\t" "vmovups %%zmm4, 4096(%%r10)\n\t" \
  "vaddps %%zmm14, %%zmm5, %%zmm5\n\t" "vmovups %%zmm5, 5120(%%r10)\n\t" \
  "vaddps %%zmm15, %%zmm6, %%zmm6\n\t" "vmovups %%zmm6, 6144(%%r10)\n\t" \
  "vaddps %%zmm16, %%zmm7, %%zmm7\n\t" "vmovups %%zmm7, 7168(%%r10)\n\t" \
  "vaddps %%zmm17, %%zmm8, %%zmm8\n\t" "vmovups %%zmm8, 8192(%%r10)\n\t"

#define BWW_NINE_PASS                                                                      \
  BWW_NINE_MACROS                                                                          \
  "mov 48(%[a]), %%r10\n\t" BWW_NINE_TILES_LOAD \
  "mov 0(%[a]), %%r8\n\t"                                                                  \
  "mov 8(%[a]), %%r9\n\t"                                                                  \
  "mov 24(%[a]), %%r11\n\t"                                                                \
  "2:\n\t"                                                                                 \
  "mov (%%r8), %%rax\n\t"                                                                  \
  "mov 8(%%r8), %%rcx\n\t"                                                                 \
  "add 80(%[a]), %%rax\n\t"                                                                \
  "add 88(%[a]), %%rcx\n\t"                                                                \
  "mov 64(%[a]), %%rsi\n\t"                                                                \
  "lea (%%rax,%%rsi,2), %%rdx\n\t"                                                         \
  "add %%rax, %%rsi\n\t"                                                                   \
  "xor %%edi, %%edi\n\t"                                                                   \
  "cmpq $0, 16(%[a])\n\t"                                                                  \
  "je 3f\n\t"                                                                              \
  "bww_step9_one 0, 1, 1\n\t"                                                              \
  "mov $64, %%edi\n\t"                                                                     \
  "3:\n\t"                                                                                 \
  "cmp %%r11, %%rdi\n\t"                                                                   \
  "je 5f\n\t"                                                                              \
  "4:\n\t"                                                                                 \
  "vmovups (%%rcx,%%rdi), %%zmm24\n\t"                                                     \
  "vmovups 64(%%rcx,%%rdi), %%zmm25\n\t"                                                   \
  "bww_pair9 %%rax, %%zmm0, %%zmm1, %%zmm2, %%zmm9, %%zmm10, %%zmm11\n\t"                  \
  "bww_pair9 %%rsi, %%zmm3, %%zmm4, %%zmm5, %%zmm12, %%zmm13, %%zmm14\n\t"                 \
  "bww_pair9 %%rdx, %%zmm6, %%zmm7, %%zmm8, %%zmm15, %%zmm16, %%zmm17\n\t"                 \
  "sub $-128, %%rdi\n\t"                                                                   \
  "cmp %%r11, %%rdi\n\t"                                                                   \
  "jne 4b\n\t"                                                                             \
  "5:\n\t"                                                                                 \
  "cmpq $0, 32(%[a])\n\t"                                                                  \
  "je 6f\n\t"                                                                              \
  "bww_step9_one 1, 1, 1\n\t"                                                              \
  "add $64, %%rdi\n\t"                                                                     \
  "6:\n\t"                                                                                 \
  "cmpq $0, 40(%[a])\n\t"                                                                  \
  "je 7f\n\t"                                                                              \
  "bww_step9_one 1, 1, 0\n\t"                                                              \
  "7:\n\t"                                                                                 \
  "add $16, %%r8\n\t"                                                                      \
  "dec %%r9\n\t"                                                                           \
  "jne 2b\n\t"                                                                             \
  "mov 48(%[a]), %%r10\n\t" BWW_NINE_TILES_STORE \
  ".purgem bww_pair9\n\t"                                                                  \
  ".purgem bww_one9\n\t"                                                                   \
  ".purgem bww_step9_one\n\t"

void bww_pass9(const PassArgs& args) { asm volatile(BWW_NINE_PASS : : [a] "r"(&args) : BWW_PASS_CLOBBERS); }

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
  const TensorArg &x = call.t[0], &w = call.t[2], &dy = call.t[1];
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
  const TensorArg &x = call.t[0], &dy = call.t[1], &dw = call.t[2], &db = call.t[3];
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
  const TensorArg &x = call.t[0], &dy = call.t[1], &dw = call.t[2], &db = call.t[3];
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

bool conv3x3_bwd_weights_supports(const KernelCall& call) { return covered(call.t[0], call.t[2], call.t[1], call); }
size_t conv3x3_bwd_weights_work(const KernelCall& call) { return bwd_weights_work(call); }
void conv3x3_bwd_weights_run(const KernelCall& call, size_t begin, size_t end) {
  bwd_weights_run(call, begin, end);
}

}  // namespace unet::kernels::UNET_AVX512_TIER_NS
