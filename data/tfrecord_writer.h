// TFRecord framing, the container of TensorBoard's event files. Each record is
//   uint64 length (little-endian) | uint32 masked crc32c(length bytes) | data | uint32 masked crc32c(data)
// with crc32c masked as TensorFlow does it (rotate right by 15, add 0xa282ead8), so a CRC
// computed over data that itself holds CRCs still looks random.
//
// An event file is append-only and is read while it grows, so there is no temporary name and
// rename here: a reader stops at a record it cannot read whole (a crash mid-write leaves at
// most one such record at the end) and every record before it is intact.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace unet::data {

uint32_t masked_crc32c(const void* data, size_t bytes);
uint32_t unmask_crc32c(uint32_t masked);

// Appends one framed record holding `data` to `out`.
void append_tfrecord(std::string& out, std::string_view data);
inline constexpr size_t kTfRecordOverhead = 8 + 4 + 4;

class TfRecordWriter {
 public:
  // Creates `path`, which must not exist yet (two writers never share an event file). Throws
  // DataError naming the file and the reason.
  explicit TfRecordWriter(std::string path);
  // The same, except that when `path` already exists the writer is left closed (is_open()
  // false) instead of throwing, so a caller can pick another name without a race between
  // looking and creating.
  struct UnlessExists {};
  TfRecordWriter(std::string path, UnlessExists);
  bool is_open() const { return fd_ >= 0; }
  ~TfRecordWriter();  // flushes what is buffered; a failure there is lost (no throwing here)
  TfRecordWriter(const TfRecordWriter&) = delete;
  TfRecordWriter& operator=(const TfRecordWriter&) = delete;

  // Buffers one record; nothing reaches the file before flush().
  void write(std::string_view data);
  // Hands every buffered record to the operating system (one write() for all of them): from
  // then on they survive a crash of this process. Throws DataError naming the file.
  void flush();
  const std::string& path() const { return path_; }
  uint64_t records() const { return records_; }
  uint64_t bytes() const { return bytes_; }  // framed bytes written or buffered

 private:
  std::string path_;
  int fd_ = -1;
  std::string buffer_;
  uint64_t records_ = 0, bytes_ = 0;
};

}  // namespace unet::data
