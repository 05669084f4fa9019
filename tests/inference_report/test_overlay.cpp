// data/overlay_image and data/bitmap_font on hand-made pixels: which pixels are outline, fill
// and grey (at scale 1 and upscaled), the colours, the label in the corner read back with the
// font, and the font's glyphs all distinct.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <tuple>
#include <set>
#include <string>
#include <vector>

#include "data/bitmap_font.h"
#include "data/data_error.h"
#include "data/overlay_image.h"

namespace unet::data {
namespace {

constexpr uint32_t kW = 12, kH = 10;

// A gradient image, a true 4x4 square at (2..5, 3..6) and a predicted 4x3 block at (4..7, 5..7)
// that overlaps its lower-right corner.
struct Case {
  std::vector<float> image = std::vector<float>(kW * kH), truth = std::vector<float>(kW * kH),
                     pred = std::vector<float>(kW * kH);
  Case() {
    for (uint32_t y = 0; y < kH; ++y)
      for (uint32_t x = 0; x < kW; ++x) {
        const size_t i = y * kW + x;
        image[i] = static_cast<float>(x + y * kW) * 0.5f - 3.0f;  // -3 .. 56.5
        truth[i] = (x >= 2 && x <= 5 && y >= 3 && y <= 6) ? 1.f : 0.f;
        pred[i] = (x >= 4 && x <= 7 && y >= 5 && y <= 7) ? 0.9f : 0.1f;
      }
  }
  bool t(int x, int y) const { return x >= 0 && y >= 0 && x < int(kW) && y < int(kH) && truth[y * kW + x] >= 0.5f; }
};

OverlayStyle unlabelled(int scale = 1) {
  OverlayStyle s;
  s.scale = scale;
  s.label = false;
  return s;
}

bool is(const uint8_t* p, uint8_t r, uint8_t g, uint8_t b) { return p[0] == r && p[1] == g && p[2] == b; }

TEST(Overlay, OutlineFillAndGreyFollowTheRulesAtScaleOne) {
  const Case c;
  const RgbImage img = render_overlay(c.image.data(), c.truth.data(), c.pred.data(), kW, kH, 0.5, unlabelled());
  ASSERT_EQ(img.width, kW);
  ASSERT_EQ(img.height, kH);
  ASSERT_EQ(img.pixels.size(), size_t{kW} * kH * 3);
  int outline = 0, fill = 0;
  for (int y = 0; y < int(kH); ++y)
    for (int x = 0; x < int(kW); ++x) {
      const uint8_t* p = img.at(x, y);
      const size_t i = y * kW + x;
      // The grey, worked out here: of the 120 values -3, -2.5 .. 56.5 the window drops the
      // lowest and highest one (1 %), so -2.5 .. 56 maps onto 0 .. 255, clamped.
      const int g = std::clamp(static_cast<int>(std::lround((c.image[i] + 2.5) / 58.5 * 255.0)), 0, 255);
      const bool edge = c.t(x, y) && !(c.t(x - 1, y) && c.t(x + 1, y) && c.t(x, y - 1) && c.t(x, y + 1));
      if (edge) {
        EXPECT_TRUE(is(p, 0, 255, 0)) << x << "," << y;
        ++outline;
      } else if (c.pred[i] >= 0.5f) {
        EXPECT_NEAR(p[0], 0.55 * g + 0.45 * 255, 1.0) << x << "," << y;
        EXPECT_NEAR(p[1], 0.55 * g + 0.45 * 32, 1.0) << x << "," << y;
        EXPECT_NEAR(p[2], 0.55 * g + 0.45 * 32, 1.0) << x << "," << y;
        EXPECT_GT(p[0], p[1]) << "predicted tumour is coloured at " << x << "," << y;
        ++fill;
      } else {
        EXPECT_TRUE(is(p, uint8_t(g), uint8_t(g), uint8_t(g))) << x << "," << y << " grey " << g;
      }
    }
  EXPECT_EQ(outline, 12);  // a 4x4 square's ring
  // 12 predicted pixels, less the 3 on the square's ring (5,5) (5,6) (4,6); (4,5) is inside it.
  EXPECT_EQ(fill, 9);
  // The darkest and brightest pixels reach the ends of the grey scale.
  EXPECT_TRUE(is(img.at(0, 0), 0, 0, 0));
  EXPECT_TRUE(is(img.at(kW - 1, kH - 1), 255, 255, 255));
}

TEST(Overlay, UpscaledOutlineIsOneOutputPixelWide) {
  const Case c;
  const int s = 4;
  const RgbImage img = render_overlay(c.image.data(), c.truth.data(), c.pred.data(), kW, kH, 0.5, unlabelled(s));
  ASSERT_EQ(img.width, kW * s);
  ASSERT_EQ(img.height, kH * s);
  // The square covers output pixels 8..23 x 12..27: its border ring is green, inside is not.
  for (int y = 0; y < int(img.height); ++y)
    for (int x = 0; x < int(img.width); ++x) {
      const bool in = x >= 8 && x <= 23 && y >= 12 && y <= 27;
      const bool ring = in && (x == 8 || x == 23 || y == 12 || y == 27);
      EXPECT_EQ(is(img.at(x, y), 0, 255, 0), ring) << x << "," << y;
    }
  // Every output pixel of an input pixel shows the same colour away from the outline.
  for (int k = 0; k < s * s; ++k) EXPECT_TRUE(std::equal(img.at(0, 0), img.at(0, 0) + 3, img.at(k % s, k / s)));
  // Predicted tumour inside the truth (input 4,5 -> output 16..19 x 20..23) is fill, not outline.
  EXPECT_GT(img.at(17, 21)[0], img.at(17, 21)[1]);
}

TEST(Overlay, GreyWindowDropsOutliersButNotAFlatSlice) {
  std::vector<float> v(1000);
  for (size_t k = 0; k < v.size(); ++k) v[k] = static_cast<float>(k % 100);  // 0..99, ten times
  v[3] = -1e6f;  // speckle that min..max would let wash the slice out
  v[7] = 1e6f;
  v[9] = NAN;
  auto [lo, hi] = grey_window(v.data(), v.size());
  // 999 finite values: indices 9 and 989 of them sorted.
  EXPECT_EQ(lo, 0.f);
  EXPECT_EQ(hi, 99.f);
  // Flat but for a few pixels: the whole range, so they show.
  std::vector<float> flat(1000, 2.f);
  flat[0] = 5.f;
  std::tie(lo, hi) = grey_window(flat.data(), flat.size());
  EXPECT_EQ(lo, 2.f);
  EXPECT_EQ(hi, 5.f);
  std::vector<float> none(4, NAN);
  std::tie(lo, hi) = grey_window(none.data(), none.size());
  EXPECT_EQ(lo, 0.f);
  EXPECT_EQ(hi, 0.f);
}

TEST(Overlay, NoTumourNoPredictionIsPlainGrey) {
  std::vector<float> image(16), none(16, 0.f);
  for (int k = 0; k < 16; ++k) image[k] = static_cast<float>(k);
  const RgbImage img = render_overlay(image.data(), none.data(), none.data(), 4, 4, 1.0, unlabelled());
  for (int k = 0; k < 16; ++k) {
    const uint8_t* p = img.at(k % 4, k / 4);
    EXPECT_TRUE(p[0] == p[1] && p[1] == p[2]) << k;
    EXPECT_EQ(p[0], grey_level(static_cast<float>(k), 0, 15));
  }
  // A flat image is black, not a division by zero; NaN pixels are black too.
  std::vector<float> flat(16, 3.f);
  flat[5] = NAN;
  const RgbImage f = render_overlay(flat.data(), none.data(), none.data(), 4, 4, 1.0, unlabelled());
  for (uint8_t v : f.pixels) EXPECT_EQ(v, 0);
}

// Reads `n` glyphs at (x0, y0) of a `scale`d label by matching each cell against the font.
std::string read_text(const RgbImage& img, int x0, int y0, int scale, size_t n) {
  const std::string alphabet = "0123456789.:-/ Dicena";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    uint8_t rows[kGlyphHeight] = {};
    for (int r = 0; r < kGlyphHeight; ++r)
      for (int col = 0; col < kGlyphWidth; ++col) {
        const int x = x0 + static_cast<int>(i) * kGlyphAdvance * scale + col * scale, y = y0 + r * scale;
        if (is(img.at(x, y), 255, 255, 255)) rows[r] = static_cast<uint8_t>(rows[r] | 1 << (kGlyphWidth - 1 - col));
      }
    char found = '?';
    for (char ch : alphabet)
      if (std::equal(rows, rows + kGlyphHeight, glyph_rows(ch))) found = ch;
    out += found;
  }
  return out;
}

TEST(Overlay, LabelReadsTheDiceInTheCornerAndTouchesNothingElse) {
  const Case c;
  OverlayStyle labelled;
  labelled.scale = 32;  // 384 x 320; the text scale is read back from the image, not assumed
  const RgbImage with = render_overlay(c.image.data(), c.truth.data(), c.pred.data(), kW, kH, 0.8534, labelled);
  OverlayStyle plain = labelled;
  plain.label = false;
  const RgbImage without = render_overlay(c.image.data(), c.truth.data(), c.pred.data(), kW, kH, 0.8534, plain);
  ASSERT_EQ(dice_label(0.8534), "Dice: 0.853");
  // The label's scale: where the diagonal first turns white (the 'D' starts at (pad, pad)).
  int ts = 0;
  for (int k = 1; k < 40 && !ts; ++k)
    if (is(with.at(k, k), 255, 255, 255)) ts = k;
  ASSERT_GT(ts, 0);
  EXPECT_EQ(read_text(with, ts, ts, ts, 11), "Dice: 0.853");
  // Outside the box the two images are the same; inside it only black and white.
  const int box_w = text_width("Dice: 0.853", ts) + 2 * ts, box_h = text_height(ts) + 2 * ts;
  size_t differ = 0;
  for (int y = 0; y < int(with.height); ++y)
    for (int x = 0; x < int(with.width); ++x) {
      const bool in_box = x < box_w && y < box_h;
      const bool same = std::equal(with.at(x, y), with.at(x, y) + 3, without.at(x, y));
      if (!in_box) EXPECT_TRUE(same) << x << "," << y;
      else {
        EXPECT_TRUE(is(with.at(x, y), 0, 0, 0) || is(with.at(x, y), 255, 255, 255)) << x << "," << y;
        differ += !same;
      }
    }
  EXPECT_GT(differ, 100u);
  // Another Dice reads as itself; NaN as n/a.
  const RgbImage other = render_overlay(c.image.data(), c.truth.data(), c.pred.data(), kW, kH, 0.0271, labelled);
  EXPECT_EQ(read_text(other, ts, ts, ts, 11), "Dice: 0.027");
  const RgbImage nan = render_overlay(c.image.data(), c.truth.data(), c.pred.data(), kW, kH, NAN, labelled);
  EXPECT_EQ(read_text(nan, ts, ts, ts, 9), "Dice: n/a");
}

TEST(Overlay, RefusesZeroSizeAndScaleOutOfRange) {
  const float one = 0;
  EXPECT_THROW(render_overlay(&one, &one, &one, 0, 1, 0, {}), DataError);
  EXPECT_THROW(render_overlay(&one, &one, &one, 1, 0, 0, {}), DataError);
  OverlayStyle s;
  s.scale = 0;
  EXPECT_THROW(render_overlay(&one, &one, &one, 1, 1, 0, s), DataError);
  s.scale = 65;
  EXPECT_THROW(render_overlay(&one, &one, &one, 1, 1, 0, s), DataError);
}

TEST(BitmapFont, EveryGlyphIsDistinctAndTheDigitsAreThere) {
  const std::string alphabet = "0123456789.:-/ Dicena";
  std::set<std::vector<uint8_t>> seen;
  for (char c : alphabet) {
    const uint8_t* rows = glyph_rows(c);
    ASSERT_NE(rows, nullptr) << c;
    for (int r = 0; r < kGlyphHeight; ++r) EXPECT_LT(rows[r], 1 << kGlyphWidth) << c;
    EXPECT_TRUE(seen.insert(std::vector<uint8_t>(rows, rows + kGlyphHeight)).second) << "'" << c << "' repeats a glyph";
  }
  EXPECT_EQ(glyph_rows('Z'), nullptr);
  EXPECT_EQ(text_width("", 3), 0);
  EXPECT_EQ(text_width("Dice", 2), (4 * kGlyphAdvance - 1) * 2);
}

TEST(BitmapFont, DrawsClippedAndSkipsUnknownCharacters) {
  std::vector<uint8_t> rgb(8 * 8 * 3, 0);
  const uint8_t white[3] = {255, 255, 255};
  draw_text(rgb.data(), 8, 8, -3, -2, "8", 1, white);  // partly off the image: no write outside
  draw_text(rgb.data(), 8, 8, 100, 100, "1", 1, white);
  size_t lit = 0;
  for (size_t k = 0; k < rgb.size(); k += 3) lit += rgb[k] == 255;
  EXPECT_GT(lit, 0u);
  std::vector<uint8_t> blank(8 * 8 * 3, 0);
  draw_text(blank.data(), 8, 8, 0, 0, "Z", 1, white);
  EXPECT_EQ(blank, std::vector<uint8_t>(8 * 8 * 3, 0));
}

}  // namespace
}  // namespace unet::data
