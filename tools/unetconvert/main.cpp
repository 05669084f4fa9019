// unetconvert: a BraTS tree (<id>/<id>_{t1,t2,flair,t1ce,seg}.nii.gz) -> imgs_/msks_{train,test}.npy
// and manifest.json. With --subjects and no --train_test_split, every named subject goes to
// the test files (the seed's single-brain samples, for inference).
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdio>
#include <map>
#include <optional>
#include <sstream>
#include <string>

#include "base/limits.h"
#include "tools/finite_flag.h"
#include "data/brats_convert.h"
#include "data/progress_bar.h"
#include "data/data_error.h"

int main(int argc, char** argv) {
  using namespace unet::data;
  CLI::App app{"Convert BraTS NIfTI subjects into npy slice files for training and inference"};
  app.option_defaults()->always_capture_default();
  std::string root, out_dir, dtype = "float32", mask_dtype = "float32", norm = "brain", subjects;
  ConvertOptions opts;
  int resize = 0;
  app.add_option("root", root, "BraTS folder (subject folders at any depth)")->required()->check(CLI::ExistingDirectory);
  app.add_option("-o,--output", out_dir, "Folder for imgs_/msks_{train,test}.npy and manifest.json")->required();
  auto* size_opt = app.add_option("--size", opts.slices.size, "Centre-crop slices to size x size")
                       ->check(CLI::Range(1, unet::limits::kMaxSliceSize));
  app.add_option("--resize", resize, "Area-resample whole slices to N x N instead of cropping")
      ->check(CLI::Range(1, unet::limits::kMaxSliceSize))
      ->excludes(size_opt);
  app.add_option("--rotate", opts.slices.rotate, "Quarter turns counter-clockwise (numpy.rot90)")->check(CLI::Range(0, 3));
  app.add_option("--norm", norm, "brain: z-score each subject's brain voxels; stack: z-score the whole output")
      ->check(CLI::IsMember({"brain", "stack"}));
  app.add_option("--dtype", dtype, "Image element type")->check(CLI::IsMember({"float32", "float16"}));
  app.add_option("--mask_dtype", mask_dtype, "Mask element type")->check(CLI::IsMember({"float32", "float16", "uint8"}));
  auto* split_opt = app.add_option("--train_test_split", opts.train_fraction, "Fraction of subjects that train")
                        ->check(unet::tools::finite_number() & CLI::Range(0.0, 1.0));
  app.add_option("--seed", opts.seed, "Seed of the subject split");
  app.add_option("--jobs", opts.jobs, "Subjects converted at once")->check(CLI::Range(1, unet::limits::kMaxJobs));
  app.add_option("--subjects", subjects, "Only these subject ids, comma-separated; they all go to the test files unless --train_test_split is given");
  app.add_flag("--skip_empty", opts.slices.skip_empty, "Drop slices without brain");
  app.add_option("--min_tumour_pixels", opts.slices.min_tumour_pixels, "Drop slices with fewer tumour pixels")
      ->check(CLI::Range(0, 1 << 24));
  app.failure_message([](const CLI::App*, const CLI::Error& e) { return "unetconvert: " + std::string(e.what()) + "\n"; });
  CLI11_PARSE(app, argc, argv);

  if (resize > 0) {
    opts.slices.resize = true;
    opts.slices.size = resize;
  }
  opts.slices.norm = norm == "stack" ? BratsNorm::stack : BratsNorm::brain;
  const std::map<std::string, NpyDtype> dtypes{{"float32", NpyDtype::f32}, {"float16", NpyDtype::f16}, {"uint8", NpyDtype::u8}};
  opts.image_dtype = dtypes.at(dtype);
  opts.mask_dtype = dtypes.at(mask_dtype);
  if (!subjects.empty()) {
    std::stringstream list(subjects);
    for (std::string id; std::getline(list, id, ',');)
      if (!id.empty()) opts.only_subjects.push_back(id);
    if (split_opt->count() == 0) opts.train_fraction = 0.0;
  }
  try {
    std::optional<ProgressReporter> progress;
    ConvertCallbacks cb;
    cb.warn = [](const std::string& line) { fmt::print(stderr, "unetconvert: warning: {}\n", line); };
    cb.begin = [&](int total) { progress.emplace("unetconvert", total); };
    cb.progress = [&](int done, int, const std::string& id) { progress->step(done, id); };
    const ConvertSummary s = convert_brats(root, out_dir, opts, cb);
    if (progress) progress->finish();
    fmt::print("{}: train {} subjects / {} slices, test {} subjects / {} slices\n", out_dir, s.train_subjects.size(),
               s.train_rows, s.test_subjects.size(), s.test_rows);
  } catch (const std::exception& e) {
    fmt::print(stderr, "unetconvert: {}\n", e.what());
    return 1;
  }
  return 0;
}
