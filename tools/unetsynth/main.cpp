// unetsynth: writes BraTS-like synthetic subjects (<out>/<id>/<id>_{t1,t2,flair,t1ce,seg}.nii.gz).
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdio>
#include <string>

#include "base/limits.h"
#include "tools/finite_flag.h"
#include "data/progress_bar.h"
#include "data/data_error.h"
#include "data/synth_subject.h"

int main(int argc, char** argv) {
  CLI::App app{"Write BraTS-like synthetic subjects: four contrasts and a tumour label volume each"};
  app.option_defaults()->always_capture_default();
  std::string out_dir, shape = "240x240x155", template_path;
  int subjects = 40, jobs = 2;
  unet::data::SynthOptions opts;
  app.add_option("-o,--output", out_dir, "Folder to write the subject folders into")->required();
  app.add_option("--subjects", subjects, "How many subjects")->check(CLI::Range(1, unet::limits::kMaxSynthSubjects));
  app.add_option("--seed", opts.seed, "Seed: the same seed writes the same bytes");
  app.add_option("--shape", shape, "Volume size NXxNYxNZ (axial slices along NZ)");
  app.add_option("--template", template_path, "A skull-stripped T1 brain NIfTI to use instead of the phantom")
      ->check(CLI::ExistingFile);
  app.add_flag("--keep_skull", opts.keep_skull, "Keep CSF rim, skull and scalp (BraTS ships skull-stripped)");
  app.add_option("--noise", opts.noise, "Noise sigma as a fraction of white matter")->check(unet::tools::finite_number() & CLI::Range(0.0, 1.0));
  app.add_option("--bias", opts.bias, "Bias-field amplitude")->check(unet::tools::finite_number() & CLI::Range(0.0, 0.9));
  app.add_option("--gzip_level", opts.gzip_level, "zlib level of the .nii.gz files")->check(CLI::Range(0, 9));
  app.add_option("--jobs", jobs, "Subjects rendered at once")->check(CLI::Range(1, unet::limits::kMaxJobs));
  app.failure_message([](const CLI::App*, const CLI::Error& e) { return "unetsynth: " + std::string(e.what()) + "\n"; });
  CLI11_PARSE(app, argc, argv);
  try {
    opts.shape = unet::data::parse_volume_shape(shape);
    if (!template_path.empty()) opts.brain_template = unet::data::TemplateBrain::load(template_path);
    unet::data::ProgressReporter progress("unetsynth", subjects);
    unet::data::write_synth_dataset(out_dir, subjects, opts, jobs,
                                    [&](int done, const std::string& id) { progress.step(done, id); });
    progress.finish();
  } catch (const std::exception& e) {
    fmt::print(stderr, "unetsynth: {}\n", e.what());
    return 1;
  }
  return 0;
}
