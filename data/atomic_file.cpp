#include "data/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include <fmt/format.h>

#include "data/data_error.h"

namespace unet::data {
namespace {

// Small appends (ZIP records, npy headers) are gathered so each costs no syscall.
constexpr size_t kBufferCapacity = 1 << 20;

std::string directory_of(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
  temp_path_ = fmt::format("{}.tmp.{}", path_, static_cast<long>(::getpid()));
  fd_ = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) fail("cannot create temporary file " + temp_path_, errno);
  buffer_.reserve(kBufferCapacity);
}

AtomicFile::~AtomicFile() { discard(); }

AtomicFile::AtomicFile(AtomicFile&& other) noexcept
    : path_(std::move(other.path_)),
      temp_path_(std::move(other.temp_path_)),
      fd_(std::exchange(other.fd_, -1)),
      size_(other.size_),
      buffer_(std::move(other.buffer_)),
      committed_(other.committed_) {}

AtomicFile& AtomicFile::operator=(AtomicFile&& other) noexcept {
  if (this != &other) {
    discard();
    path_ = std::move(other.path_);
    temp_path_ = std::move(other.temp_path_);
    fd_ = std::exchange(other.fd_, -1);
    size_ = other.size_;
    buffer_ = std::move(other.buffer_);
    committed_ = other.committed_;
  }
  return *this;
}

void AtomicFile::discard() noexcept {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
    if (!committed_) ::unlink(temp_path_.c_str());
  }
}

void AtomicFile::fail(const std::string& what, int err) const {
  throw DataError(fmt::format("{}: {}: {}", path_, what, std::strerror(err)));
}

void AtomicFile::flush_buffer() {
  const char* p = buffer_.data();
  size_t left = buffer_.size();
  while (left > 0) {
    ssize_t n = ::write(fd_, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("write to " + temp_path_ + " failed", errno);
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  buffer_.clear();
}

void AtomicFile::write(const void* data, size_t n) {
  if (fd_ < 0) throw DataError(path_ + ": write after commit or move");
  const char* bytes = static_cast<const char*>(data);
  if (buffer_.size() + n <= kBufferCapacity) {
    buffer_.insert(buffer_.end(), bytes, bytes + n);
  } else {
    flush_buffer();
    if (n < kBufferCapacity) {
      buffer_.insert(buffer_.end(), bytes, bytes + n);
    } else {
      buffer_.clear();
      size_t left = n;
      while (left > 0) {
        ssize_t w = ::write(fd_, bytes, left);
        if (w < 0) {
          if (errno == EINTR) continue;
          fail("write to " + temp_path_ + " failed", errno);
        }
        bytes += w;
        left -= static_cast<size_t>(w);
      }
    }
  }
  size_ += n;
}

void AtomicFile::pwrite(uint64_t offset, const void* data, size_t n) {
  if (fd_ < 0) throw DataError(path_ + ": write after commit or move");
  if (offset > size_ || n > size_ - offset)
    throw DataError(fmt::format("{}: patch of {} bytes at byte {} lies outside the {} bytes written",
                                path_, n, offset, size_));
  flush_buffer();
  const char* bytes = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::pwrite(fd_, bytes, n, static_cast<off_t>(offset));
    if (w < 0) {
      if (errno == EINTR) continue;
      fail("write to " + temp_path_ + " failed", errno);
    }
    bytes += w;
    offset += static_cast<uint64_t>(w);
    n -= static_cast<size_t>(w);
  }
}

void AtomicFile::commit() {
  if (fd_ < 0) throw DataError(path_ + ": commit after commit or move");
  flush_buffer();
  if (::fsync(fd_) != 0) fail("fsync of " + temp_path_ + " failed", errno);
  if (::close(fd_) != 0) {
    fd_ = -1;
    int err = errno;
    ::unlink(temp_path_.c_str());
    fail("close of " + temp_path_ + " failed", err);
  }
  fd_ = -1;
  if (::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    int err = errno;
    ::unlink(temp_path_.c_str());
    fail("rename from " + temp_path_ + " failed", err);
  }
  committed_ = true;
  // The rename is durable only once the directory entry is on disk.
  int dir = ::open(directory_of(path_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
}

}  // namespace unet::data
