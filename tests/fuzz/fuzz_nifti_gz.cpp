// The NIfTI-1 bytes behind gzip: the input (after one control byte) is the decompressed
// stream, gzipped here before the reader sees it, so mutations land on the header fields and
// voxels rather than on deflate codes the reader would just call corrupt. The control byte
// also picks how the gzip stream is framed: whole, as two concatenated members (gzip -c a b),
// with a wrong CRC in the trailer, or cut before the trailer.
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "tests/fuzz/nifti_check.h"

namespace {

// One gzip member holding bytes[0, n), at deflate level 1 (the fuzzer's time is better spent
// reading than compressing).
void append_gzip_member(const uint8_t* bytes, size_t n, std::vector<uint8_t>& out) {
  z_stream z{};
  if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) std::abort();
  const size_t start = out.size();
  out.resize(start + deflateBound(&z, n) + 32);
  z.next_in = const_cast<Bytef*>(bytes);
  z.avail_in = static_cast<uInt>(n);
  z.next_out = out.data() + start;
  z.avail_out = static_cast<uInt>(out.size() - start);
  if (deflate(&z, Z_FINISH) != Z_STREAM_END) std::abort();
  out.resize(start + z.total_out);
  deflateEnd(&z);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t control = data[0];
  const uint8_t* plain = data + 1;
  const size_t n = size - 1;
  std::vector<uint8_t> gz;
  switch (control % 4) {
    case 0: append_gzip_member(plain, n, gz); break;
    case 1: {
      const size_t cut = n == 0 ? 0 : (control / 4) * n / 64 % (n + 1);
      append_gzip_member(plain, cut, gz);
      append_gzip_member(plain + cut, n - cut, gz);
      break;
    }
    case 2:
      append_gzip_member(plain, n, gz);
      gz[gz.size() - 8] ^= 1;  // the trailer's CRC-32
      break;
    default:
      append_gzip_member(plain, n, gz);
      gz.resize(gz.size() - 1 - control / 4 % 8);  // inside the trailer
      break;
  }
  unet::fuzz::read_nifti_both_ways(gz.data(), gz.size());
  return 0;
}
