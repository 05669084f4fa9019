#include "runtime/dataset.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>

#include <fmt/format.h>

#include "base/limits.h"
#include "kernels/layout_reorder.h"
#include "runtime/runtime_error.h"

namespace unet::runtime {

namespace {

constexpr const char* kModalities[] = {"t1", "t2", "flair", "t1ce"};
static_assert(std::size(kModalities) == limits::kMaxImageChannels);

std::string shape_text(const std::vector<size_t>& s) {
  std::string out = "[";
  for (size_t k = 0; k < s.size(); ++k) out += (k ? "," : "") + std::to_string(s[k]);
  return out + "]";
}

}  // namespace

std::vector<int> parse_channels(const std::string& spec) {
  if (spec == "all") return {0, 1, 2, 3};
  std::vector<int> out;
  std::stringstream ss(spec);
  std::string item;
  while (std::getline(ss, item, ',')) {
    int found = -1;
    for (int k = 0; k < 4; ++k)
      if (item == kModalities[k] || item == std::to_string(k)) found = k;
    if (found < 0)
      throw RuntimeError(fmt::format("--channels: '{}' is not a modality (t1, t2, flair, t1ce or 0-3)", item));
    if (std::find(out.begin(), out.end(), found) != out.end())
      throw RuntimeError(fmt::format("--channels: '{}' is named twice", item));
    out.push_back(found);
  }
  if (out.empty()) throw RuntimeError("--channels: no channel named");
  return out;
}

Dataset::Dataset(const std::string& dir, const std::string& split, const DataSelection& sel,
                 int in_c, int in_h, int in_w, int max_batch)
    : images_(data::NpyReader::open(dir + "/imgs_" + split + ".npy")),
      masks_(data::NpyReader::open(dir + "/msks_" + split + ".npy")) {
  const auto& is = images_.shape();
  const auto& ms = masks_.shape();
  if (is.size() != 4)
    throw RuntimeError(fmt::format("{}: shape {} is not [N,H,W,C]", images_.path(), shape_text(is)));
  if (ms.size() != 4)
    throw RuntimeError(fmt::format("{}: shape {} is not [N,H,W,C]", masks_.path(), shape_text(ms)));
  if (is[0] != ms[0] || is[1] != ms[1] || is[2] != ms[2])
    throw RuntimeError(fmt::format("{}: shape {} does not match the images' {} in {}", masks_.path(),
                                   shape_text(ms), shape_text(is), images_.path()));
  // Every dimension stays size_t until it is bounded: a sparse file can claim any shape, and
  // narrowing (1,1,1,2^32+1) to int would size the row buffers for one channel.
  if (is[1] != static_cast<size_t>(in_h) || is[2] != static_cast<size_t>(in_w))
    throw RuntimeError(fmt::format("{}: images are {}x{}, the plan was compiled for {}x{}", images_.path(),
                                   is[1], is[2], in_h, in_w));
  if (is[3] < 1 || is[3] > limits::kMaxImageChannels)
    throw RuntimeError(fmt::format("{}: images have {} channels; expected 1 to {} (t1, t2, flair, t1ce)",
                                   images_.path(), is[3], limits::kMaxImageChannels));
  if (ms[3] != 1 && ms[3] != 4)
    throw RuntimeError(fmt::format("{}: masks have {} channels; expected 4 (one-hot background, 1, 2, 4) or 1",
                                   masks_.path(), ms[3]));
  h_ = in_h;
  w_ = in_w;
  file_c_ = static_cast<int>(is[3]);
  mask_c_ = static_cast<int>(ms[3]);
  if (sel.mode < 1 || sel.mode > 3) throw RuntimeError(fmt::format("--mode {}: must be 1, 2 or 3", sel.mode));

  static constexpr int kModeModality[] = {0, 2, 3, 1};  // 1: flair, 2: t1ce, 3: t2
  if (!sel.channels.empty()) {
    in_channels_ = sel.channels;
  } else if (file_c_ == 1) {
    in_channels_ = {0};  // an already-selected modality
  } else {
    in_channels_ = {kModeModality[sel.mode]};
  }
  for (int ch : in_channels_)
    if (ch >= file_c_)
      throw RuntimeError(fmt::format("{}: has {} channels, channel {} ({}) was asked for", images_.path(),
                                     file_c_, ch, ch < 4 ? kModalities[ch] : "?"));
  if (static_cast<int>(in_channels_.size()) != in_c)
    throw RuntimeError(fmt::format("the plan takes {} input channel(s), {} selected (use --channels to pick "
                                   "them, or compile a model with {} input channels)",
                                   in_c, in_channels_.size(), in_channels_.size()));

  if (mask_c_ == 1) {
    mask_channels_ = {0};
  } else {
    static const std::vector<int> kModeMask[] = {{}, {1, 2, 3}, {3}, {1, 3}};
    mask_channels_ = kModeMask[sel.mode];
  }
  const size_t pixels = static_cast<size_t>(h_) * w_;
  img_rows_.resize(static_cast<size_t>(max_batch) * pixels * file_c_);
  mask_rows_.resize(static_cast<size_t>(max_batch) * pixels * mask_c_);
  selected_.resize(static_cast<size_t>(max_batch) * pixels * in_channels_.size());
}

Dataset::Dataset(const std::string& dir, const std::string& split, const DataSelection& selection,
                 const plan::Plan& plan)
    : Dataset(dir, split, selection, static_cast<int>(plan.in_c), static_cast<int>(plan.in_h),
              static_cast<int>(plan.in_w), static_cast<int>(plan.batch)) {}

Dataset::~Dataset() = default;

size_t Dataset::size() const { return images_.count(); }
const std::string& Dataset::images_path() const { return images_.path(); }

void Dataset::load(const size_t* idx, size_t n, const kernels::TensorArg& input,
                   const kernels::TensorArg& target) {
  const size_t pixels = static_cast<size_t>(h_) * w_;
  images_.read_rows_f32(idx, n, img_rows_.data());
  masks_.read_rows_f32(idx, n, mask_rows_.data());
  const size_t cin = in_channels_.size();
  // NaN or infinite intensities would make every later step NaN, far from their cause.
  bool bad = false;  // one branch-free pass over what was read; the search only on failure
  for (size_t k = 0; k < n * pixels * static_cast<size_t>(file_c_); ++k) bad |= !std::isfinite(img_rows_[k]);
  for (size_t k = 0; bad && k < n * pixels * static_cast<size_t>(file_c_); ++k)
    if (!std::isfinite(img_rows_[k])) {
      const size_t px = k / static_cast<size_t>(file_c_) % pixels;
      throw RuntimeError(fmt::format("{}: image {} holds {} at y {}, x {}, channel {}", images_.path(),
                                     idx[k / (pixels * static_cast<size_t>(file_c_))], img_rows_[k],
                                     px / static_cast<size_t>(w_), px % static_cast<size_t>(w_),
                                     k % static_cast<size_t>(file_c_)));
    }
  std::fill(selected_.begin(), selected_.end(), 0.f);
  for (size_t i = 0; i < n; ++i)
    for (size_t p = 0; p < pixels; ++p) {
      const float* src = &img_rows_[(i * pixels + p) * file_c_];
      float* dst = &selected_[(i * pixels + p) * cin];
      for (size_t k = 0; k < cin; ++k) dst[k] = src[in_channels_[k]];
    }
  kernels::TensorArg in = input;
  kernels::nhwc_to_blocked(selected_.data(), in);
  for (int i = 0; i < target.n; ++i)
    for (size_t p = 0; p < pixels; ++p) {
      float t = 0.f;
      if (static_cast<size_t>(i) < n) {
        const float* m = &mask_rows_[(i * pixels + p) * mask_c_];
        for (int ch : mask_channels_) t += m[ch];
      }
      target.data[i * target.image_stride + static_cast<int64_t>(p)] = t > 0.5f ? 1.f : 0.f;
    }
}

int Dataset::view_channel() const {
  constexpr int kFlair = 2;
  if (file_c_ > kFlair && std::find(in_channels_.begin(), in_channels_.end(), kFlair) != in_channels_.end())
    return kFlair;
  return in_channels_.front();
}

void Dataset::read_view(size_t row, float* image, float* target) const {
  const size_t pixels = static_cast<size_t>(h_) * w_;
  std::vector<float> img(pixels * static_cast<size_t>(file_c_)), msk(pixels * static_cast<size_t>(mask_c_));
  images_.read_rows_f32(row, 1, img.data());
  masks_.read_rows_f32(row, 1, msk.data());
  const size_t ch = static_cast<size_t>(view_channel());
  for (size_t p = 0; p < pixels; ++p) {
    image[p] = img[p * static_cast<size_t>(file_c_) + ch];
    float t = 0.f;
    for (int c : mask_channels_) t += msk[p * static_cast<size_t>(mask_c_) + static_cast<size_t>(c)];
    target[p] = t > 0.5f ? 1.f : 0.f;
  }
}

}  // namespace unet::runtime
