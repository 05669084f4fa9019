#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include <fmt/format.h>

#include "base/control_chars.h"
#include "base/limits.h"
#include "data/npz.h"
#include "data/npz_zip_format.h"

namespace unet::data {
namespace {

constexpr uint8_t kNpyMagic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string key_of(const std::string& name) { return ends_with(name, ".npy") ? name.substr(0, name.size() - 4) : name; }

uint32_t crc_of(const uint8_t* data, size_t n) { return static_cast<uint32_t>(crc32_z(0, data, n)); }

struct Directory {
  uint64_t entries;
  uint64_t size;
  uint64_t offset;
  uint64_t end;  // where the directory must end: the first end record
};

Directory find_directory(const uint8_t* p, size_t size, const std::string& path) {
  if (size < zip::kEndSize)
    throw DataError(fmt::format("{}: not a zip archive: {} bytes, too short for an end record", path, size));
  // The end record sits at the very end, after a comment of up to 64 KiB: scan backwards.
  size_t lowest = size - zip::kEndSize >= zip::kMaxComment ? size - zip::kEndSize - zip::kMaxComment : 0;
  size_t pos = size - zip::kEndSize + 1;
  bool found = false;
  while (pos-- > lowest) {
    if (zip::get32(p + pos) == zip::kEndSignature && pos + zip::kEndSize + zip::get16(p + pos + 20) == size) {
      found = true;
      break;
    }
  }
  if (!found) throw DataError(path + ": not a zip archive: no end-of-central-directory record");
  const uint8_t* end = p + pos;
  if (zip::get16(end + 4) != 0 || zip::get16(end + 6) != 0)
    throw DataError(fmt::format("{}: end record at byte {}: multi-disk archives are not supported", path, pos));
  Directory d{zip::get16(end + 10), zip::get32(end + 12), zip::get32(end + 16), pos};
  bool has_locator = pos >= zip::kZip64LocatorSize &&
                     zip::get32(p + pos - zip::kZip64LocatorSize) == zip::kZip64LocatorSignature;
  if (has_locator) {
    size_t locator = pos - zip::kZip64LocatorSize;
    uint64_t record = zip::get64(p + locator + 8);
    if (record > locator || locator - record < zip::kZip64EndSize)
      throw DataError(fmt::format("{}: zip64 locator at byte {}: record offset {} is out of bounds", path,
                                  locator, record));
    const uint8_t* r = p + record;
    if (zip::get32(r) != zip::kZip64EndSignature)
      throw DataError(fmt::format("{}: zip64 end record at byte {}: bad signature", path, record));
    d = Directory{zip::get64(r + 32), zip::get64(r + 40), zip::get64(r + 48), record};
  } else if (d.entries == zip::kMarker16 || d.size == zip::kMarker32 || d.offset == zip::kMarker32) {
    throw DataError(fmt::format("{}: end record at byte {}: zip64 markers but no zip64 locator", path, pos));
  }
  if (d.offset > d.end || d.size > d.end - d.offset)
    throw DataError(fmt::format("{}: corrupt central directory: {} bytes at byte {} run past byte {}", path,
                                d.size, d.offset, d.end));
  if (d.entries > d.size / zip::kCentralHeaderSize)
    throw DataError(fmt::format("{}: corrupt central directory: {} entries cannot fit in {} bytes", path,
                                d.entries, d.size));
  return d;
}

}  // namespace

NpzReader::NpzReader(MappedFile file) : file_(std::move(file)) {}

NpzReader NpzReader::open(const std::string& path) {
  NpzReader reader(MappedFile::open(path));
  const uint8_t* p = reader.file_.data();
  Directory d = find_directory(p, reader.file_.size(), path);
  size_t pos = d.offset;
  size_t directory_end = d.offset + d.size;
  for (uint64_t i = 0; i < d.entries; ++i) {
    auto fail = [&](const std::string& what) {
      throw DataError(fmt::format("{}: central directory entry {} at byte {}: {}", path, i, pos, what));
    };
    if (directory_end - pos < zip::kCentralHeaderSize) fail("header runs past the end of the directory");
    const uint8_t* h = p + pos;
    if (zip::get32(h) != zip::kCentralHeaderSignature) fail("bad signature");
    Member m;
    uint16_t flags = zip::get16(h + 8);
    m.method = zip::get16(h + 10);
    m.crc = zip::get32(h + 16);
    m.compressed_size = zip::get32(h + 20);
    m.size = zip::get32(h + 24);
    size_t name_length = zip::get16(h + 28);
    size_t extra_length = zip::get16(h + 30);
    size_t comment_length = zip::get16(h + 32);
    m.local_header_offset = zip::get32(h + 42);
    if (directory_end - pos - zip::kCentralHeaderSize < name_length + extra_length + comment_length)
      fail("name, extra field or comment runs past the end of the directory");
    if (flags & zip::kFlagEncrypted) fail("encrypted members are not supported");
    m.name.assign(reinterpret_cast<const char*>(h + zip::kCentralHeaderSize), name_length);
    // Member names reach one-line errors and checkpoint keys: a control character (a newline
    // would split the error) is a corrupt or hostile directory, never numpy's.
    if (const auto i = first_control_char(m.name))
      fail(fmt::format("member name has control character 0x{:02x} at its byte {}",
                       static_cast<unsigned>(static_cast<unsigned char>(m.name[*i])), *i));
    // ZIP64: the fields marked 0xffffffff follow in the extra field, in a fixed order.
    const uint8_t* extra = h + zip::kCentralHeaderSize + name_length;
    for (size_t e = 0; e + 4 <= extra_length;) {
      uint16_t id = zip::get16(extra + e);
      size_t length = zip::get16(extra + e + 2);
      if (e + 4 + length > extra_length) fail("extra field runs past its declared length");
      if (id == zip::kZip64ExtraId) {
        const uint8_t* f = extra + e + 4;
        size_t left = length;
        for (uint64_t* field : {&m.size, &m.compressed_size, &m.local_header_offset}) {
          if (*field != zip::kMarker32) continue;
          if (left < 8) fail("zip64 extra field is too short");
          *field = zip::get64(f);
          f += 8;
          left -= 8;
        }
      }
      e += 4 + length;
    }
    std::string key = key_of(m.name);
    if (reader.by_key_.count(key)) fail(fmt::format("duplicate member '{}'", m.name));
    reader.by_key_.emplace(key, reader.members_.size());
    reader.members_.push_back(std::move(m));
    pos += zip::kCentralHeaderSize + name_length + extra_length + comment_length;
  }
  return reader;
}

std::vector<std::string> NpzReader::keys() const {
  std::vector<std::string> out;
  out.reserve(members_.size());
  for (const Member& m : members_) out.push_back(key_of(m.name));
  return out;
}

bool NpzReader::has(const std::string& key) const { return by_key_.count(key) != 0; }

const NpzReader::Member& NpzReader::member(const std::string& key) const {
  auto it = by_key_.find(key);
  if (it == by_key_.end()) {
    std::vector<std::string> all = keys();
    if (all.size() > 20) {
      all.resize(20);
      all.push_back("...");
    }
    throw DataError(fmt::format("{}: no member '{}' (it holds: {})", path(), key, fmt::join(all, ", ")));
  }
  return members_[it->second];
}

std::string NpzReader::member_source(const Member& m) const {
  return fmt::format("{}: member '{}'", path(), key_of(m.name));
}

const uint8_t* NpzReader::member_bytes(const Member& m, std::shared_ptr<const void>& keepalive) const {
  std::string source = member_source(m);
  const uint8_t* p = file_.data();
  size_t size = file_.size();
  uint64_t at = m.local_header_offset;
  if (at > size || size - at < zip::kLocalHeaderSize)
    throw DataError(fmt::format("{}: local header at byte {} lies outside the {}-byte file", source, at, size));
  if (zip::get32(p + at) != zip::kLocalHeaderSignature)
    throw DataError(fmt::format("{}: local header at byte {}: bad signature", source, at));
  uint64_t data_at = at + zip::kLocalHeaderSize + zip::get16(p + at + 26) + zip::get16(p + at + 28);
  if (data_at > size || m.compressed_size > size - data_at)
    throw DataError(fmt::format("{}: {} bytes of data at byte {} run past the end of the file ({} bytes)", source,
                                m.compressed_size, data_at, size));
  const uint8_t* data = p + data_at;
  if (m.method == zip::kMethodStored) {
    if (m.size != m.compressed_size)
      throw DataError(fmt::format("{}: stored member with size {} != compressed size {}", source, m.size,
                                  m.compressed_size));
  } else if (m.method == zip::kMethodDeflate) {
    if (m.size > limits::kMaxNpzMemberBytes)
      throw DataError(fmt::format("{}: uncompressed size {} is larger than any member we read (limit {} bytes)",
                                  source, m.size, limits::kMaxNpzMemberBytes));
    // Deflate expands at most ~1032:1; a larger claim is a corrupt (or hostile) directory.
    if (m.size / limits::kMaxNpzDeflateRatio > m.compressed_size + 1)
      throw DataError(fmt::format("{}: uncompressed size {} is implausible for {} deflated bytes", source, m.size,
                                  m.compressed_size));
    // The output grows (doubling) as inflate fills it, not to the directory's claim up front:
    // a member claiming 4 GB whose stream ends after a few bytes costs a few bytes.
    auto buffer = std::make_shared<std::vector<uint8_t>>(std::min<uint64_t>(m.size, limits::kNpzFirstInflateBytes));
    z_stream z{};
    if (inflateInit2(&z, -MAX_WBITS) != Z_OK) throw DataError(source + ": zlib inflateInit failed");
    uint64_t in_left = m.compressed_size;
    z.next_in = const_cast<Bytef*>(data);
    z.next_out = buffer->data();
    // zlib counts in 32 bits: hand it at most 1 GiB of input and of output at a time.
    constexpr uint64_t kStep = uint64_t{1} << 30;
    int rc = Z_OK;
    auto out_room = [&] { return buffer->size() - static_cast<uint64_t>(z.next_out - buffer->data()); };
    do {
      if (z.avail_in == 0 && in_left > 0) {
        z.avail_in = static_cast<uInt>(std::min(in_left, kStep));
        in_left -= z.avail_in;
      }
      if (z.avail_out == 0) {
        if (out_room() == 0 && buffer->size() < m.size) {
          const uint64_t have = buffer->size();
          buffer->resize(std::min<uint64_t>(m.size, 2 * have));
          z.next_out = buffer->data() + have;
        }
        z.avail_out = static_cast<uInt>(std::min(out_room(), kStep));
      }
      rc = inflate(&z, Z_NO_FLUSH);
    } while (rc == Z_OK || (rc == Z_BUF_ERROR && ((z.avail_in == 0 && in_left > 0) ||
                                                   (z.avail_out == 0 && (out_room() > 0 || buffer->size() < m.size)))));
    uint64_t produced = static_cast<uint64_t>(z.next_out - buffer->data());
    inflateEnd(&z);
    if (rc != Z_STREAM_END || produced != m.size)
      throw DataError(fmt::format("{}: corrupt deflate data ({} of {} bytes inflated)", source, produced, m.size));
    data = buffer->data();
    keepalive = buffer;
  } else {
    throw DataError(fmt::format("{}: compression method {} is not supported (only stored and deflate)", source,
                                m.method));
  }
  uint32_t crc = crc_of(data, m.size);
  if (crc != m.crc)
    throw DataError(fmt::format("{}: CRC-32 mismatch: directory says {:08x}, data gives {:08x}", source, m.crc, crc));
  return data;
}

NpyArrayView NpzReader::get(const std::string& key) const {
  const Member& m = member(key);
  std::shared_ptr<const void> keepalive;
  const uint8_t* bytes = member_bytes(m, keepalive);
  std::string source = member_source(m);
  NpyHeader header = parse_npy_header(bytes, m.size, source);
  size_t available = m.size - header.data_offset;
  if (header.data_bytes > available)
    throw DataError(fmt::format("{}: truncated: header says {} {} = {} bytes, member holds {} after the header",
                                source, shape_to_string(header.shape), npy_dtype_name(header.dtype),
                                header.data_bytes, available));
  const uint8_t* data = bytes + header.data_offset;
  return NpyArrayView(std::move(source), std::move(header), data, std::move(keepalive));
}

std::vector<float> NpzReader::read_f32(const std::string& key) const { return get(key).to_f32(); }

std::vector<float> NpzReader::read_f32(const std::string& key, const std::vector<size_t>& expected_shape) const {
  NpyArrayView view = get(key);
  if (view.shape() != expected_shape)
    throw DataError(fmt::format("{}: shape {} != expected {}", view.source(), shape_to_string(view.shape()),
                                shape_to_string(expected_shape)));
  return view.to_f32();
}

std::string NpzReader::read_bytes(const std::string& key) const {
  const Member& m = member(key);
  std::shared_ptr<const void> keepalive;
  const uint8_t* bytes = member_bytes(m, keepalive);
  if (m.size < sizeof(kNpyMagic) || std::memcmp(bytes, kNpyMagic, sizeof(kNpyMagic)) != 0)
    return std::string(reinterpret_cast<const char*>(bytes), m.size);
  std::string source = member_source(m);
  NpyHeader header = parse_npy_header(bytes, m.size, source);
  if (npy_dtype_size(header.dtype) != 1)
    throw DataError(fmt::format("{}: holds {} elements, not bytes", source, npy_dtype_name(header.dtype)));
  if (header.data_bytes > m.size - header.data_offset)
    throw DataError(fmt::format("{}: truncated: header says {} bytes, member holds {} after the header", source,
                                header.data_bytes, m.size - header.data_offset));
  return std::string(reinterpret_cast<const char*>(bytes + header.data_offset), header.data_bytes);
}

}  // namespace unet::data
