#include <zlib.h>

#include <fmt/format.h>

#include "data/npz.h"
#include "data/npz_zip_format.h"

namespace unet::data {
namespace {

// Fixed timestamp (1980-01-01 00:00, the DOS epoch): identical inputs give identical bytes.
constexpr uint16_t kDosTime = 0;
constexpr uint16_t kDosDate = (0 << 9) | (1 << 5) | 1;

uint32_t crc_update(uint32_t crc, const void* data, size_t n) {
  if (n == 0) return crc;  // zlib treats a null buffer as "give me the initial value"
  return static_cast<uint32_t>(crc32_z(crc, static_cast<const Bytef*>(data), n));
}

bool is_ascii(const std::string& s) {
  for (unsigned char c : s)
    if (c >= 0x80) return false;
  return true;
}

}  // namespace

NpzWriter::NpzWriter(const std::string& path, bool force_zip64) : file_(path), force_zip64_(force_zip64) {}

void NpzWriter::add(const std::string& key, NpyDtype dtype, const std::vector<size_t>& shape, const void* data) {
  size_t elements = 1;
  for (size_t d : shape) {
    if (__builtin_mul_overflow(elements, d, &elements))
      throw DataError(fmt::format("{}: member '{}': shape {} is too large", file_.path(), key, shape_to_string(shape)));
  }
  size_t bytes = 0;
  if (__builtin_mul_overflow(elements, npy_dtype_size(dtype), &bytes))
    throw DataError(fmt::format("{}: member '{}': shape {} is too large", file_.path(), key, shape_to_string(shape)));
  add_member(key, format_npy_header(dtype, false, shape), data, bytes);
}

void NpzWriter::add_f32(const std::string& key, const std::vector<size_t>& shape, const float* data) {
  add(key, NpyDtype::f32, shape, data);
}

void NpzWriter::add_i64(const std::string& key, const std::vector<size_t>& shape, const int64_t* data) {
  add(key, NpyDtype::i64, shape, data);
}

void NpzWriter::add_bytes(const std::string& key, std::string_view raw) {
  add(key, NpyDtype::u8, {raw.size()}, raw.data());
}

void NpzWriter::add_member(const std::string& key, const std::string& header, const void* data, size_t data_bytes) {
  std::string name = key + ".npy";
  if (key.empty() || key.find('\0') != std::string::npos || name.size() > 0xffff)
    throw DataError(fmt::format("{}: member key '{}' is empty, too long or holds a NUL", file_.path(), key));
  for (const Entry& e : entries_)
    if (e.name == name) throw DataError(fmt::format("{}: member '{}' added twice", file_.path(), key));

  Entry entry;
  entry.name = name;
  entry.size = header.size() + data_bytes;
  entry.offset = file_.size();
  entry.zip64 = force_zip64_ || entry.size >= zip::kMarker32;
  entry.crc = crc_update(crc_update(0, header.data(), header.size()), data, data_bytes);

  std::string local;
  zip::put32(local, zip::kLocalHeaderSignature);
  zip::put16(local, entry.zip64 ? zip::kVersionZip64 : zip::kVersionDefault);
  zip::put16(local, is_ascii(name) ? 0 : zip::kFlagUtf8);
  zip::put16(local, zip::kMethodStored);
  zip::put16(local, kDosTime);
  zip::put16(local, kDosDate);
  zip::put32(local, entry.crc);
  uint32_t size32 = entry.zip64 ? zip::kMarker32 : static_cast<uint32_t>(entry.size);
  zip::put32(local, size32);  // compressed
  zip::put32(local, size32);  // uncompressed
  zip::put16(local, static_cast<uint16_t>(name.size()));
  zip::put16(local, entry.zip64 ? 20 : 0);
  local += name;
  if (entry.zip64) {
    zip::put16(local, zip::kZip64ExtraId);
    zip::put16(local, 16);
    zip::put64(local, entry.size);  // uncompressed
    zip::put64(local, entry.size);  // compressed
  }
  file_.write(local);
  file_.write(header);
  file_.write(data, data_bytes);
  entries_.push_back(std::move(entry));
}

void NpzWriter::commit() {
  uint64_t directory_offset = file_.size();
  std::string directory;
  for (const Entry& e : entries_) {
    bool zip64 = e.zip64 || e.offset >= zip::kMarker32;
    zip::put32(directory, zip::kCentralHeaderSignature);
    zip::put16(directory, (3 << 8) | zip::kVersionZip64);  // made by: Unix
    zip::put16(directory, zip64 ? zip::kVersionZip64 : zip::kVersionDefault);
    zip::put16(directory, is_ascii(e.name) ? 0 : zip::kFlagUtf8);
    zip::put16(directory, zip::kMethodStored);
    zip::put16(directory, kDosTime);
    zip::put16(directory, kDosDate);
    zip::put32(directory, e.crc);
    zip::put32(directory, zip64 ? zip::kMarker32 : static_cast<uint32_t>(e.size));
    zip::put32(directory, zip64 ? zip::kMarker32 : static_cast<uint32_t>(e.size));
    zip::put16(directory, static_cast<uint16_t>(e.name.size()));
    zip::put16(directory, zip64 ? 28 : 0);
    zip::put16(directory, 0);                // comment length
    zip::put16(directory, 0);                // disk number
    zip::put16(directory, 0);                // internal attributes
    zip::put32(directory, 0100644u << 16);   // external attributes: regular file, rw-r--r--
    zip::put32(directory, zip64 ? zip::kMarker32 : static_cast<uint32_t>(e.offset));
    directory += e.name;
    if (zip64) {  // fields in APPNOTE order: uncompressed, compressed, local header offset
      zip::put16(directory, zip::kZip64ExtraId);
      zip::put16(directory, 24);
      zip::put64(directory, e.size);
      zip::put64(directory, e.size);
      zip::put64(directory, e.offset);
    }
  }
  uint64_t directory_size = directory.size();
  uint64_t count = entries_.size();
  bool zip64_end = force_zip64_ || count >= zip::kMarker16 || directory_size >= zip::kMarker32 ||
                   directory_offset >= zip::kMarker32;
  std::string end;
  if (zip64_end) {
    uint64_t zip64_end_offset = directory_offset + directory_size;
    zip::put32(end, zip::kZip64EndSignature);
    zip::put64(end, zip::kZip64EndSize - 12);  // size of the rest of this record
    zip::put16(end, (3 << 8) | zip::kVersionZip64);
    zip::put16(end, zip::kVersionZip64);
    zip::put32(end, 0);  // this disk
    zip::put32(end, 0);  // disk with the directory
    zip::put64(end, count);
    zip::put64(end, count);
    zip::put64(end, directory_size);
    zip::put64(end, directory_offset);
    zip::put32(end, zip::kZip64LocatorSignature);
    zip::put32(end, 0);
    zip::put64(end, zip64_end_offset);
    zip::put32(end, 1);  // total disks
  }
  zip::put32(end, zip::kEndSignature);
  zip::put16(end, 0);
  zip::put16(end, 0);
  uint16_t count16 = zip64_end ? zip::kMarker16 : static_cast<uint16_t>(count);
  zip::put16(end, count16);
  zip::put16(end, count16);
  zip::put32(end, zip64_end ? zip::kMarker32 : static_cast<uint32_t>(directory_size));
  zip::put32(end, zip64_end ? zip::kMarker32 : static_cast<uint32_t>(directory_offset));
  zip::put16(end, 0);  // comment length
  file_.write(directory);
  file_.write(end);
  file_.commit();
}

}  // namespace unet::data
