#include <algorithm>
#include <limits>

#include <fmt/format.h>

#include "data/npy.h"

namespace unet::data {
namespace {

// append_rows_f32 converts through a buffer of this many bytes, so memory stays flat.
constexpr size_t kScratchBytes = 1 << 20;

std::vector<size_t> with_rows(size_t rows, const std::vector<size_t>& row_shape) {
  std::vector<size_t> shape{rows};
  shape.insert(shape.end(), row_shape.begin(), row_shape.end());
  return shape;
}

}  // namespace

NpyWriter::NpyWriter(const std::string& path, NpyDtype dtype, std::vector<size_t> row_shape)
    : file_(path), dtype_(dtype), row_shape_(std::move(row_shape)) {
  for (size_t d : row_shape_) {
    if (__builtin_mul_overflow(row_elems_, d, &row_elems_))
      throw DataError(fmt::format("{}: row shape {} is too large", path, shape_to_string(row_shape_)));
  }
  if (__builtin_mul_overflow(row_elems_, npy_dtype_size(dtype_), &row_bytes_))
    throw DataError(fmt::format("{}: row shape {} is too large", path, shape_to_string(row_shape_)));
  // Sized for the longest first dimension, so the final header has exactly this length.
  std::string header = format_npy_header(dtype_, false, with_rows(std::numeric_limits<size_t>::max(), row_shape_));
  header_length_ = header.size();
  file_.write(format_npy_header(dtype_, false, with_rows(0, row_shape_), header_length_));
}

void NpyWriter::append_rows(const void* data, size_t n_rows) {
  if (n_rows > 0 && row_bytes_ > 0 && n_rows > std::numeric_limits<size_t>::max() / row_bytes_)
    throw DataError(fmt::format("{}: {} rows of {} bytes overflow", file_.path(), n_rows, row_bytes_));
  file_.write(data, n_rows * row_bytes_);
  rows_ += n_rows;
}

void NpyWriter::append_rows_f32(const float* data, size_t n_rows) {
  if (dtype_ == NpyDtype::f32) {
    append_rows(data, n_rows);
    return;
  }
  size_t element_size = npy_dtype_size(dtype_);
  size_t total = n_rows * row_elems_;
  size_t chunk = std::max<size_t>(1, kScratchBytes / element_size);
  scratch_.resize(std::min(total, chunk) * element_size);
  for (size_t done = 0; done < total; done += chunk) {
    size_t n = std::min(chunk, total - done);
    convert_from_f32(dtype_, data + done, n, scratch_.data());
    file_.write(scratch_.data(), n * element_size);
  }
  rows_ += n_rows;
}

void NpyWriter::commit() {
  std::string header = format_npy_header(dtype_, false, with_rows(rows_, row_shape_), header_length_);
  if (header.size() != header_length_)
    throw DataError(fmt::format("{}: internal: header grew from {} to {} bytes", file_.path(),
                                header_length_, header.size()));
  file_.pwrite(0, header.data(), header.size());
  file_.commit();
}

void write_npy_f32(const std::string& path, const std::vector<size_t>& shape, const float* data) {
  if (shape.empty()) {  // a 0-d array has no row dimension to fix up
    AtomicFile file(path);
    file.write(format_npy_header(NpyDtype::f32, false, {}));
    file.write(data, sizeof(float));
    file.commit();
    return;
  }
  NpyWriter writer(path, NpyDtype::f32, std::vector<size_t>(shape.begin() + 1, shape.end()));
  writer.append_rows(data, shape[0]);
  writer.commit();
}

}  // namespace unet::data
