// The .npy header: magic, version, and the Python-literal dict
// {'descr': '<f4', 'fortran_order': False, 'shape': (100, 128, 128, 4), }.
// Parsed defensively (the bytes are untrusted); shared by the .npy and .npz readers.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "data/npy_dtype.h"

namespace unet::data {

struct NpyHeader {
  NpyDtype dtype = NpyDtype::f32;
  bool big_endian = false;
  std::vector<size_t> shape;  // empty for a 0-d array (one element)
  size_t data_offset = 0;     // bytes from the start of the file to the first element
  size_t elements = 1;        // product of shape
  size_t data_bytes = 0;      // elements * element size (overflow checked)
};

// Parses the header at bytes[0, size). `source` names the input in error messages
// ("imgs_train.npy" or "ckpt.npz: member 'conv1a/kernel'"). Throws DataError on any defect
// (bad magic, version, dict, key, descr, fortran_order True, shape, size overflow). Does
// not check that the data fits in `size`: callers word that with their own context.
NpyHeader parse_npy_header(const uint8_t* bytes, size_t size, const std::string& source);

// "100x128x128x4" ("scalar" for a 0-d shape).
std::string shape_to_string(const std::vector<size_t>& shape);

// A version 1.0 header (version 2.0 when the dict needs it) for a C-order array, padded
// with spaces so that its length is at least min_length and a multiple of 64.
std::string format_npy_header(NpyDtype dtype, bool big_endian, const std::vector<size_t>& shape,
                              size_t min_length = 0);

}  // namespace unet::data
