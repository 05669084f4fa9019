// The register tile of the direct 3x3 backward-weights kernel: one pass of 24 accumulators
// over a chunk of rows, in x86-64 assembly of AVX512F instructions (PassArgs says what it
// reads), and the 9-tap pass of one-channel images. The driver that splits the work and feeds
// it passes is conv3x3_bwd_weights_avx512_impl.h, which includes this once per ISA tier.
#ifndef UNET_AVX512_TIER_NS
#error "define UNET_AVX512_TIER_NS before including conv3x3_bwd_weights_pass_avx512_impl.h"
#endif

#include <cstddef>
#include <cstdint>

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
// The assembly reads each field at a fixed offset from the struct's address: every one of
// them is pinned here, so a reordered or retyped field fails to compile instead of running.
static_assert(offsetof(PassArgs, rows) == 0, "the pass loop's field offsets");
static_assert(offsetof(PassArgs, nrows) == 8, "the pass loop's field offsets");
static_assert(offsetof(PassArgs, start) == 16, "the pass loop's field offsets");
static_assert(offsetof(PassArgs, pend) == 24, "the pass loop's field offsets");
static_assert(offsetof(PassArgs, odd) == 32, "the pass loop's field offsets");
static_assert(offsetof(PassArgs, right) == 40, "the pass loop's field offsets");
static_assert(offsetof(PassArgs, dw) == 48, "the pass loop's field offsets");
static_assert(offsetof(PassArgs, dw_ob) == 56, "the pass loop's field offsets");
static_assert(offsetof(PassArgs, g_blk) == 64, "the pass loop's field offsets");
static_assert(offsetof(PassArgs, pf) == 72, "the pass loop's field offsets");
static_assert(offsetof(PassArgs, lane) == 80, "the pass loop's field offsets");
static_assert(offsetof(PassArgs, g_off) == 88, "the pass loop's field offsets");
static_assert(sizeof(PassArgs) == 96, "the pass loop's field offsets");

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

}  // namespace
}  // namespace unet::kernels::UNET_AVX512_TIER_NS
