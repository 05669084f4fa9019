#include "data/nifti_reader.h"

#include <fmt/format.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <type_traits>
#include <vector>

#include "base/limits.h"

namespace unet::data {

const char* nifti_datatype_name(NiftiDatatype dtype) {
  switch (dtype) {
    case NiftiDatatype::u8: return "uint8";
    case NiftiDatatype::i16: return "int16";
    case NiftiDatatype::i32: return "int32";
    case NiftiDatatype::f32: return "float32";
    case NiftiDatatype::f64: return "float64";
    case NiftiDatatype::u16: return "uint16";
  }
  return "unknown";
}

int nifti_datatype_bits(NiftiDatatype dtype) {
  switch (dtype) {
    case NiftiDatatype::u8: return 8;
    case NiftiDatatype::i16: return 16;
    case NiftiDatatype::u16: return 16;
    case NiftiDatatype::i32: return 32;
    case NiftiDatatype::f32: return 32;
    case NiftiDatatype::f64: return 64;
  }
  return 0;
}

namespace {

constexpr size_t kHeaderBytes = 348;

// Other NIfTI codes, named so the error says what the file holds rather than just a number.
const char* other_datatype_name(int code) {
  switch (code) {
    case 0: return "unknown";
    case 1: return "binary";
    case 32: return "complex64";
    case 128: return "RGB24";
    case 256: return "int8";
    case 768: return "uint32";
    case 1024: return "int64";
    case 1280: return "uint64";
    case 1536: return "float128";
    case 1792: return "complex128";
    case 2048: return "complex256";
    case 2304: return "RGBA32";
    default: return "not a NIfTI datatype";
  }
}

// Where the bytes come from: the plain file, or the gzip stream inflated on the fly.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Fills up to n bytes; returns how many (fewer only at the end of the data).
  virtual size_t read(uint8_t* dst, size_t n) = 0;
  // After the voxels: for gzip, inflate to the end so the CRC is checked.
  virtual void finish() {}
};

// The file's first `limit` bytes (all of it by default); *file_size gets its whole size.
std::vector<uint8_t> slurp(const std::string& path, size_t limit, size_t* file_size) {
  // Only a regular file is read: O_NONBLOCK keeps the open of a FIFO from waiting for a
  // writer forever, and the S_ISREG check refuses it (and devices, and folders).
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) throw DataError(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  std::unique_ptr<FILE, int (*)(FILE*)> f(::fdopen(fd, "rb"), &std::fclose);
  if (!f) {
    const int err = errno;
    ::close(fd);
    throw DataError(fmt::format("{}: cannot open: {}", path, std::strerror(err)));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw DataError(fmt::format("{}: cannot stat: {}", path, std::strerror(errno)));
  if (!S_ISREG(st.st_mode)) throw DataError(fmt::format("{}: not a regular file", path));
  *file_size = static_cast<size_t>(st.st_size);
  // Sized from the file (one read, no regrowing); a file that grows meanwhile still reads
  // to its end.
  std::vector<uint8_t> bytes(std::min(limit, *file_size));
  const size_t have = std::fread(bytes.data(), 1, bytes.size(), f.get());
  bytes.resize(have);
  uint8_t chunk[1 << 16];
  size_t got;
  while (bytes.size() < limit && (got = std::fread(chunk, 1, std::min(sizeof chunk, limit - bytes.size()), f.get())) > 0)
    bytes.insert(bytes.end(), chunk, chunk + got);
  if (limit == SIZE_MAX) *file_size = bytes.size();  // what was read is what the checks see
  if (std::ferror(f.get())) throw DataError(fmt::format("{}: read error: {}", path, std::strerror(errno)));
  return bytes;
}

class PlainSource : public ByteSource {
 public:
  explicit PlainSource(std::vector<uint8_t> bytes) : bytes_(std::move(bytes)) {}
  size_t read(uint8_t* dst, size_t n) override {
    const size_t take = std::min(n, bytes_.size() - pos_);
    if (take == 0) return 0;  // an empty file: memcpy may not be handed its null data()
    std::memcpy(dst, bytes_.data() + pos_, take);
    pos_ += take;
    return take;
  }

 private:
  std::vector<uint8_t> bytes_;
  size_t pos_ = 0;
};

class GzipSource : public ByteSource {
 public:
  GzipSource(std::string path, std::vector<uint8_t> compressed)
      : path_(std::move(path)), compressed_(std::move(compressed)) {
    std::memset(&zs_, 0, sizeof zs_);
    if (inflateInit2(&zs_, 15 + 16) != Z_OK) throw DataError(fmt::format("{}: gzip: cannot start zlib", path_));
    zs_.next_in = compressed_.data();
    zs_.avail_in = static_cast<uInt>(std::min<size_t>(compressed_.size(), kMaxChunk));
    fed_ = zs_.avail_in;
  }
  ~GzipSource() override { inflateEnd(&zs_); }

  size_t read(uint8_t* dst, size_t n) override {
    size_t done = 0;
    while (done < n && !ended_) {
      const size_t want = std::min(n - done, kMaxChunk);
      zs_.next_out = dst + done;
      zs_.avail_out = static_cast<uInt>(want);
      const int rc = inflate(&zs_, Z_NO_FLUSH);
      done += want - zs_.avail_out;
      refill();
      if (rc == Z_STREAM_END) {
        // Concatenated gzip members (gzip -c a b) are one stream to a reader.
        if (zs_.avail_in >= 2 && zs_.next_in[0] == 0x1f && zs_.next_in[1] == 0x8b) {
          inflateReset(&zs_);
        } else {
          ended_ = true;
        }
      } else if (rc == Z_BUF_ERROR && zs_.avail_in == 0) {
        throw DataError(fmt::format("{}: gzip: truncated: the compressed stream stops at byte {} before its end",
                                    path_, compressed_.size()));
      } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
        throw DataError(fmt::format("{}: gzip: corrupt data near compressed byte {}: {}", path_,
                                    consumed(), zs_.msg ? zs_.msg : zError(rc)));
      }
    }
    return done;
  }

  void finish() override {
    uint8_t sink[1 << 14];
    while (!ended_) read(sink, sizeof sink);
  }

 private:
  static constexpr size_t kMaxChunk = size_t{1} << 30;  // zlib counts in 32 bits
  size_t consumed() const { return fed_ - zs_.avail_in; }
  void refill() {
    if (zs_.avail_in == 0 && fed_ < compressed_.size()) {
      zs_.next_in = compressed_.data() + fed_;
      zs_.avail_in = static_cast<uInt>(std::min(compressed_.size() - fed_, kMaxChunk));
      fed_ += zs_.avail_in;
    }
  }

  std::string path_;
  std::vector<uint8_t> compressed_;
  z_stream zs_;
  size_t fed_ = 0;
  bool ended_ = false;
};

// Header fields, read at their byte offsets in the file's byte order.
class HeaderView {
 public:
  HeaderView(const uint8_t* bytes, bool swap) : bytes_(bytes), swap_(swap) {}
  template <class T>
  T get(size_t offset) const {
    T v;
    std::memcpy(&v, bytes_ + offset, sizeof v);
    if (swap_) {
      if constexpr (sizeof(T) == 2) {
        v = std::bit_cast<T>(__builtin_bswap16(std::bit_cast<uint16_t>(v)));
      } else if constexpr (sizeof(T) == 4) {
        v = std::bit_cast<T>(__builtin_bswap32(std::bit_cast<uint32_t>(v)));
      }
    }
    return v;
  }

