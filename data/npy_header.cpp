#include "data/npy_header.h"

#include <cstring>
#include <limits>
#include <optional>
#include <string_view>

#include <fmt/format.h>

#include "base/control_chars.h"
#include "base/limits.h"
#include "data/data_error.h"

namespace unet::data {
namespace {

constexpr uint8_t kMagic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};

// A cursor over the header dict text. Offsets in messages are from the start of the file.
class DictParser {
 public:
  DictParser(const uint8_t* bytes, size_t begin, size_t end, const std::string& source)
      : bytes_(bytes), pos_(begin), end_(end), source_(source) {}

  [[noreturn]] void fail(const std::string& what) const {
    throw DataError(fmt::format("{}: npy header byte {}: {}", source_, pos_, what));
  }

  void skip_space() {
    while (pos_ < end_ && (bytes_[pos_] == ' ' || bytes_[pos_] == '\t' || bytes_[pos_] == '\n' ||
                           bytes_[pos_] == '\r'))
      ++pos_;
  }
  bool at_end() const { return pos_ >= end_; }
  char peek() const { return at_end() ? '\0' : static_cast<char>(bytes_[pos_]); }
  bool accept(char c) {
    skip_space();
    if (peek() != c) return false;
    ++pos_;
    return true;
  }
  void expect(char c, const char* context) {
    if (!accept(c)) {
      if (at_end()) fail(fmt::format("header ends where '{}' {} was expected", c, context));
      fail(fmt::format("expected '{}' {}, found {}", c, context, describe_here()));
    }
  }
  std::string describe_here() const {
    if (at_end()) return "the end of the header";
    char c = peek();
    if (c >= 0x20 && c < 0x7f) return fmt::format("'{}'", c);
    return fmt::format("byte 0x{:02x}", static_cast<unsigned>(bytes_[pos_]));
  }

  std::string string_literal() {
    skip_space();
    char quote = peek();
    if (quote != '\'' && quote != '"') fail("expected a quoted string, found " + describe_here());
    ++pos_;
    std::string text;
    while (!at_end() && peek() != quote) {
      if (peek() == '\\') fail("escape sequences are not supported in header strings");
      // numpy writes ASCII keys and dtypes; a control character (a newline would split the
      // one-line error that quotes the string) is corruption. The header itself ends in a
      // newline, so one inside a string means its closing quote is missing.
      if (peek() == '\n') fail("unterminated string");
      if (is_control_char(peek()))
        fail("control character " + describe_here() + " in a header string");
      text.push_back(peek());
      ++pos_;
    }
    if (at_end()) fail("unterminated string");
    ++pos_;
    return text;
  }

  bool boolean_literal() {
    skip_space();
    for (auto [word, value] : {std::pair{std::string_view("True"), true}, {std::string_view("False"), false}}) {
      if (end_ - pos_ >= word.size() && std::memcmp(bytes_ + pos_, word.data(), word.size()) == 0) {
        pos_ += word.size();
        return value;
      }
    }
    fail("expected True or False, found " + describe_here());
  }

  size_t dimension() {
    skip_space();
    size_t start = pos_;
    if (peek() == '-') fail("shape value is negative");
    if (peek() < '0' || peek() > '9') fail("expected a shape value, found " + describe_here());
    uint64_t value = 0;
    constexpr uint64_t kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
    while (peek() >= '0' && peek() <= '9') {
      uint64_t digit = static_cast<uint64_t>(peek() - '0');
      if (value > (kMax - digit) / 10) {
        pos_ = start;
        fail("shape value too large (more than 2^63-1)");
      }
      value = value * 10 + digit;
      ++pos_;
    }
    if (peek() == 'L') ++pos_;  // Python 2 long literals, written by old numpy
    return static_cast<size_t>(value);
  }

  std::vector<size_t> shape_tuple() {
    expect('(', "to open the shape tuple");
    std::vector<size_t> shape;
    if (accept(')')) return shape;
    for (;;) {
      shape.push_back(dimension());
      if (accept(')')) break;
      expect(',', "between shape values");
      if (accept(')')) break;
      if (shape.size() > limits::kMaxNpyRank)
        fail(fmt::format("shape has more than {} dimensions", limits::kMaxNpyRank));
    }
    return shape;
  }

  size_t pos() const { return pos_; }

 private:
  const uint8_t* bytes_;
  size_t pos_;
  size_t end_;
  const std::string& source_;
};

uint32_t read_le(const uint8_t* p, size_t n) {
  uint32_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= static_cast<uint32_t>(p[i]) << (8 * i);
  return v;
}

}  // namespace

std::string shape_to_string(const std::vector<size_t>& shape) {
  if (shape.empty()) return "scalar";
  return fmt::format("{}", fmt::join(shape, "x"));
}

