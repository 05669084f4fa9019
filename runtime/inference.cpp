#include "runtime/inference.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <optional>

#include <fmt/format.h>

#include "data/atomic_file.h"
#include "data/brats_manifest.h"
#include "data/npy.h"
#include "data/overlay_image.h"
#include "data/png_writer.h"
#include "runtime/inference_report.h"
#include "runtime/runtime_error.h"
#include "runtime/step_exchange.h"
#include "runtime/trainer.h"
#include "runtime/training_log_reader.h"

namespace unet::runtime {
namespace {

namespace fs = std::filesystem;

constexpr const char* kModalities[] = {"t1", "t2", "flair", "t1ce"};

// A subject id as part of a file name: letters, digits, '-', '_' and '.' kept, others '_'.
std::string file_safe(const std::string& id) {
  std::string out;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                    c == '_' || c == '.';
    out += ok ? c : '_';
  }
  if (out.empty() || out[0] == '.') out.insert(out.begin(), '_');
  return out;
}

std::string join(const std::vector<std::string>& parts, const char* sep) {
  std::string out;
  for (size_t k = 0; k < parts.size(); ++k) out += (k ? sep : "") + parts[k];
  return out;
}

// "subject BraTS_001, slice 72 (test row 12)", or "test row 12" without a manifest.
std::string where(const data::Manifest* m, size_t row) {
  if (m)
    if (const data::ManifestSubject* s = m->test.subject_of(row))
      return fmt::format("{}, slice {} (test row {})", s->id, s->slices[row - s->first_row], row);
  return fmt::format("test row {}", row);
}

struct Overlay {
  std::string file_name, caption;
  size_t row = 0;
};

// Why --subject cannot be found, naming the manifest.
[[noreturn]] void unknown_subject(const data::Manifest& m, const std::string& id) {
  if (m.train.find(id))
    throw RuntimeError(fmt::format("{}: subject '{}' is in the training split; --subject takes a test subject",
                                   m.path, id));
  std::vector<std::string> some;
  for (size_t k = 0; k < std::min<size_t>(m.test.subjects.size(), 5); ++k) some.push_back(m.test.subjects[k].id);
  throw RuntimeError(fmt::format("{}: no test subject '{}' (the {} test subjects: {}{})", m.path, id,
                                 m.test.subjects.size(), join(some, ", "), m.test.subjects.size() > 5 ? ", ..." : ""));
}

std::vector<ReportCurve> curves_of(const LogRun& run) {
  ReportCurve loss{"Loss per global step", "loss (-log Dice)", {}, {}, false};
  ReportCurve dice{"Training Dice per global step", "Dice", {}, {}, true};
  ReportCurve lr{"Learning rate per global step", "learning rate", {}, {}, false};
  for (const LogStep& s : run.steps) {
    const double x = static_cast<double>(s.global_step);
    loss.x.push_back(x);
    loss.y.push_back(s.loss);
    dice.x.push_back(x);
    dice.y.push_back(s.dice);
    lr.x.push_back(x);
    lr.y.push_back(s.lr);
  }
  return {loss, dice, lr};
}

}  // namespace

double image_dice(const float* prediction, const float* target, size_t pixels, double smooth) {
  DiceSums s;
  for (size_t k = 0; k < pixels; ++k) {
    s.intersection += static_cast<double>(prediction[k]) * target[k];
    s.predicted += prediction[k];
    s.truth += target[k];
  }
  return s.dice(smooth);
}

std::vector<SlicePick> pick_slices(const std::vector<double>& dice, const std::vector<bool>& eligible) {
  std::vector<size_t> rows;
  for (size_t r = 0; r < dice.size(); ++r)
    if ((eligible.empty() || (r < eligible.size() && eligible[r])) && !std::isnan(dice[r])) rows.push_back(r);
  if (rows.empty()) return {};
  std::stable_sort(rows.begin(), rows.end(), [&](size_t a, size_t b) { return dice[a] < dice[b]; });
  // Ties: the lower row first among the lowest; among the highest too (the first of the top).
  const double top = dice[rows.back()];
  size_t best = rows.back();
  for (size_t r : rows)
    if (dice[r] == top) {
      best = r;
      break;
    }
  const std::pair<const char*, size_t> chosen[] = {
      {"best", best}, {"median", rows[(rows.size() - 1) / 2]}, {"worst", rows.front()}};
  std::vector<SlicePick> picks;
  for (const auto& [role, row] : chosen) {
    const size_t r = row;  // clang 14 cannot capture a structured binding
    auto same = std::find_if(picks.begin(), picks.end(), [r](const SlicePick& p) { return p.row == r; });
    if (same != picks.end()) same->roles.emplace_back(role);
    else picks.push_back({{role}, row});
  }
  return picks;
}

