#include "data/overlay_image.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "data/bitmap_font.h"
#include "data/data_error.h"

namespace unet::data {

uint8_t grey_level(float v, float lo, float hi) {
  if (!(hi > lo) || !std::isfinite(v)) return 0;
  const float x = (v - lo) / (hi - lo) * 255.0f;
  return static_cast<uint8_t>(std::clamp(std::lround(x), 0L, 255L));
}

std::pair<float, float> grey_window(const float* image, size_t pixels) {
  std::vector<float> v;
  v.reserve(pixels);
  for (size_t k = 0; k < pixels; ++k)
    if (std::isfinite(image[k])) v.push_back(image[k]);
  if (v.empty()) return {0.f, 0.f};
  // A few outliers (a bright vessel, dark speckle) would otherwise squeeze the brain into a
  // handful of grey levels: the window drops the extreme 1 % at each end, as viewers do.
  const size_t low = (v.size() - 1) / 100, high = v.size() - 1 - low;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(low), v.end());
  const float lo = v[low];
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(high), v.end());
  const float hi = v[high];
  if (hi > lo) return {lo, hi};
  // A nearly flat slice: its whole range, so what does vary still shows.
  const auto [mn, mx] = std::minmax_element(v.begin(), v.end());
  return {*mn, *mx};
}

std::string dice_label(double dice) {
  return std::isnan(dice) ? "Dice: n/a" : fmt::format("Dice: {:.3f}", dice);
}

RgbImage render_overlay(const float* image, const float* truth, const float* prediction, uint32_t width,
                        uint32_t height, double dice, const OverlayStyle& style) {
  if (width == 0 || height == 0) throw DataError(fmt::format("overlay of {}x{} pixels: an image needs both", width, height));
  if (style.scale < 1 || style.scale > 64) throw DataError(fmt::format("overlay scale {}: must be 1 to 64", style.scale));
  const uint32_t s = static_cast<uint32_t>(style.scale);
  const size_t pixels = static_cast<size_t>(width) * height;
  const auto [lo, hi] = grey_window(image, pixels);

  RgbImage out;
  out.width = width * s;
  out.height = height * s;
  out.pixels.resize(static_cast<size_t>(out.width) * out.height * 3);
  // Tumour at output resolution: the input pixel under it.
  auto truth_at = [&](int64_t x, int64_t y) {
    if (x < 0 || y < 0 || x >= out.width || y >= out.height) return false;
    return truth[static_cast<size_t>(y / s) * width + static_cast<size_t>(x / s)] >= 0.5f;
  };
  const float a = std::clamp(style.fill_alpha, 0.0f, 1.0f);
  for (uint32_t y = 0; y < out.height; ++y)
    for (uint32_t x = 0; x < out.width; ++x) {
      const size_t src = static_cast<size_t>(y / s) * width + x / s;
      uint8_t* p = &out.pixels[(static_cast<size_t>(y) * out.width + x) * 3];
      const int64_t X = x, Y = y;
      if (truth_at(X, Y) && (!truth_at(X - 1, Y) || !truth_at(X + 1, Y) || !truth_at(X, Y - 1) || !truth_at(X, Y + 1))) {
        std::copy(style.outline, style.outline + 3, p);
        continue;
      }
      const uint8_t g = grey_level(image[src], lo, hi);
      if (prediction[src] >= style.threshold) {
        for (int c = 0; c < 3; ++c)
          p[c] = static_cast<uint8_t>(std::lround((1.0f - a) * static_cast<float>(g) + a * style.fill[c]));
      } else {
        p[0] = p[1] = p[2] = g;
      }
    }

  if (style.label) {
    const std::string text = dice_label(dice);
    // 14 pixels tall on a 256-pixel overlay, the size the report shows them at: legible
    // there without covering more than the corner.
    const int ts = std::max(1, static_cast<int>(out.width) / 128);
    const int pad = ts, w = static_cast<int>(out.width), h = static_cast<int>(out.height);
    const int box_w = text_width(text, ts) + 2 * pad, box_h = text_height(ts) + 2 * pad;
    for (int y = 0; y < std::min(box_h, h); ++y)
      for (int x = 0; x < std::min(box_w, w); ++x)
        std::copy(style.label_background, style.label_background + 3, &out.pixels[(static_cast<size_t>(y) * out.width + static_cast<size_t>(x)) * 3]);
    draw_text(out.pixels.data(), w, h, pad, pad, text, ts, style.label_colour);
  }
  return out;
}

}  // namespace unet::data