 private:
  const uint8_t* bytes_;
  bool swap_;
};

template <class T>
T load(const uint8_t* p, bool swap) {
  if constexpr (sizeof(T) == 1) {
    return static_cast<T>(*p);
  } else {
    using U = std::conditional_t<sizeof(T) == 2, uint16_t, std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>>;
    U u;
    std::memcpy(&u, p, sizeof u);
    if (swap) {
      if constexpr (sizeof(T) == 2) u = __builtin_bswap16(u);
      else if constexpr (sizeof(T) == 4) u = __builtin_bswap32(u);
      else u = __builtin_bswap64(u);
    }
    return std::bit_cast<T>(u);
  }
}

template <class T>
void convert(const uint8_t* src, size_t n, bool swap, float slope, float inter, float* out) {
  if (!swap && slope == 1.f && inter == 0.f) {  // the common case
    size_t i = 0;
#ifdef __SSE2__
    // BraTS stores int16 images and uint8 labels; -O2 leaves this loop scalar, so by hand.
    if constexpr (std::is_same_v<T, int16_t> || std::is_same_v<T, uint8_t>) {
      for (; i + 16 <= n; i += 16) {
        __m128i lo, hi;  // 16 values as two 8 x int16
        if constexpr (std::is_same_v<T, int16_t>) {
          lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i * 2));
          hi = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i * 2 + 16));
        } else {
          const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
          lo = _mm_unpacklo_epi8(bytes, _mm_setzero_si128());
          hi = _mm_unpackhi_epi8(bytes, _mm_setzero_si128());
        }
        // Sign-extend each int16 to int32: place it in the top half, shift it back down.
        _mm_storeu_ps(out + i, _mm_cvtepi32_ps(_mm_srai_epi32(_mm_unpacklo_epi16(lo, lo), 16)));
        _mm_storeu_ps(out + i + 4, _mm_cvtepi32_ps(_mm_srai_epi32(_mm_unpackhi_epi16(lo, lo), 16)));
        _mm_storeu_ps(out + i + 8, _mm_cvtepi32_ps(_mm_srai_epi32(_mm_unpacklo_epi16(hi, hi), 16)));
        _mm_storeu_ps(out + i + 12, _mm_cvtepi32_ps(_mm_srai_epi32(_mm_unpackhi_epi16(hi, hi), 16)));
      }
    }
