// A prediction overlay for people: one input slice in grey, the true tumour's outline, the
// predicted tumour in semi-transparent colour, and the Dice in the top-left corner. Pure
// pixels in, RGB pixels out (png_writer.h encodes them).
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace unet::data {

struct OverlayStyle {
  int scale = 1;                            // each input pixel becomes scale x scale pixels
  float threshold = 0.5f;                   // a prediction >= threshold is tumour (truth too)
  uint8_t outline[3] = {0, 255, 0};         // the true tumour's boundary
  uint8_t fill[3] = {255, 32, 32};          // the predicted tumour, blended over the grey
  float fill_alpha = 0.45f;                 // 0: invisible, 1: opaque
  bool label = true;                        // "Dice: 0.853" in the top-left corner
  uint8_t label_colour[3] = {255, 255, 255};
  uint8_t label_background[3] = {0, 0, 0};
};

struct RgbImage {
  uint32_t width = 0, height = 0;
  std::vector<uint8_t> pixels;  // width * height * 3, row-major, R G B
  const uint8_t* at(uint32_t x, uint32_t y) const { return &pixels[(static_cast<size_t>(y) * width + x) * 3]; }
};

// The grey level of `v` when [lo, hi] maps onto 0..255 (clamped; 0 when hi <= lo).
uint8_t grey_level(float v, float lo, float hi);

// The window render_overlay maps onto 0..255: of the n finite values sorted, the ones at
// index (n-1)/100 and n-1-(n-1)/100 (the 1st and 99th percentiles); the finite minimum and
// maximum if those are equal; {0, 0} if there are none.
std::pair<float, float> grey_window(const float* image, size_t pixels);

// Overlay of `image`, `truth` and `prediction` (each width * height floats, row-major) as
// width*scale x height*scale RGB. The grey maps the image's grey_window() onto 0..255. A pixel (at output resolution) is outline where the truth covers it and one of its
// four neighbours is not tumour or off the image; else fill-blended where the prediction
// is tumour; else grey. The label text is "Dice: " and `dice` to 3 decimals ("n/a" if NaN),
// drawn at (s, s) on a black box from the corner, s = max(1, output width / 128).
// Throws DataError for a zero size or a scale outside 1..64.
RgbImage render_overlay(const float* image, const float* truth, const float* prediction, uint32_t width,
                        uint32_t height, double dice, const OverlayStyle& style = {});

// "Dice: 0.853": the label render_overlay draws.
std::string dice_label(double dice);

}  // namespace unet::data
