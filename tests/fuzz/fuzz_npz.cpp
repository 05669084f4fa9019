// .npz bytes (a zip archive: end record, optional zip64 records, central directory, local
// headers, stored or deflated members) through NpzReader, and every member it lists read
// as an array and as raw bytes, as the checkpoint loader and numpy users of the files do.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "data/npz.h"
#include "tests/fuzz/fuzz_support.h"

using namespace unet;

namespace {

void check_error(const data::DataError& e, const std::string& path) {
  const std::string what = e.what();
  UNET_FUZZ_CHECK(what.rfind(path + ": ", 0) == 0 && what.find('\n') == std::string::npos, what);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static unet::fuzz::MemFile file;
  const std::string& path = file.hold(data, size);
  try {
    const data::NpzReader npz = data::NpzReader::open(path);
    const std::vector<std::string> keys = npz.keys();
    for (const std::string& key : keys) {
      UNET_FUZZ_CHECK(npz.has(key), key);
      try {
        const data::NpyArrayView v = npz.get(key);
        const std::vector<float> f = v.to_f32();
        UNET_FUZZ_CHECK(f.size() == v.elements(), key);
        // The loader's form: the shape it found is the shape it asks for, so this must agree.
        UNET_FUZZ_CHECK(npz.read_f32(key, v.shape()).size() == f.size(), key);
      } catch (const data::DataError& e) {
        check_error(e, path);
      }
      try {
        (void)npz.read_bytes(key);
      } catch (const data::DataError& e) {
        check_error(e, path);
      }
    }
    try {
      (void)npz.get("no such member, surely");
      UNET_FUZZ_CHECK(npz.has("no such member, surely"), "get() of an absent key succeeded");
    } catch (const data::DataError& e) {
      check_error(e, path);
    }
  } catch (const data::DataError& e) {
    check_error(e, path);
  }
  return 0;
}
