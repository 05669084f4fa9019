// The inference report: one self-contained HTML page (inline CSS, inline SVG, PNGs as
// base64 data: URIs; nothing fetched, no script) with a run's facts, the per-subject Dice
// table, a histogram of the per-slice Dice, the training curves and the overlays.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace unet::runtime {

struct ReportSubject {
  std::string id;
  size_t first_row = 0, slices = 0;
  double dice = 0;           // over all its slices' pixels, as the test Dice
  bool highlighted = false;  // the --subject one
};

struct ReportCurve {
  std::string title, y_label;  // the x axis is the global step
  std::vector<double> x, y;    // same length; non-finite y values are left out
  bool unit_range = false;     // y drawn over [0, 1] (a Dice), else over the data's range
};

struct ReportImage {
  std::string caption;
  std::string png;  // the encoded file's bytes
};

struct ReportInput {
  std::string title = "unet inference report";
  std::vector<std::pair<std::string, std::string>> facts;  // label, value: plan, checkpoint, ...
  std::vector<double> slice_dice;                          // one per test slice, for the histogram
  std::vector<ReportSubject> subjects;                     // empty: no table (see subjects_note)
  std::string subjects_note;                               // why there is no table, or ""
  std::vector<ReportCurve> curves;                         // empty: none (see curves_note)
  std::string curves_note;                                 // a missing log, earlier runs, ...
  std::vector<ReportImage> images;
  std::string images_note;
};

// Bins of the histogram: `bins` equal bins over [0, 1], the last one closed; values outside are
// clamped into the end bins, NaN ones left out.
std::vector<size_t> dice_histogram(const std::vector<double>& dice, size_t bins);

std::string html_escape(std::string_view text);
std::string base64_encode(std::string_view bytes);

std::string render_report_html(const ReportInput& input);

// Renders and writes the page to `path` (a temporary beside it, then renamed).
void write_report(const std::string& path, const ReportInput& input);

}  // namespace unet::runtime
