#include "runtime/inference_report.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "data/atomic_file.h"

namespace unet::runtime {
namespace {

constexpr double kChartW = 560, kChartH = 250;
// kLeft leaves room for a tick label such as 0.00049 beside the rotated axis title.
constexpr double kLeft = 72, kRight = 16, kTop = 30, kBottom = 42;
constexpr size_t kMaxPolylinePoints = 2000;

// Tick values covering [lo, hi]: about `count` of them at 1, 2 or 5 times a power of ten.
std::vector<double> nice_ticks(double lo, double hi, int count, double min_step = 0) {
  std::vector<double> ticks;
  const double range = hi - lo;
  if (!(range > 0) || !std::isfinite(range)) return {lo};
  const double raw = std::max(range / count, min_step);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double f : {1.0, 2.0, 5.0, 10.0})
    if (f * mag >= raw) {
      step = f * mag;
      break;
    }
  for (double t = std::ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9; t += step)
    ticks.push_back(std::abs(t) < step * 1e-9 ? 0.0 : t);
  return ticks;
}

std::string number_label(double v) { return fmt::format("{:g}", v); }

// The frame of a chart: grid lines and tick labels of both axes, the axis titles.
struct Frame {
  double x0, x1, y0, y1;  // data range
  double px(double x) const { return kLeft + (x - x0) / (x1 - x0) * (kChartW - kLeft - kRight); }
  double py(double y) const { return kChartH - kBottom - (y - y0) / (y1 - y0) * (kChartH - kTop - kBottom); }
};

std::string svg_frame(const Frame& f, const std::vector<double>& xt, const std::vector<double>& yt,
                      const std::string& title, const std::string& x_label, const std::string& y_label) {
  std::string s = fmt::format(
      "<svg class=\"chart\" viewBox=\"0 0 {0} {1}\" width=\"{0}\" height=\"{1}\" "
      "role=\"img\" aria-label=\"{2}\">\n",
      kChartW, kChartH, html_escape(title));
  s += fmt::format("<text x=\"{}\" y=\"18\" class=\"ct\">{}</text>\n", kLeft, html_escape(title));
  for (double t : yt) {
    const double y = f.py(t);
    s += fmt::format("<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" class=\"grid\"/>"
                     "<text x=\"{:.1f}\" y=\"{:.1f}\" class=\"yt\">{}</text>\n",
                     kLeft, y, kChartW - kRight, y, kLeft - 6, y + 4, number_label(t));
  }
  for (double t : xt) {
    const double x = f.px(t);
    s += fmt::format("<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" class=\"tick\"/>"
                     "<text x=\"{:.1f}\" y=\"{:.1f}\" class=\"xt\">{}</text>\n",
                     x, kChartH - kBottom, x, kChartH - kBottom + 5, x, kChartH - kBottom + 18, number_label(t));
  }
  s += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" class=\"axis\"/>"
                   "<line x1=\"{0}\" y1=\"{3}\" x2=\"{0}\" y2=\"{1}\" class=\"axis\"/>\n",
                   kLeft, kChartH - kBottom, kChartW - kRight, kTop);
  s += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" class=\"xl\">{}</text>\n", (kLeft + kChartW - kRight) / 2,
                   kChartH - 6, html_escape(x_label));
  s += fmt::format("<text transform=\"translate(14 {:.1f}) rotate(-90)\" class=\"yl\">{}</text>\n",
                   (kTop + kChartH - kBottom) / 2, html_escape(y_label));
  return s;
}

std::string line_chart(const ReportCurve& c) {
  std::vector<std::pair<double, double>> pts;
  for (size_t k = 0; k < std::min(c.x.size(), c.y.size()); ++k)
    if (std::isfinite(c.x[k]) && std::isfinite(c.y[k])) pts.emplace_back(c.x[k], c.y[k]);
  if (pts.empty()) return fmt::format("<p class=\"note\">{}: no finite values in the log.</p>\n", html_escape(c.title));
  Frame f{std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity(), 0, 1};
  double ylo = std::numeric_limits<double>::infinity(), yhi = -ylo;
  for (const auto& [x, y] : pts) {
    f.x0 = std::min(f.x0, x);
    f.x1 = std::max(f.x1, x);
    ylo = std::min(ylo, y);
    yhi = std::max(yhi, y);
  }
  if (!(f.x1 > f.x0)) f.x1 = f.x0 + 1;
  if (c.unit_range) {
    f.y0 = std::min(0.0, ylo);
    f.y1 = std::max(1.0, yhi);
  } else {
    const double pad = yhi > ylo ? (yhi - ylo) * 0.05 : std::max(std::abs(yhi) * 0.05, 0.5);
    f.y0 = ylo - pad;
    f.y1 = yhi + pad;
  }
  std::string s = svg_frame(f, nice_ticks(f.x0, f.x1, 6, 1), nice_ticks(f.y0, f.y1, 5), c.title, "global step", c.y_label);
  // A long run: evenly spaced points, the last one always kept.
  const size_t stride = (pts.size() + kMaxPolylinePoints - 1) / kMaxPolylinePoints;
  std::string points;
  for (size_t k = 0; k < pts.size(); k += stride)
    points += fmt::format("{:.1f},{:.1f} ", f.px(pts[k].first), f.py(pts[k].second));
  if ((pts.size() - 1) % stride != 0)
    points += fmt::format("{:.1f},{:.1f}", f.px(pts.back().first), f.py(pts.back().second));
  s += fmt::format("<polyline class=\"line\" points=\"{}\"/>\n", points);
  if (pts.size() == 1)
    s += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\" class=\"dot\"/>\n", f.px(pts[0].first),
                     f.py(pts[0].second));
  return s + "</svg>\n";
}