#endif
    for (; i < n; ++i) {
      T v;
      std::memcpy(&v, src + i * sizeof(T), sizeof v);
      out[i] = static_cast<float>(v);
    }
  } else if (slope == 1.f && inter == 0.f) {
    for (size_t i = 0; i < n; ++i) out[i] = static_cast<float>(load<T>(src + i * sizeof(T), swap));
  } else {
    // Scaling in double, as the standard's y = scl_slope * x + scl_inter is exact there for
    // every stored type but float64.
    for (size_t i = 0; i < n; ++i)
      out[i] = static_cast<float>(static_cast<double>(slope) * static_cast<double>(load<T>(src + i * sizeof(T), swap)) +
                                  static_cast<double>(inter));
  }
}

}  // namespace

NiftiVolume read_nifti(const std::string& path) {
  NiftiVolume vol;
  read_nifti(path, vol);
  return vol;
}

void read_nifti(const std::string& path, NiftiVolume& out) { read_nifti(path, out, NiftiChunkVisitor()); }

namespace {

// A file opened and its header checked, the stream standing at byte 348.
struct OpenedNifti {
  std::unique_ptr<ByteSource> src;
  NiftiVolume vol;  // everything but the voxels
  bool gz = false, swap = false;
  size_t offset = 0, elem = 0, count = 0, data_bytes = 0;
  float slope = 1.f, inter = 0.f;
};

// header_only: reads only the file's start (enough to inflate the header), yet checks the
// header against the whole file's size as a full read would.
OpenedNifti open_nifti(const std::string& path, bool header_only) {
  OpenedNifti o;
  size_t plain_size = 0;
  std::vector<uint8_t> bytes = slurp(path, header_only ? limits::kNiftiHeaderReadBytes : SIZE_MAX, &plain_size);
  const bool gz = bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b;
  std::unique_ptr<ByteSource>& src = o.src;
  if (gz) src = std::make_unique<GzipSource>(path, std::move(bytes));
  else src = std::make_unique<PlainSource>(std::move(bytes));

  uint8_t raw[kHeaderBytes];
  const size_t got = src->read(raw, kHeaderBytes);
  if (got < kHeaderBytes)
    throw DataError(fmt::format("{}: truncated: the NIfTI-1 header needs {} bytes, the {} holds {}", path,
                                kHeaderBytes, gz ? "decompressed stream" : "file", got));

  int32_t sizeof_hdr;
  std::memcpy(&sizeof_hdr, raw, 4);
  bool swap = false;
  if (sizeof_hdr != 348) {
    if (static_cast<int32_t>(__builtin_bswap32(static_cast<uint32_t>(sizeof_hdr))) == 348) {
      swap = true;
    } else if (sizeof_hdr == 540 || static_cast<int32_t>(__builtin_bswap32(static_cast<uint32_t>(sizeof_hdr))) == 540) {
      throw DataError(fmt::format("{}: sizeof_hdr (byte 0) is 540: NIfTI-2 is not supported, only NIfTI-1", path));
    } else {
      throw DataError(fmt::format("{}: sizeof_hdr (byte 0) is {}, expected 348: not a NIfTI-1 file", path, sizeof_hdr));
    }
  }
  const HeaderView h(raw, swap);

  const char* magic = reinterpret_cast<const char*>(raw + 344);
  if (std::memcmp(magic, "ni1", 4) == 0)
    throw DataError(fmt::format("{}: magic (byte 344) is 'ni1': two-file (.hdr/.img) NIfTI is not supported", path));
  if (std::memcmp(magic, "n+1", 4) != 0)
    throw DataError(fmt::format("{}: magic (byte 344) is not 'n+1': not a single-file NIfTI-1 volume", path));

  const int16_t ndim = h.get<int16_t>(40);
  if (ndim < 1 || ndim > 7)
    throw DataError(fmt::format("{}: dim[0] (byte 40) is {}, expected 1..7", path, ndim));
  NiftiVolume& vol = o.vol;
  for (int i = 1; i <= ndim; ++i) {
    const int16_t d = h.get<int16_t>(40 + 2 * i);
    if (d < 1) throw DataError(fmt::format("{}: dim[{}] (byte {}) is {}, expected >= 1", path, i, 40 + 2 * i, d));
    if (i <= 3) vol.dims[i - 1] = d;
    else if (d != 1)
      throw DataError(fmt::format("{}: dim[{}] (byte {}) is {}: only 3-D volumes are supported", path, i, 40 + 2 * i, d));
  }

  const int16_t code = h.get<int16_t>(70);
  switch (code) {
    case 2: case 4: case 8: case 16: case 64: case 512: vol.stored = static_cast<NiftiDatatype>(code); break;
    default:
      throw DataError(fmt::format("{}: datatype (byte 70) is {} ({}): supported are uint8, int16, int32, uint16, "
                                  "float32, float64", path, code, other_datatype_name(code)));
  }
  const int16_t bitpix = h.get<int16_t>(72);
  if (bitpix != nifti_datatype_bits(vol.stored))
    throw DataError(fmt::format("{}: bitpix (byte 72) is {} but datatype {} has {} bits", path, bitpix,
                                nifti_datatype_name(vol.stored), nifti_datatype_bits(vol.stored)));

  for (int i = 0; i < 3; ++i) {
    const float p = h.get<float>(80 + 4 * i);
    vol.voxel_mm[i] = (std::isfinite(p) && p > 0.f) ? p : 1.f;
  }

  const float vox_offset = h.get<float>(108);
  if (!std::isfinite(vox_offset) || vox_offset < static_cast<float>(kHeaderBytes) ||
      vox_offset > limits::kMaxNiftiVoxOffset || vox_offset != std::floor(vox_offset))
    throw DataError(fmt::format("{}: vox_offset (byte 108) is {}: expected a whole number >= 348", path, vox_offset));
  const size_t offset = static_cast<size_t>(vox_offset);

  vol.scl_slope = h.get<float>(112);
  vol.scl_inter = h.get<float>(116);
  float& slope = o.slope;
  float& inter = o.inter;
  // The standard: a zero (or non-finite) slope means the stored values are the values.
  if (std::isfinite(vol.scl_slope) && vol.scl_slope != 0.f) {
    slope = vol.scl_slope;
    inter = std::isfinite(vol.scl_inter) ? vol.scl_inter : 0.f;
  }

  const size_t count = vol.count();
  const size_t elem = static_cast<size_t>(bitpix / 8);
  const size_t data_bytes = count * elem;

  // A header can claim terabytes; refuse before allocating what the file cannot hold
  // (deflate expands at most ~1032:1).
  const size_t can_hold = gz ? plain_size * limits::kMaxNiftiGzipRatio + limits::kNiftiGzipSlackBytes : plain_size;
  if (offset > can_hold)
    throw DataError(fmt::format("{}: vox_offset (byte 108) is {}, beyond the end of the file ({} bytes)", path, offset,
                                plain_size));
  if (data_bytes > can_hold - offset)
    throw DataError(fmt::format("{}: truncated: {}x{}x{} {} voxels need {} bytes from vox_offset {}, the file holds {}",
                                path, vol.dims[0], vol.dims[1], vol.dims[2], nifti_datatype_name(vol.stored),
                                data_bytes, offset, plain_size));
  o.gz = gz;
  o.swap = swap;
  o.offset = offset;
  o.elem = elem;
  o.count = count;
  o.data_bytes = data_bytes;
  return o;
}

}  // namespace

