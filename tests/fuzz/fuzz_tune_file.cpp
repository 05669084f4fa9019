// tune.json text -> the JSON reader and the tune file's checks (runtime::parse_tune_file), what
// unetc --tune reads. Either a one-line RuntimeError naming the file, or a file that the
// writer writes back to a text that parses to the same text again. Never a crash, never
// another exception.
#include <cstddef>
#include <cstdint>
#include <string>

#include "runtime/runtime_error.h"
#include "runtime/tune_file.h"
#include "tests/fuzz/fuzz_support.h"

using namespace unet;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  runtime::TuneFile f;
  try {
    f = runtime::parse_tune_file(text, "fuzz.json");
  } catch (const runtime::RuntimeError& e) {
    const std::string what = e.what();
    UNET_FUZZ_CHECK(what.rfind("fuzz.json: ", 0) == 0, what);
    UNET_FUZZ_CHECK(what.find('\n') == std::string::npos, what);
    return 0;
  }
  const std::string once = runtime::tune_file_json(f);
  try {
    UNET_FUZZ_CHECK(runtime::tune_file_json(runtime::parse_tune_file(once, "again.json")) == once, once);
  } catch (const runtime::RuntimeError& e) {
    unet::fuzz::broken(std::string("a tune file written back does not read: ") + e.what());
  }
  return 0;
}
