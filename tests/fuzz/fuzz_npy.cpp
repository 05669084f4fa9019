// .npy bytes: the header parser on its own (in memory, as the .npz reader calls it), then the
// mapped-file reader (NpyReader::open on the bytes as a file) and the row reads the data feed
// makes. A header that opens must describe exactly the bytes it claims, and every row the
// reader admits to must convert.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "data/npy.h"
#include "tests/fuzz/fuzz_support.h"

using namespace unet;

namespace {

// One line naming the source: what every reader error must be.
void check_error(const data::DataError& e, const std::string& source) {
  const std::string what = e.what();
  UNET_FUZZ_CHECK(what.rfind(source + ": ", 0) == 0 && what.find('\n') == std::string::npos, what);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const data::NpyHeader h = data::parse_npy_header(data, size, "fuzz.npy");
    UNET_FUZZ_CHECK(h.data_offset <= size, "data starts past the bytes parsed");
    size_t elements = 1;
    for (size_t d : h.shape) UNET_FUZZ_CHECK(!__builtin_mul_overflow(elements, d, &elements), "shape overflows");
    UNET_FUZZ_CHECK(elements == h.elements, "elements != product of the shape");
    UNET_FUZZ_CHECK(h.data_bytes == h.elements * data::npy_dtype_size(h.dtype), "data_bytes");
  } catch (const data::DataError& e) {
    check_error(e, "fuzz.npy");
  }

  static unet::fuzz::MemFile file;
  const std::string& path = file.hold(data, size);
  try {
    const data::NpyReader r = data::NpyReader::open(path);
    const size_t count = r.count(), row = r.row_elems();
    size_t total = 0;
    UNET_FUZZ_CHECK(!__builtin_mul_overflow(count, row, &total) && total == r.header().elements,
                    fmt::format("rows {} x row elements {} != elements {}", count, row, r.header().elements));
    // The data is inside the file, so a whole read is at most size floats: bounded by -max_len.
    std::vector<float> all(total);
    r.read_rows_f32(0, count, all.data());
    if (count > 0) {
      std::vector<float> one(row);
      const size_t pick[] = {count - 1, 0, count / 2};
      std::vector<float> three(3 * row);
      r.read_rows_f32(pick, 3, three.data());
      r.read_rows_f32(count - 1, 1, one.data());
      UNET_FUZZ_CHECK(row == 0 || std::memcmp(one.data(), three.data(), row * sizeof(float)) == 0,
                      "indexed and ranged reads of the last row differ");
      (void)r.row_data(count - 1);
    }
    const std::vector<float> v = r.view().to_f32();
    UNET_FUZZ_CHECK(v.size() == total, "view size");
    // Past the end is an error, never a read.
    try {
      r.read_rows_f32(count, 1, all.data());
      unet::fuzz::broken("read past the last row succeeded");
    } catch (const data::DataError& e) {
      check_error(e, path);
    }
  } catch (const data::DataError& e) {
    check_error(e, path);
  }
  return 0;
}
