// Write-then-rename: readers of `path` see either the old file or the complete new one,
// never a torn write, even if the process dies half-way.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace unet::data {

// Opens "<path>.tmp.<pid>" for writing. Appends go through a small buffer; pwrite() patches
// bytes already written (header fix-ups). commit() flushes, fsyncs, renames the temporary
// onto `path` and fsyncs the directory. Destroyed without commit(), the temporary is removed
// and `path` is untouched. Every failure throws DataError naming the file and errno's text.
class AtomicFile {
 public:
  explicit AtomicFile(std::string path);
  ~AtomicFile();
  AtomicFile(AtomicFile&& other) noexcept;
  AtomicFile& operator=(AtomicFile&& other) noexcept;
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t n);
  void write(std::string_view bytes) { write(bytes.data(), bytes.size()); }
  // Overwrites n bytes at `offset` (which must lie inside what was written); the append
  // position is unchanged.
  void pwrite(uint64_t offset, const void* data, size_t n);
  uint64_t size() const { return size_; }  // bytes appended so far

  void commit();
  bool committed() const { return committed_; }
  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return temp_path_; }

 private:
  void flush_buffer();
  void discard() noexcept;
  [[noreturn]] void fail(const std::string& what, int err) const;

  std::string path_;
  std::string temp_path_;
  int fd_ = -1;
  uint64_t size_ = 0;
  std::vector<char> buffer_;
  bool committed_ = false;
};

}  // namespace unet::data
