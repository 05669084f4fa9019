// A prototype Winograd F(2x2,3x3) forward convolution (stride 1, pad 1, "same" output, bias,
// optional ReLU) on nChw16c activations, one thread, AVX-512: a feasibility measurement against
// the direct 3x3 kernel, not a registry kernel. Shapes: see supports().
#pragma once
#include <cstddef>
#include <cstdint>

namespace unet::bench::wino {

struct ConvShape {
  int n, cin, cout, h, w;
  int64_t x_image_stride, y_image_stride;  // floats between images (nChw16c)
};

// C_in a multiple of 16, C_out of 32 (the GEMM's register tile is 32 output channels wide),
// H and W even.
bool supports(const ConvShape& s);

// U = G g G^T of every (out, in) pair, from OIhw16i16o weights, laid out for the GEMM:
// U[point][C_out/32][C_in][32]. 16 * C_in * C_out floats.
size_t transformed_weight_floats(const ConvShape& s);
void transform_weights(const ConvShape& s, const float* w_oihw16i16o, float* u);

// Tiles per block (the unit of fusion: input transform, 16 GEMMs, output transform), chosen
// from the shape when 0 is passed; scratch_floats() sizes the work buffer for it.
int default_tile_block(const ConvShape& s);
size_t scratch_floats(const ConvShape& s, int tile_block);

// Time stamp counter cycles of each phase, summed over calls (for finding the limit).
struct PhaseCycles {
  unsigned long long input = 0, gemm = 0, output = 0;
};

// y = relu?(conv3x3(x, w) + b), with u from transform_weights. scratch: 64-byte aligned.
// With `phases`, each phase of each block is timed (a few ns a block).
void conv_fwd(const ConvShape& s, const float* x, const float* u, const float* bias, float* y,
              bool relu, int tile_block, float* scratch, PhaseCycles* phases = nullptr);

}  // namespace unet::bench::wino