InferResult run_inference(Engine& engine, const InferOptions& o, const std::function<void(const std::string&)>& say) {
  auto tell = [&](const std::string& line) {
    if (say) say(line);
  };
  const plan::Plan& p = engine.plan();
  const bool overlays = !o.png_dir.empty() || !o.report_path.empty();
  if (!o.subject.empty() && !overlays)
    throw RuntimeError("--subject chooses slices for --png_dir or --report: give one of them");

  // Every input is checked before the forward passes, so a typo costs no inference.
  const std::string manifest_path = (fs::path(o.data_dir) / "manifest.json").string();
  std::error_code ec;
  const bool manifest_exists = fs::exists(manifest_path, ec);
  if (!o.subject.empty() && !manifest_exists)
    throw RuntimeError(fmt::format("{}: no such file; --subject {} needs the manifest unetconvert writes beside the "
                                   "npy files",
                                   manifest_path, o.subject));
  std::optional<data::Manifest> manifest;
  if (overlays && manifest_exists) manifest = data::read_manifest(manifest_path);
  const data::ManifestSubject* subject = nullptr;
  if (!o.subject.empty()) {
    subject = manifest->test.find(o.subject);
    if (!subject) unknown_subject(*manifest, o.subject);
  }
  std::optional<TrainingLogCurves> log;
  if (!o.report_path.empty()) log = read_training_log(o.log_path);

  Dataset test(o.data_dir, "test", o.selection, p);
  if (manifest && manifest->test.rows != test.size())
    throw RuntimeError(fmt::format("{}: test.rows is {}, {} holds {} images", manifest_path, manifest->test.rows,
                                   test.images_path(), test.size()));

  InferResult result;
  fs::create_directories(o.out_dir);
  result.predictions_path = (fs::path(o.out_dir) / "msks_test_predictions.npy").string();
  result.images = test.size();
  const size_t pixels = static_cast<size_t>(p.in_h) * p.in_w;
  std::vector<DiceSums> sums(test.size());
  std::vector<bool> shows_tumour(test.size());
  result.dice = evaluate(engine, test, result.predictions_path, [&](size_t i, const float* pred, const float* t) {
    DiceSums& s = sums[i];
    bool predicted = false;
    for (size_t k = 0; k < pixels; ++k) {
      s.intersection += static_cast<double>(pred[k]) * t[k];
      s.predicted += pred[k];
      s.truth += t[k];
      predicted |= pred[k] >= 0.5f;
    }
    shows_tumour[i] = predicted || s.truth > 0;
  });
  tell(fmt::format("Wrote {} ({} images)", result.predictions_path, test.size()));
  result.slice_dice.reserve(sums.size());
  for (const DiceSums& s : sums) result.slice_dice.push_back(s.dice(p.dice_smooth));
  if (!overlays) return result;

  // Which slices: best, median and worst among those where the truth or the prediction shows
  // tumour (an empty slice predicted empty scores 1 and says nothing), all slices if none do;
  // then every slice of --subject.
  std::vector<Overlay> chosen;
  const bool any_tumour = std::find(shows_tumour.begin(), shows_tumour.end(), true) != shows_tumour.end();
  for (const SlicePick& pick : pick_slices(result.slice_dice, any_tumour ? shows_tumour : std::vector<bool>{}))
    chosen.push_back({join(pick.roles, "_") + ".png",
                      fmt::format("{}: {}", join(pick.roles, ", "), where(manifest ? &*manifest : nullptr, pick.row)),
                      pick.row});
  if (subject)
    for (size_t k = 0; k < subject->slices.size(); ++k)
      chosen.push_back({fmt::format("{}_slice{:03d}.png", file_safe(subject->id), subject->slices[k]),
                        where(&*manifest, subject->first_row + k), subject->first_row + k});

  const data::NpyReader predictions = data::NpyReader::open(result.predictions_path);
  data::OverlayStyle style;
  style.scale = std::clamp(static_cast<int>((256 + std::max(p.in_h, p.in_w) - 1) / std::max(p.in_h, p.in_w)), 1, 8);
  std::vector<float> image(pixels), truth(pixels), pred(pixels);
  std::vector<ReportImage> images;
  if (!o.png_dir.empty()) fs::create_directories(o.png_dir);
  for (const Overlay& ov : chosen) {
    test.read_view(ov.row, image.data(), truth.data());
    predictions.read_rows_f32(ov.row, 1, pred.data());
    const double dice = result.slice_dice[ov.row];
    const data::RgbImage rgb =
        data::render_overlay(image.data(), truth.data(), pred.data(), p.in_w, p.in_h, dice, style);
    std::string png = data::encode_png_rgb8(rgb.pixels.data(), rgb.width, rgb.height);
    if (!o.png_dir.empty()) {
      const std::string path = (fs::path(o.png_dir) / ov.file_name).string();
      data::AtomicFile f(path);
      f.write(png);
      f.commit();
      result.pngs.push_back(path);
    }
    images.push_back({fmt::format("{}, Dice {:.3f}", ov.caption, dice), std::move(png)});
  }
  if (!o.png_dir.empty()) tell(fmt::format("Wrote {} overlays to {}", result.pngs.size(), o.png_dir));
  if (o.report_path.empty()) return result;

  ReportInput in;
  in.title = fmt::format("unet inference: {}", p.model_name);
  in.facts = {{"plan", o.plan_path},
              {"checkpoint", o.checkpoint_path},
              {"data", o.data_dir},
              {"test images", fmt::format("{} of {}x{}", test.size(), p.in_w, p.in_h)},
              {"shown channel", kModalities[std::clamp(test.view_channel(), 0, 3)]},
              {"test Dice", fmt::format("{:.4f}", result.dice)},
              {"predictions", result.predictions_path}};
  in.slice_dice = result.slice_dice;
  if (manifest) {
    for (const data::ManifestSubject& s : manifest->test.subjects) {
      DiceSums total;
      for (size_t r = s.first_row; r < s.first_row + s.slices.size(); ++r) {
        total.intersection += sums[r].intersection;
        total.predicted += sums[r].predicted;
        total.truth += sums[r].truth;
      }
      in.subjects.push_back({s.id, s.first_row, s.slices.size(), total.dice(p.dice_smooth), subject == &s});
    }
    if (in.subjects.empty()) in.subjects_note = fmt::format("{} lists no test subjects.", manifest_path);
  } else {
    in.subjects_note = fmt::format("No {}: the test rows cannot be traced to subjects (unetconvert writes it).",
                                   manifest_path);
  }
  if (!log) {
    in.curves_note = fmt::format("No training log at {}: the training curves are left out (--log names it).",
                                 o.log_path);
  } else if (log->runs.empty()) {
    in.curves_note = fmt::format("{} holds no step lines: the training curves are left out.", o.log_path);
  } else {
    const LogRun& run = log->runs.back();
    in.curves = curves_of(run);
    in.curves_note = fmt::format("From {}: global steps {} to {}{}{}.", o.log_path, run.steps.front().global_step,
                                 run.steps.back().global_step,
                                 run.test_dice ? fmt::format(", test Dice {:.3f} at the end", *run.test_dice) : "",
                                 log->runs.size() > 1
                                     ? fmt::format(" (the newest of the {} runs the log holds)", log->runs.size())
                                     : "");
  }
  in.images = std::move(images);
  if (in.images.empty()) in.images_note = "The test set is empty: no overlays.";
  const fs::path parent = fs::path(o.report_path).parent_path();
  if (!parent.empty()) fs::create_directories(parent);
  write_report(o.report_path, in);
  result.report_path = o.report_path;
  tell(fmt::format("Wrote {}", o.report_path));
  return result;
}

}  // namespace unet::runtime