NiftiVolume read_nifti_header(const std::string& path) { return open_nifti(path, true).vol; }

void read_nifti(const std::string& path, NiftiVolume& out, const NiftiChunkVisitor& visit) {
  OpenedNifti o = open_nifti(path, false);
  ByteSource* src = o.src.get();
  NiftiVolume& vol = o.vol;
  vol.voxels = std::move(out.voxels);
  const bool gz = o.gz, swap = o.swap;
  const size_t offset = o.offset, elem = o.elem, count = o.count, data_bytes = o.data_bytes;
  const float slope = o.slope, inter = o.inter;

  // Skip the extensions between the header and the voxels, a bounded chunk at a time: a
  // gzip header may claim gigabytes of them that the stream never holds.
  {
    uint8_t sink[1 << 16];
    size_t skipped = 0;
    while (skipped < offset - kHeaderBytes) {
      const size_t want = std::min(sizeof sink, offset - kHeaderBytes - skipped);
      const size_t got_now = src->read(sink, want);
      skipped += got_now;
      if (got_now < want)
        throw DataError(fmt::format("{}: vox_offset (byte 108) is {}, beyond the end of the {} ({} bytes)", path,
                                    offset, gz ? "decompressed stream" : "file", kHeaderBytes + skipped));
    }
  }

  // Inflate and convert a chunk at a time: no second copy of the volume in memory.
  vol.voxels.resize(count);
  constexpr size_t kChunkElems = size_t{1} << 16;
  std::vector<uint8_t> chunk(kChunkElems * elem);
  for (size_t first = 0; first < count; first += kChunkElems) {
    const size_t n = std::min(kChunkElems, count - first);
    const size_t have = src->read(chunk.data(), n * elem);
    if (have < n * elem)
      throw DataError(fmt::format("{}: truncated: {}x{}x{} {} voxels need {} bytes from vox_offset {}, the {} holds {}",
                                  path, vol.dims[0], vol.dims[1], vol.dims[2], nifti_datatype_name(vol.stored),
                                  data_bytes, offset, gz ? "decompressed stream" : "file", first * elem + have));
    const uint8_t* p = chunk.data();
    float* dst = vol.voxels.data() + first;
    switch (vol.stored) {
      case NiftiDatatype::u8: convert<uint8_t>(p, n, swap, slope, inter, dst); break;
      case NiftiDatatype::i16: convert<int16_t>(p, n, swap, slope, inter, dst); break;
      case NiftiDatatype::u16: convert<uint16_t>(p, n, swap, slope, inter, dst); break;
      case NiftiDatatype::i32: convert<int32_t>(p, n, swap, slope, inter, dst); break;
      case NiftiDatatype::f32: convert<float>(p, n, swap, slope, inter, dst); break;
      case NiftiDatatype::f64: convert<double>(p, n, swap, slope, inter, dst); break;
    }
    // A NaN or an infinity (stored, or made by scl_slope) would train as NaN: refuse it here,
    // where the file and the voxel can still be named.
    bool any_bad = false;  // one branch-free pass (it vectorises); the search only on failure
    for (size_t i = 0; i < n; ++i) any_bad |= !std::isfinite(dst[i]);
    for (size_t i = 0; any_bad && i < n; ++i)
      if (!std::isfinite(dst[i])) {
        const size_t v = first + i, nx = static_cast<size_t>(vol.dims[0]), ny = static_cast<size_t>(vol.dims[1]);
        throw DataError(fmt::format("{}: voxel ({}, {}, {}) is {} (stored {}, scl_slope {}, scl_inter {}): "
                                    "not a finite intensity", path, v % nx, v / nx % ny, v / (nx * ny), dst[i],
                                    nifti_datatype_name(vol.stored), slope, inter));
      }
    if (visit) visit(dst, first, n);
  }
  src->finish();
  out = std::move(vol);
}

}  // namespace unet::data
