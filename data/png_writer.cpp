#include "data/png_writer.h"

#include <csetjmp>
#include <new>

#include <fmt/format.h>
#include <png.h>

#include "data/data_error.h"

namespace unet::data {
namespace {

struct Sink {
  std::string* out;
  bool out_of_memory = false;
};

void append_bytes(png_structp png, png_bytep data, png_size_t n) {
  auto* sink = static_cast<Sink*>(png_get_io_ptr(png));
  try {
    sink->out->append(reinterpret_cast<const char*>(data), n);
  } catch (const std::bad_alloc&) {
    sink->out_of_memory = true;
  }
  // libpng reports errors by longjmp; leave the catch block before jumping out of this frame.
  if (sink->out_of_memory) png_error(png, "out of memory");
}

void flush_nothing(png_structp) {}

// libpng's error path is a longjmp back to the setjmp below, so this function holds nothing
// that needs a destructor: the output lives in the caller's string.
bool encode(png_structp png, png_infop info, const uint8_t* pixels, uint32_t width, uint32_t height, int channels,
            Sink* sink) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_set_write_fn(png, sink, append_bytes, flush_nothing);
  png_set_IHDR(png, info, width, height, 8, channels == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY,
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (uint32_t y = 0; y < height; ++y) png_write_row(png, pixels + static_cast<size_t>(y) * width * channels);
  png_write_end(png, info);
  return true;
}

std::string encode_png(const uint8_t* pixels, uint32_t width, uint32_t height, int channels) {
  if (width == 0 || height == 0) throw DataError(fmt::format("PNG of {}x{} pixels: an image needs both", width, height));
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  if (!png) throw DataError("PNG: libpng could not start (out of memory)");
  png_infop info = png_create_info_struct(png);
  if (!info) {
    png_destroy_write_struct(&png, nullptr);
    throw DataError("PNG: libpng could not start (out of memory)");
  }
  std::string out;
  Sink sink{&out};
  const bool ok = encode(png, info, pixels, width, height, channels, &sink);
  png_destroy_write_struct(&png, &info);
  if (!ok) throw DataError(fmt::format("PNG of {}x{} pixels: libpng failed{}", width, height,
                                       sink.out_of_memory ? " (out of memory)" : ""));
  return out;
}

}  // namespace

std::string encode_png_gray8(const uint8_t* pixels, uint32_t width, uint32_t height) {
  return encode_png(pixels, width, height, 1);
}

std::string encode_png_rgb8(const uint8_t* pixels, uint32_t width, uint32_t height) {
  return encode_png(pixels, width, height, 3);
}

}  // namespace unet::data
