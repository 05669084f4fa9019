#include "data/tfrecord_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "base/crc32c.h"
#include "data/data_error.h"

namespace unet::data {
namespace {

constexpr uint32_t kMaskDelta = 0xa282ead8u;

void put_le(std::string& out, uint64_t v, size_t bytes) {
  for (size_t k = 0; k < bytes; ++k) out.push_back(static_cast<char>(v >> (8 * k)));
}

}  // namespace

uint32_t masked_crc32c(const void* data, size_t bytes) {
  const uint32_t crc = base::crc32c(data, bytes);
  return ((crc >> 15) | (crc << 17)) + kMaskDelta;
}

uint32_t unmask_crc32c(uint32_t masked) {
  const uint32_t rotated = masked - kMaskDelta;
  return (rotated << 15) | (rotated >> 17);
}

void append_tfrecord(std::string& out, std::string_view data) {
  const size_t start = out.size();
  put_le(out, data.size(), 8);
  const uint32_t length_crc = masked_crc32c(out.data() + start, 8);
  put_le(out, length_crc, 4);
  out.append(data);
  put_le(out, masked_crc32c(data.data(), data.size()), 4);
}

TfRecordWriter::TfRecordWriter(std::string path, UnlessExists) : path_(std::move(path)) {
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0 && errno != EEXIST)
    throw DataError(fmt::format("{}: cannot create the event file: {}", path_, std::strerror(errno)));
}

TfRecordWriter::TfRecordWriter(std::string path) : TfRecordWriter(std::move(path), UnlessExists{}) {
  if (fd_ < 0) throw DataError(fmt::format("{}: cannot create the event file: {}", path_, std::strerror(EEXIST)));
}

TfRecordWriter::~TfRecordWriter() {
  if (fd_ < 0) return;
  try {
    flush();
  } catch (const DataError&) {
    // The destructor runs on the way out, often while an exception is already in flight; what
    // is lost here is what a crash at this point would lose.
  }
  ::close(fd_);
}

void TfRecordWriter::write(std::string_view data) {
  const size_t before = buffer_.size();
  append_tfrecord(buffer_, data);
  bytes_ += buffer_.size() - before;
  ++records_;
}

void TfRecordWriter::flush() {
  size_t done = 0;
  while (done < buffer_.size()) {
    const ssize_t n = ::write(fd_, buffer_.data() + done, buffer_.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : EIO;
      buffer_.erase(0, done);  // what was written stays written; keep the rest for a retry
      throw DataError(fmt::format("{}: cannot write the event file: {}", path_, std::strerror(err)));
    }
    done += static_cast<size_t>(n);
  }
  buffer_.clear();
}

}  // namespace unet::data