std::string histogram_chart(const std::vector<double>& dice) {
  constexpr size_t kBins = 20;
  const std::vector<size_t> counts = dice_histogram(dice, kBins);
  size_t most = 1;
  for (size_t c : counts) most = std::max(most, c);
  const Frame f{0, 1, 0, static_cast<double>(most)};
  std::vector<double> yt = nice_ticks(0, static_cast<double>(most), 4, 1);
  std::string s = svg_frame(f, nice_ticks(0, 1, 5), yt, fmt::format("Dice of each test slice ({} slices)", dice.size()),
                            "Dice", "slices");
  for (size_t b = 0; b < kBins; ++b) {
    if (counts[b] == 0) continue;
    const double x0 = f.px(static_cast<double>(b) / kBins), x1 = f.px(static_cast<double>(b + 1) / kBins);
    const double y = f.py(static_cast<double>(counts[b]));
    s += fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" class=\"bar\">"
                     "<title>{:.2f} to {:.2f}: {} slices</title></rect>\n",
                     x0 + 1, y, x1 - x0 - 2, kChartH - kBottom - y, static_cast<double>(b) / kBins,
                     static_cast<double>(b + 1) / kBins, counts[b]);
  }
  return s + "</svg>\n";
}

std::string dice_cell(double dice) {
  if (!std::isfinite(dice)) return "<td class=\"num\">n/a</td><td></td>";
  const double pct = std::clamp(dice, 0.0, 1.0) * 100;
  return fmt::format("<td class=\"num\">{:.3f}</td><td class=\"barcell\"><span class=\"meter\" "
                     "style=\"width:{:.1f}%\"></span></td>",
                     dice, pct);
}

