#include "data/nifti_writer.h"

#include <fmt/format.h>
#include <zlib.h>

#include <cstring>
#include <vector>

#include "data/atomic_file.h"

namespace unet::data {

namespace {

template <class T>
void put(std::vector<uint8_t>& h, size_t offset, T v) {
  std::memcpy(h.data() + offset, &v, sizeof v);
}

// 348-byte header, 4 bytes of "no extensions", voxels from byte 352.
std::vector<uint8_t> make_header(const std::array<int64_t, 3>& dims, const std::array<float, 3>& mm,
                                 NiftiDatatype dtype, const std::string& path) {
  std::vector<uint8_t> h(352, 0);
  put<int32_t>(h, 0, 348);
  put<char>(h, 38, 'r');  // "regular", as Analyze readers expect
  put<int16_t>(h, 40, 3);
  for (int i = 0; i < 3; ++i) {
    if (dims[i] < 1 || dims[i] > 32767)
      throw DataError(fmt::format("{}: cannot write dim[{}] = {}: NIfTI-1 dimensions are 1..32767", path, i + 1,
                                  dims[i]));
    put<int16_t>(h, 42 + 2 * i, static_cast<int16_t>(dims[i]));
  }
  for (int i = 4; i <= 7; ++i) put<int16_t>(h, 40 + 2 * i, 1);
  put<int16_t>(h, 70, static_cast<int16_t>(dtype));
  put<int16_t>(h, 72, static_cast<int16_t>(nifti_datatype_bits(dtype)));
  put<float>(h, 76, 1.f);  // qfac
  for (int i = 0; i < 3; ++i) put<float>(h, 80 + 4 * i, mm[i]);
  for (int i = 3; i < 8; ++i) put<float>(h, 76 + 4 * i, 1.f);
  put<float>(h, 108, 352.f);
  put<float>(h, 112, 1.f);  // scl_slope 1, scl_inter 0: stored values are the values
  put<uint8_t>(h, 123, 2 | 8);  // mm and seconds
  const char* descrip = "unet";
  std::memcpy(h.data() + 148, descrip, std::strlen(descrip));
  put<int16_t>(h, 252, 1);  // qform: scanner, identity rotation
  put<int16_t>(h, 254, 1);  // sform: scanner, the same axes
  put<float>(h, 280, mm[0]);
  put<float>(h, 296 + 4, mm[1]);
  put<float>(h, 312 + 8, mm[2]);
  std::memcpy(h.data() + 344, "n+1", 4);
  return h;
}

bool ends_with(const std::string& s, const char* tail) {
  const size_t n = std::strlen(tail);
  return s.size() >= n && s.compare(s.size() - n, n, tail) == 0;
}

}  // namespace

void write_nifti(const std::string& path, const std::array<int64_t, 3>& dims, const std::array<float, 3>& voxel_mm,
                 NiftiDatatype dtype, const void* voxels, int gzip_level) {
  const std::vector<uint8_t> header = make_header(dims, voxel_mm, dtype, path);
  const size_t data_bytes =
      static_cast<size_t>(dims[0] * dims[1] * dims[2]) * static_cast<size_t>(nifti_datatype_bits(dtype) / 8);
  AtomicFile file(path);
  if (!ends_with(path, ".gz")) {
    file.write(header.data(), header.size());
    file.write(voxels, data_bytes);
    file.commit();
    return;
  }

  z_stream zs;
  std::memset(&zs, 0, sizeof zs);
  if (deflateInit2(&zs, gzip_level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw DataError(fmt::format("{}: gzip: cannot start zlib at level {}", path, gzip_level));
  std::vector<uint8_t> out(1 << 18);
  auto pump = [&](const uint8_t* in, size_t n, int flush) {
    constexpr size_t kChunk = size_t{1} << 30;
    do {
      const size_t take = std::min(n, kChunk);
      zs.next_in = const_cast<uint8_t*>(in);
      zs.avail_in = static_cast<uInt>(take);
      in += take;
      n -= take;
      const int f = n == 0 ? flush : Z_NO_FLUSH;
      do {
        zs.next_out = out.data();
        zs.avail_out = static_cast<uInt>(out.size());
        const int rc = deflate(&zs, f);
        if (rc == Z_STREAM_ERROR) {
          deflateEnd(&zs);
          throw DataError(fmt::format("{}: gzip: zlib deflate failed", path));
        }
        file.write(out.data(), out.size() - zs.avail_out);
      } while (zs.avail_out == 0);
    } while (n > 0);
  };
  try {
    pump(header.data(), header.size(), Z_NO_FLUSH);
    pump(static_cast<const uint8_t*>(voxels), data_bytes, Z_FINISH);
  } catch (...) {
    deflateEnd(&zs);
    throw;
  }
  deflateEnd(&zs);
  file.commit();
}

}  // namespace unet::data
