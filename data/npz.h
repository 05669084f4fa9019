// numpy .npz files: a ZIP archive whose members are "<key>.npy" (numpy.load(f)[key]).
// The writer stores members uncompressed (STORED) with CRC-32 and switches to ZIP64 records
// when an entry or the archive passes 4 GiB; the reader also inflates DEFLATE members, so
// files from numpy.savez_compressed load too.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "data/atomic_file.h"
#include "data/data_error.h"
#include "data/npy.h"

namespace unet::data {

class NpzWriter {
 public:
  // force_zip64 writes ZIP64 records for every entry (tests exercise that path with it).
  explicit NpzWriter(const std::string& path, bool force_zip64 = false);

  void add(const std::string& key, NpyDtype dtype, const std::vector<size_t>& shape,
           const void* data);  // data: little-endian elements of dtype, C order
  void add_f32(const std::string& key, const std::vector<size_t>& shape, const float* data);
  void add_i64(const std::string& key, const std::vector<size_t>& shape, const int64_t* data);
  // Raw bytes (a JSON text, say) as a 1-D uint8 member "<key>.npy":
  // numpy.load(f)[key].tobytes() gives them back.
  void add_bytes(const std::string& key, std::string_view raw);

  void commit();  // central directory, end records, fsync, rename

 private:
  struct Entry {
    std::string name;
    uint32_t crc = 0;
    uint64_t size = 0;
    uint64_t offset = 0;
    bool zip64 = false;
  };
  void add_member(const std::string& key, const std::string& header, const void* data,
                  size_t data_bytes);

  AtomicFile file_;
  bool force_zip64_;
  std::vector<Entry> entries_;
};

class NpzReader {
 public:
  // Maps the archive and reads its central directory (bounds-checked). Throws DataError,
  // e.g. "ckpt.npz: central directory entry 3 at byte 1234: name runs past the end".
  static NpzReader open(const std::string& path);

  const std::string& path() const { return file_.path(); }
  std::vector<std::string> keys() const;  // archive order, ".npy" stripped
  bool has(const std::string& key) const;

  // Errors name "ckpt.npz: member 'conv1a/kernel': ...".
  NpyArrayView get(const std::string& key) const;
  std::vector<float> read_f32(const std::string& key) const;
  // Also checks the shape: "ckpt.npz: member 'w': shape 3x3 != expected 3x4".
  std::vector<float> read_f32(const std::string& key,
                              const std::vector<size_t>& expected_shape) const;
  // A member's bytes: the elements of a 1-D uint8/int8 array (add_bytes), or the whole
  // content of a member that is not an .npy.
  std::string read_bytes(const std::string& key) const;

  struct Member {
    std::string name;  // as in the archive, e.g. "w.npy"
    uint16_t method = 0;  // 0 STORED, 8 DEFLATE
    uint32_t crc = 0;
    uint64_t compressed_size = 0;
    uint64_t size = 0;
    uint64_t local_header_offset = 0;
  };

 private:
  explicit NpzReader(MappedFile file);
  const Member& member(const std::string& key) const;
  // The member's uncompressed bytes: a pointer into the mapping (STORED) or into a
  // freshly inflated buffer held by `keepalive`. CRC checked.
  const uint8_t* member_bytes(const Member& m, std::shared_ptr<const void>& keepalive) const;
  std::string member_source(const Member& m) const;

  MappedFile file_;
  std::vector<Member> members_;
  std::map<std::string, size_t> by_key_;
};

}  // namespace unet::data
