// unetrun --infer: predictions for the test split, the Dice over it and per slice, and for
// people the overlays of chosen slices (--png_dir) and a self-contained report (--report).
#pragma once
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "runtime/dataset.h"
#include "runtime/engine.h"

namespace unet::runtime {

struct InferOptions {
  std::string data_dir;      // imgs_/msks_test.npy and, when unetconvert made it, manifest.json
  DataSelection selection;
  std::string out_dir = ".";  // msks_test_predictions.npy goes here
  std::string png_dir;        // "": no overlay files
  std::string report_path;    // "": no report
  std::string subject;        // also every slice of this test subject (needs manifest.json)
  std::string log_path;       // training.log, for the report's curves (missing: a note instead)
  // Shown in the report's facts.
  std::string plan_path, checkpoint_path;
};

// A slice chosen for an overlay: its row in the test split and why it was chosen
// ("best", "median", "worst", or several of them when they are the same slice).
struct SlicePick {
  std::vector<std::string> roles;
  size_t row = 0;
};

// The best, median and worst of the slices by Dice, among those `eligible` (empty: all): the
// highest, the lower median and the lowest, ties broken by the lower row. One pick per
// distinct row, in the order best, median, worst. None for no eligible slice.
std::vector<SlicePick> pick_slices(const std::vector<double>& dice, const std::vector<bool>& eligible = {});

// Soft Dice of one image, as the test Dice: (2 sum p*t + smooth) / (sum p + sum t + smooth).
double image_dice(const float* prediction, const float* target, size_t pixels, double smooth);

struct InferResult {
  std::string predictions_path;
  size_t images = 0;
  double dice = 0;                  // over the whole test split
  std::vector<double> slice_dice;   // one per test image
  std::vector<std::string> pngs;    // the overlay files written
  std::string report_path;          // "" if none
};

// Checks the inputs first (the manifest when --subject needs it, the subject id, the
// training log when a report is asked for), then runs the test split through the engine
// (whose weights are loaded), writes the predictions, the overlays and the report, each to a
// temporary name then renamed. `say` gets a line for each file written. Throws
// RuntimeError / DataError, one line naming the file.
InferResult run_inference(Engine& engine, const InferOptions& options,
                          const std::function<void(const std::string&)>& say = {});

}  // namespace unet::runtime
