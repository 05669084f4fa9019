// PNG encoding to memory with libpng: what TensorBoard's image summaries carry, and the
// prediction overlays of unetrun --infer --png_dir.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace unet::data {

// An 8-bit grayscale PNG of `height` rows of `width` pixels (row-major, `pixels` holds
// width * height bytes). Throws DataError if libpng fails (out of memory, zero size).
std::string encode_png_gray8(const uint8_t* pixels, uint32_t width, uint32_t height);
// The same for 8-bit RGB: `pixels` holds width * height * 3 bytes, R G B a pixel.
std::string encode_png_rgb8(const uint8_t* pixels, uint32_t width, uint32_t height);

}  // namespace unet::data
