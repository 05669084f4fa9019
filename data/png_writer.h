// PNG encoding to memory with libpng: what TensorBoard's image summaries carry.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace unet::data {

// An 8-bit grayscale PNG of `height` rows of `width` pixels (row-major, `pixels` holds
// width * height bytes). Throws DataError if libpng fails (out of memory, zero size).
std::string encode_png_gray8(const uint8_t* pixels, uint32_t width, uint32_t height);

}  // namespace unet::data
