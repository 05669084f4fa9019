// A split of the converted data set (imgs_<split>.npy, msks_<split>.npy) fed to a plan one
// micro-batch at a time: modality selection, target selection, reorder to nChw16c.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "data/npy.h"
#include "kernels/tensor_arg.h"
#include "plan/plan.h"

namespace unet::runtime {

// What to learn, as the seed's --mode meant it (image channels t1, t2, flair, t1ce; mask
// channels background, label 1, label 2, label 4):
//   1: FLAIR -> whole tumour (1+2+4)   2: T1ce -> enhancing (4)   3: T2 -> core (1+4)
struct DataSelection {
  int mode = 1;
  std::vector<int> channels;  // input image channels; empty: the mode's one modality
};

// "flair,t1ce", "2,3" or "all" -> channel indices. Throws RuntimeError naming the bad item.
std::vector<int> parse_channels(const std::string& spec);

class Dataset {
 public:
  // Opens <dir>/imgs_<split>.npy and <dir>/msks_<split>.npy and checks them against the
  // plan's input (in_c channels of in_h x in_w) and each other. max_batch sizes the buffers.
  Dataset(const std::string& dir, const std::string& split, const DataSelection& selection,
          int in_c, int in_h, int in_w, int max_batch);
  // The same, shaped by a plan's input and micro-batch.
  Dataset(const std::string& dir, const std::string& split, const DataSelection& selection, const plan::Plan& plan);
  ~Dataset();
  size_t size() const;
  const std::string& images_path() const;
  // Images idx[0..n) -> `input` (nChw16c) and their targets -> `target` (nhw, 0 or 1).
  // Images past n in the views are zeroed. No allocation.
  void load(const size_t* idx, size_t n, const kernels::TensorArg& input,
            const kernels::TensorArg& target);
  // Row `row` for a person's eyes: one image channel (FLAIR when the plan is fed it, else the
  // first channel it is fed; see view_channel()) and the target as load() makes it, h * w
  // floats each, row-major. Allocates; not for the training loop.
  void read_view(size_t row, float* image, float* target) const;
  int view_channel() const;  // the image file's channel read_view() shows (2: FLAIR)
  int height() const { return h_; }
  int width() const { return w_; }

 private:
  data::NpyReader images_, masks_;
  std::vector<int> in_channels_;    // image channels fed to the plan
  std::vector<int> mask_channels_;  // mask channels whose sum is the target
  int h_, w_, file_c_, mask_c_;
  std::vector<float> img_rows_, mask_rows_, selected_;
};

}  // namespace unet::runtime
