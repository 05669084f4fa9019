// A tiny 5x7 bitmap font for labels burnt into images (the Dice in an overlay's corner): the
// digits, '.', ':', '-', '/', ' ' and the letters of "Dice" and "n/a".
#pragma once
#include <cstdint>
#include <string_view>

namespace unet::data {

inline constexpr int kGlyphWidth = 5, kGlyphHeight = 7;
inline constexpr int kGlyphAdvance = kGlyphWidth + 1;  // one blank column between glyphs

// Row r (0 = top) of `c`'s glyph: bit 4 is the leftmost column. nullptr for a character the
// font does not have (drawn as a blank).
const uint8_t* glyph_rows(char c);

// Width and height in pixels of `text` drawn at `scale` (each font pixel a scale x scale block).
int text_width(std::string_view text, int scale);
inline int text_height(int scale) { return kGlyphHeight * scale; }

// Draws `text` into an RGB image (3 bytes a pixel, `width` x `height`, row-major) with its
// top-left corner at (x, y); pixels outside the image are clipped.
void draw_text(uint8_t* rgb, int width, int height, int x, int y, std::string_view text, int scale,
               const uint8_t colour[3]);

}  // namespace unet::data