constexpr const char* kStyle = R"(
body { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 24px 32px; color: #1d2733; background: #fafbfc; }
h1 { font-size: 24px; margin: 0 0 12px; }
h2 { font-size: 18px; margin: 28px 0 10px; border-bottom: 1px solid #d8dee4; padding-bottom: 4px; }
table { border-collapse: collapse; font-size: 14px; }
th, td { padding: 3px 10px; border-bottom: 1px solid #e4e8ec; text-align: left; }
th { background: #eef1f4; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.barcell { width: 160px; }
span.meter { display: inline-block; height: 10px; background: #3b82c4; border-radius: 2px; }
tr.highlight td { background: #fff4c2; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: 2px 16px; font-size: 14px; margin: 0; }
dl.facts dt { font-weight: 600; }
dl.facts dd { margin: 0; font-family: ui-monospace, Menlo, Consolas, monospace; word-break: break-all; }
.note { color: #5b6670; font-size: 14px; font-style: italic; }
.charts { display: flex; flex-wrap: wrap; gap: 12px; }
svg.chart { background: #fff; border: 1px solid #d8dee4; border-radius: 4px; }
svg.chart text { font-size: 11px; fill: #33404d; }
svg.chart text.ct { font-size: 13px; font-weight: 600; }
svg.chart text.yt { text-anchor: end; }
svg.chart text.xt, svg.chart text.xl, svg.chart text.yl { text-anchor: middle; }
svg.chart line.grid { stroke: #e6eaee; }
svg.chart line.tick, svg.chart line.axis { stroke: #8795a1; }
svg.chart polyline.line { fill: none; stroke: #d0452f; stroke-width: 1.5; }
svg.chart circle.dot { fill: #d0452f; }
svg.chart rect.bar { fill: #3b82c4; }
.overlays { display: flex; flex-wrap: wrap; gap: 16px; }
figure { margin: 0; background: #fff; border: 1px solid #d8dee4; border-radius: 4px; padding: 8px; }
figure img { display: block; width: 256px; height: auto; image-rendering: pixelated; }
figcaption { font-size: 13px; margin-top: 6px; max-width: 256px; }
.legend span { display: inline-block; width: 12px; height: 12px; vertical-align: middle; margin: 0 4px 0 12px; }
)";

}  // namespace

std::vector<size_t> dice_histogram(const std::vector<double>& dice, size_t bins) {
  std::vector<size_t> counts(bins, 0);
  if (bins == 0) return counts;
  for (double d : dice) {
    if (std::isnan(d)) continue;
    const double x = std::clamp(d, 0.0, 1.0) * static_cast<double>(bins);
    counts[std::min(bins - 1, static_cast<size_t>(x))]++;
  }
  return counts;
}

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default:
        // Control characters (an id from an untrusted manifest) are shown as U+FFFD.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n') out += "&#xfffd;";
        else out += c;
    }
  }
  return out;
}

std::string base64_encode(std::string_view bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t k = 0;
  for (; k + 3 <= bytes.size(); k += 3) {
    const uint32_t v = static_cast<uint32_t>(static_cast<unsigned char>(bytes[k])) << 16 |
                       static_cast<uint32_t>(static_cast<unsigned char>(bytes[k + 1])) << 8 |
                       static_cast<unsigned char>(bytes[k + 2]);
    out += kAlphabet[v >> 18 & 63];
    out += kAlphabet[v >> 12 & 63];
    out += kAlphabet[v >> 6 & 63];
    out += kAlphabet[v & 63];
  }
  if (k < bytes.size()) {
    uint32_t v = static_cast<uint32_t>(static_cast<unsigned char>(bytes[k])) << 16;
    if (k + 1 < bytes.size()) v |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[k + 1])) << 8;
    out += kAlphabet[v >> 18 & 63];
    out += kAlphabet[v >> 12 & 63];
    out += k + 1 < bytes.size() ? kAlphabet[v >> 6 & 63] : '=';
    out += '=';
  }
  return out;
}

std::string render_report_html(const ReportInput& in) {
  std::string h = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  // No favicon request: the page loads nothing at all.
  h += "<link rel=\"icon\" href=\"data:,\">\n";
  h += fmt::format("<title>{}</title>\n<style>{}</style>\n</head>\n<body>\n", html_escape(in.title), kStyle);
  h += fmt::format("<h1>{}</h1>\n", html_escape(in.title));
  if (!in.facts.empty()) {
    h += "<dl class=\"facts\">\n";
    for (const auto& [k, v] : in.facts) h += fmt::format("<dt>{}</dt><dd>{}</dd>\n", html_escape(k), html_escape(v));
    h += "</dl>\n";
  }

  h += "<h2>Dice per test subject</h2>\n";
  if (in.subjects.empty()) {
    h += fmt::format("<p class=\"note\">{}</p>\n",
                     html_escape(in.subjects_note.empty() ? "No subjects." : in.subjects_note));
  } else {
    if (!in.subjects_note.empty()) h += fmt::format("<p class=\"note\">{}</p>\n", html_escape(in.subjects_note));
    h += "<table class=\"subjects\">\n<thead><tr><th>subject</th><th>slices</th><th>rows</th><th>Dice</th><th></th>"
         "</tr></thead>\n<tbody>\n";
    for (const ReportSubject& s : in.subjects) {
      const std::string rows = s.slices == 0 ? "-" : fmt::format("{}&ndash;{}", s.first_row, s.first_row + s.slices - 1);
      h += fmt::format("<tr{}><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>{}</tr>\n",
                       s.highlighted ? " class=\"highlight\"" : "", html_escape(s.id), s.slices, rows,
                       dice_cell(s.dice));
    }
    h += "</tbody>\n</table>\n";
  }

  h += "<h2>Dice per test slice</h2>\n";
  if (in.slice_dice.empty()) h += "<p class=\"note\">The test set is empty.</p>\n";
  else h += "<div class=\"charts\">\n" + histogram_chart(in.slice_dice) + "</div>\n";

  h += "<h2>Training</h2>\n";
  if (!in.curves_note.empty()) h += fmt::format("<p class=\"note\">{}</p>\n", html_escape(in.curves_note));
  if (!in.curves.empty()) {
    h += "<div class=\"charts\">\n";
    for (const ReportCurve& c : in.curves) h += line_chart(c);
    h += "</div>\n";
  }

  h += "<h2>Overlays</h2>\n";
  h += "<p class=\"legend\">Grey: the input slice.<span style=\"background:#00ff00\"></span>true tumour outline"
       "<span style=\"background:#ff2020;opacity:0.6\"></span>predicted tumour</p>\n";
  if (!in.images_note.empty()) h += fmt::format("<p class=\"note\">{}</p>\n", html_escape(in.images_note));
  if (!in.images.empty()) {
    h += "<div class=\"overlays\">\n";
    for (const ReportImage& im : in.images)
      h += fmt::format("<figure><img alt=\"{0}\" src=\"data:image/png;base64,{1}\"><figcaption>{0}</figcaption>"
                       "</figure>\n",
                       html_escape(im.caption), base64_encode(im.png));
    h += "</div>\n";
  }
  h += "</body>\n</html>\n";
  return h;
}

void write_report(const std::string& path, const ReportInput& input) {
  data::AtomicFile out(path);
  out.write(render_report_html(input));
  out.commit();
}

}  // namespace unet::runtime