NpyHeader parse_npy_header(const uint8_t* bytes, size_t size, const std::string& source) {
  if (size < sizeof(kMagic) || std::memcmp(bytes, kMagic, sizeof(kMagic)) != 0)
    throw DataError(source + ": not an npy file: bad magic at byte 0 (expected \\x93NUMPY)");
  if (size < 8)
    throw DataError(fmt::format("{}: truncated header: {} bytes, the version needs 8", source, size));
  uint8_t major = bytes[6], minor = bytes[7];
  if (minor != 0 || major < 1 || major > 3)
    throw DataError(fmt::format("{}: unsupported npy version {}.{} at byte 6 (1.0, 2.0, 3.0 are known)",
                                source, major, minor));
  size_t length_bytes = major == 1 ? 2 : 4;
  if (size < 8 + length_bytes)
    throw DataError(fmt::format("{}: truncated header: {} bytes, the header length field needs {}",
                                source, size, 8 + length_bytes));
  size_t dict_begin = 8 + length_bytes;
  size_t dict_length = read_le(bytes + 8, length_bytes);
  if (dict_length > size - dict_begin)
    throw DataError(fmt::format("{}: truncated header: header length {} at byte 8 runs past the end "
                                "of the file ({} bytes)",
                                source, dict_length, size));
  size_t dict_end = dict_begin + dict_length;

  DictParser p(bytes, dict_begin, dict_end, source);
  p.skip_space();
  if (p.peek() != '{') p.fail("header is not a dict (expected '{', found " + p.describe_here() + ")");
  p.expect('{', "");

  NpyHeader header;
  std::optional<std::string> descr;
  std::optional<bool> fortran_order;
  std::optional<std::vector<size_t>> shape;
  size_t descr_pos = 0;
  while (!p.accept('}')) {
    p.skip_space();
    size_t key_pos = p.pos();
    std::string key = p.string_literal();
    p.expect(':', "after a dict key");
    if (key == "descr") {
      if (descr) p.fail("duplicate key 'descr'");
      p.skip_space();
      if (p.peek() == '[') p.fail("structured dtypes (a 'descr' list) are not supported");
      descr_pos = p.pos();
      descr = p.string_literal();
    } else if (key == "fortran_order") {
      if (fortran_order) p.fail("duplicate key 'fortran_order'");
      fortran_order = p.boolean_literal();
    } else if (key == "shape") {
      if (shape) p.fail("duplicate key 'shape'");
      shape = p.shape_tuple();
    } else {
      throw DataError(fmt::format("{}: npy header byte {}: unexpected key '{}'", source, key_pos, key));
    }
    if (p.accept('}')) break;
    p.expect(',', "or '}' after a dict value");
  }
  p.skip_space();
  if (!p.at_end()) p.fail("unexpected text after the header dict: " + p.describe_here());

  for (auto [present, name] : {std::pair{descr.has_value(), "descr"},
                               {fortran_order.has_value(), "fortran_order"},
                               {shape.has_value(), "shape"}}) {
    if (!present)
      throw DataError(fmt::format("{}: npy header byte {}: header dict lacks the key '{}'", source,
                                  dict_begin, name));
  }
  std::optional<NpyDescr> parsed = parse_npy_descr(*descr);
  if (!parsed)
    throw DataError(fmt::format("{}: npy header byte {}: unsupported descr '{}' (supported: f2 f4 f8 "
                                "u1 i1 i2 u2 i4 u4 i8 b1, either byte order)",
                                source, descr_pos, *descr));
  if (*fortran_order)
    throw DataError(fmt::format("{}: fortran_order is True: column-major arrays are not supported "
                                "(save with numpy.ascontiguousarray)",
                                source));
  header.dtype = parsed->dtype;
  header.big_endian = parsed->big_endian;
  header.shape = std::move(*shape);
  header.data_offset = dict_end;
  size_t elements = 1;
  for (size_t d : header.shape) {
    if (__builtin_mul_overflow(elements, d, &elements))
      throw DataError(fmt::format("{}: data size overflows: shape {} has too many elements", source,
                                  shape_to_string(header.shape)));
  }
  size_t bytes_needed = 0;
  size_t end = 0;
  if (__builtin_mul_overflow(elements, npy_dtype_size(header.dtype), &bytes_needed) ||
      __builtin_add_overflow(bytes_needed, header.data_offset, &end))
    throw DataError(fmt::format("{}: data size overflows: shape {} of {} is more than 2^64 bytes",
                                source, shape_to_string(header.shape), npy_dtype_name(header.dtype)));
  header.elements = elements;
  header.data_bytes = bytes_needed;
  return header;
}

std::string format_npy_header(NpyDtype dtype, bool big_endian, const std::vector<size_t>& shape,
                              size_t min_length) {
  std::string shape_text;
  if (shape.size() == 1) {
    shape_text = fmt::format("({},)", shape[0]);
  } else {
    shape_text = fmt::format("({})", fmt::join(shape, ", "));
  }
  std::string dict = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}",
                                 npy_descr(dtype, big_endian), shape_text);
  uint8_t major = dict.size() + 1 + 10 > 65535 ? 2 : 1;
  size_t prefix = major == 1 ? 10 : 12;
  size_t total = prefix + dict.size() + 1;  // + the closing newline
  if (total < min_length) total = min_length;
  total = (total + 63) / 64 * 64;
  if (major == 1 && total - prefix > 65535) {
    major = 2;
    prefix = 12;
    total = (std::max(prefix + dict.size() + 1, min_length) + 63) / 64 * 64;
  }
  size_t dict_length = total - prefix;
  std::string header(reinterpret_cast<const char*>(kMagic), sizeof(kMagic));
  header.push_back(static_cast<char>(major));
  header.push_back('\0');
  for (size_t i = 0; i < prefix - 8; ++i) header.push_back(static_cast<char>((dict_length >> (8 * i)) & 0xff));
  header += dict;
  header.append(total - header.size() - 1, ' ');
  header.push_back('\n');
  return header;
}

}  // namespace unet::data
