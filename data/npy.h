// numpy .npy files: a memory-mapped reader that hands out rows as float32, and a streaming
// writer whose memory stays flat however many rows are appended.
#pragma once
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/atomic_file.h"
#include "data/data_error.h"
#include "data/npy_dtype.h"
#include "data/npy_header.h"
#include "data/npy_mapped_file.h"

namespace unet::data {

// One array inside memory someone else owns (a mapped .npy, an .npz member). `keepalive`
// holds a decompressed buffer when there is one, so a view may outlive its reader then;
// a view into a mapping is valid while the reader lives.
class NpyArrayView {
 public:
  NpyArrayView(std::string source, NpyHeader header, const uint8_t* data,
               std::shared_ptr<const void> keepalive = nullptr);

  const std::string& source() const { return source_; }  // names it in error messages
  NpyDtype dtype() const { return header_.dtype; }
  bool big_endian() const { return header_.big_endian; }
  const std::vector<size_t>& shape() const { return header_.shape; }
  size_t elements() const { return header_.elements; }
  size_t bytes() const { return header_.data_bytes; }
  const void* data() const { return data_; }  // raw elements, C order, file byte order

  void to_f32(float* out) const;  // elements() floats
  std::vector<float> to_f32() const;

 private:
  std::string source_;
  NpyHeader header_;
  const uint8_t* data_;
  std::shared_ptr<const void> keepalive_;
};

// A .npy file viewed as count() rows of row_elems() elements (the first dimension indexes
// rows: images of a data set). A 0-d array is one row of one element.
class NpyReader {
 public:
  // Maps the file and validates the header and that the data fits. Throws DataError, e.g.
  // "imgs_train.npy: truncated: header says 128x128x4 float32 x 100 = 6553600 bytes of
  // data, file holds 4096".
  static NpyReader open(const std::string& path);

  const std::string& path() const { return file_.path(); }
  const std::vector<size_t>& shape() const { return header_.shape; }
  NpyDtype dtype() const { return header_.dtype; }
  bool big_endian() const { return header_.big_endian; }
  size_t count() const;      // rows: the first dimension
  size_t row_elems() const;  // product of the other dimensions
  const NpyHeader& header() const { return header_; }
  NpyArrayView view() const;

  // Raw pointer to row `row` (file dtype and byte order), for zero-copy use when
  // dtype() == f32 and !big_endian().
  const void* row_data(size_t row) const;

  // Rows [first_row, first_row + n_rows) -> out (n_rows * row_elems() floats).
  void read_rows_f32(size_t first_row, size_t n_rows, float* out) const;
  // Rows row_indices[0..n) in that order (a shuffled batch) -> out. (A template only so that
  // read_rows_f32(0, n, out) is not ambiguous with a literal 0 as a null pointer.)
  template <std::same_as<size_t> Index>
  void read_rows_f32(const Index* row_indices, size_t n, float* out) const {
    read_indexed_rows_f32(row_indices, n, out);
  }

 private:
  NpyReader(MappedFile file, NpyHeader header);
  void check_rows(size_t first_row, size_t n_rows) const;
  void read_indexed_rows_f32(const size_t* row_indices, size_t n, float* out) const;

  MappedFile file_;
  NpyHeader header_;
};

// Streams rows of one dtype into "<path>.tmp.<pid>"; commit() writes the final first
// dimension into the header and renames the file into place. The header is padded to a
// size that fits any row count, so the fix-up never moves the data. Without commit(),
// nothing appears at `path`.
class NpyWriter {
 public:
  NpyWriter(const std::string& path, NpyDtype dtype, std::vector<size_t> row_shape);

  // n_rows rows already in `dtype`, little-endian.
  void append_rows(const void* data, size_t n_rows);
  // n_rows rows of float32, converted to `dtype` (convert_from_f32's rounding).
  void append_rows_f32(const float* data, size_t n_rows);

  size_t rows() const { return rows_; }
  size_t row_elems() const { return row_elems_; }
  void commit();

 private:
  AtomicFile file_;
  NpyDtype dtype_;
  std::vector<size_t> row_shape_;
  size_t row_elems_ = 1;
  size_t row_bytes_ = 0;
  size_t header_length_ = 0;
  size_t rows_ = 0;
  std::vector<uint8_t> scratch_;  // one conversion chunk, reused
};

// shape[0] x ... floats -> a float32 .npy at path, atomically.
void write_npy_f32(const std::string& path, const std::vector<size_t>& shape, const float* data);

}  // namespace unet::data
