// One synthetic BraTS subject: the phantom deformed smoothly for this subject, a tumour,
// four contrasts with bias field and noise, and the label volume; and a folder of them in
// the BraTS layout <root>/<id>/<id>_{t1,t2,flair,t1ce,seg}.nii.gz.
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "data/synth_contrast.h"
#include "data/synth_phantom.h"

namespace unet::data {

struct SynthOptions {
  std::array<int64_t, 3> shape{240, 240, 155};  // voxels; the head fills the field of view
  uint64_t seed = 1;
  bool keep_skull = false;  // false: skull-stripped, zero outside the brain, as BraTS ships
  std::shared_ptr<const TemplateBrain> brain_template;  // null: the analytic phantom
  float noise = 0.03f;       // noise sigma as a fraction of white matter's intensity
  float bias = 0.15f;        // bias-field amplitude (multiplicative, about +-bias)
  int gzip_level = 1;
};

struct SynthSubject {
  std::string id;
  std::array<int64_t, 3> dims{};
  std::array<float, 3> voxel_mm{};
  std::array<std::vector<int16_t>, kModalityCount> images;  // kModalityNames order
  std::vector<uint8_t> seg;                                 // BraTS labels 0, 1, 2, 4
};

// "240x240x155" -> {240, 240, 155}; DataError naming the text otherwise.
std::array<int64_t, 3> parse_volume_shape(const std::string& text);

// "Synth_0001" for index 0: one id per subject, sorted the way they are numbered.
std::string synth_subject_id(int index);

// Subject `index` of the data set drawn from opts.seed: the same bytes every time.
SynthSubject render_synth_subject(const SynthOptions& opts, int index);

// Writes <root>/<id>/<id>_<modality>.nii.gz and <id>_seg.nii.gz.
void write_brats_subject(const std::string& root, const SynthSubject& subject, int gzip_level);

// Renders and writes subjects 0..count-1, `jobs` at a time; on_done(index) after each
// (called from one thread at a time).
void write_synth_dataset(const std::string& root, int count, const SynthOptions& opts, int jobs,
                         const std::function<void(int done, const std::string& id)>& on_done = {});

}  // namespace unet::data
