#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "data/npy.h"

namespace unet::data {

NpyArrayView::NpyArrayView(std::string source, NpyHeader header, const uint8_t* data,
                           std::shared_ptr<const void> keepalive)
    : source_(std::move(source)), header_(std::move(header)), data_(data), keepalive_(std::move(keepalive)) {}

void NpyArrayView::to_f32(float* out) const {
  convert_to_f32(header_.dtype, header_.big_endian, data_, header_.elements, out);
}

std::vector<float> NpyArrayView::to_f32() const {
  std::vector<float> out(header_.elements);
  to_f32(out.data());
  return out;
}

NpyReader::NpyReader(MappedFile file, NpyHeader header) : file_(std::move(file)), header_(std::move(header)) {}

NpyReader NpyReader::open(const std::string& path) {
  MappedFile file = MappedFile::open(path);
  NpyHeader header = parse_npy_header(file.data(), file.size(), path);
  size_t available = file.size() - header.data_offset;
  if (header.data_bytes > available) {
    std::string what;
    if (header.shape.empty()) {
      what = fmt::format("a {} scalar", npy_dtype_name(header.dtype));
    } else {
      std::vector<size_t> row_shape(header.shape.begin() + 1, header.shape.end());
      what = fmt::format("{}{} x {}", row_shape.empty() ? "" : shape_to_string(row_shape) + " ",
                         npy_dtype_name(header.dtype), header.shape[0]);
    }
    throw DataError(fmt::format("{}: truncated: header says {} = {} bytes, file holds {} after the "
                                "{}-byte header",
                                path, what, header.data_bytes, available, header.data_offset));
  }
  return NpyReader(std::move(file), std::move(header));
}

size_t NpyReader::count() const { return header_.shape.empty() ? 1 : header_.shape[0]; }

size_t NpyReader::row_elems() const {
  size_t n = 1;
  for (size_t i = 1; i < header_.shape.size(); ++i) n *= header_.shape[i];  // no overflow: checked on open
  return n;
}

NpyArrayView NpyReader::view() const {
  return NpyArrayView(path(), header_, file_.data() + header_.data_offset);
}

void NpyReader::check_rows(size_t first_row, size_t n_rows) const {
  if (first_row > count() || n_rows > count() - first_row)
    throw DataError(fmt::format("{}: rows [{}, {}) out of range: the file holds {} rows", path(),
                                first_row, first_row + n_rows, count()));
}

const void* NpyReader::row_data(size_t row) const {
  check_rows(row, 1);
  return file_.data() + header_.data_offset + row * row_elems() * npy_dtype_size(header_.dtype);
}

void NpyReader::read_rows_f32(size_t first_row, size_t n_rows, float* out) const {
  check_rows(first_row, n_rows);
  size_t elems = row_elems();
  const uint8_t* src = file_.data() + header_.data_offset + first_row * elems * npy_dtype_size(header_.dtype);
  convert_to_f32(header_.dtype, header_.big_endian, src, n_rows * elems, out);
}

void NpyReader::read_indexed_rows_f32(const size_t* row_indices, size_t n, float* out) const {
  size_t elems = row_elems();
  size_t row_bytes = elems * npy_dtype_size(header_.dtype);
  const uint8_t* base = file_.data() + header_.data_offset;
  for (size_t i = 0; i < n; ++i) {
    if (row_indices[i] >= count())
      throw DataError(fmt::format("{}: row index {} (batch position {}) out of range: the file holds {} rows",
                                  path(), row_indices[i], i, count()));
    convert_to_f32(header_.dtype, header_.big_endian, base + row_indices[i] * row_bytes, elems, out + i * elems);
  }
}

}  // namespace unet::data
