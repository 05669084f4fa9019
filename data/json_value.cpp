#include "data/json_value.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include <fmt/format.h>

#include "base/limits.h"
#include "data/data_error.h"

namespace unet::data {

const JsonValue* JsonValue::find(std::string_view key) const {
  if (kind_ != Kind::object) return nullptr;
  const auto it = object_.find(key);
  return it == object_.end() ? nullptr : &it->second;
}

const char* json_kind_name(JsonValue::Kind kind) {
  switch (kind) {
    case JsonValue::Kind::null: return "null";
    case JsonValue::Kind::boolean: return "a boolean";
    case JsonValue::Kind::number: return "a number";
    case JsonValue::Kind::string: return "a string";
    case JsonValue::Kind::array: return "an array";
    case JsonValue::Kind::object: return "an object";
  }
  return "?";
}

class JsonParser {
 public:
  JsonParser(std::string_view text, const std::string& source) : s_(text), source_(source) {}

  JsonValue document() {
    JsonValue v = value(0);
    skip_space();
    if (pos_ != s_.size()) fail("text after the JSON value");
    return v;
  }

 private:

  // Line and column (1-based, the column in bytes) for a person editing the file; the text
  // is only scanned again on the way to an error.
  [[noreturn]] void fail(const std::string& what) const {
    const size_t at = std::min(pos_, s_.size());
    size_t line = 1, line_start = 0;
    for (size_t k = 0; k < at; ++k)
      if (s_[k] == '\n') {
        ++line;
        line_start = k + 1;
      }
    throw DataError(fmt::format("{}: line {}, column {}: {}", source_, line, at - line_start + 1, what));
  }
  void skip_space() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  bool literal(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  JsonValue value(int depth) {
    if (depth >= limits::kMaxJsonDepth) fail(fmt::format("nested deeper than {} levels", limits::kMaxJsonDepth));
    skip_space();
    if (pos_ >= s_.size()) fail("the text ends where a value should be");
    JsonValue v;
    const char c = s_[pos_];
    if (c == '{') {
      v.kind_ = JsonValue::Kind::object;
      ++pos_;
      skip_space();
      if (pos_ < s_.size() && s_[pos_] == '}') {
        ++pos_;
        return v;
      }
      for (;;) {
        skip_space();
        if (pos_ >= s_.size() || s_[pos_] != '"') fail("expected a member name in quotes");
        std::string key = string_body();
        skip_space();
        if (pos_ >= s_.size() || s_[pos_] != ':') fail("expected ':' after a member name");
        ++pos_;
        v.object_.insert_or_assign(std::move(key), value(depth + 1));
        skip_space();
        if (pos_ < s_.size() && s_[pos_] == ',') {
          ++pos_;
          continue;
        }
        if (pos_ < s_.size() && s_[pos_] == '}') {
          ++pos_;
          return v;
        }
        fail("expected ',' or '}' in an object");
      }
    }
    if (c == '[') {
      v.kind_ = JsonValue::Kind::array;
      ++pos_;
      skip_space();
      if (pos_ < s_.size() && s_[pos_] == ']') {
        ++pos_;
        return v;
      }
      for (;;) {
        v.array_.push_back(value(depth + 1));
        skip_space();
        if (pos_ < s_.size() && s_[pos_] == ',') {
          ++pos_;
          continue;
        }
        if (pos_ < s_.size() && s_[pos_] == ']') {
          ++pos_;
          return v;
        }
        fail("expected ',' or ']' in an array");
      }
    }
    if (c == '"') {
      v.kind_ = JsonValue::Kind::string;
      v.string_ = string_body();
      return v;
    }
    if (literal("true")) {
      v.kind_ = JsonValue::Kind::boolean;
      v.boolean_ = true;
      return v;
    }
    if (literal("false")) {
      v.kind_ = JsonValue::Kind::boolean;
      return v;
    }
    if (literal("null")) return v;
    if (c == '-' || (c >= '0' && c <= '9')) {
      v.kind_ = JsonValue::Kind::number;
      v.number_ = number();
      return v;
    }
    fail(fmt::format("unexpected character '{}'", c >= 0x20 && c < 0x7f ? std::string(1, c) : fmt::format("\\x{:02x}", static_cast<unsigned char>(c))));
  }

  // JSON's number grammar, checked here; strtod (on a bounded copy) converts it.
  double number() {
    const size_t start = pos_;
    auto digits = [&] {
      const size_t d = pos_;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
      return pos_ - d;
    };
    if (s_[pos_] == '-') ++pos_;
    if (pos_ < s_.size() && s_[pos_] == '0') {
      ++pos_;
    } else if (digits() == 0) {
      fail("a number needs digits");
    }
    if (pos_ < s_.size() && s_[pos_] == '.') {
      ++pos_;
      if (digits() == 0) fail("a number needs digits after '.'");
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
      if (digits() == 0) fail("a number needs digits in its exponent");
    }
    if (pos_ - start > 400) fail("a number of more than 400 characters");
    const std::string copy(s_.substr(start, pos_ - start));
    const double d = std::strtod(copy.c_str(), nullptr);
    if (!std::isfinite(d)) fail(fmt::format("the number {} is out of range", copy));
    return d;
  }

  static void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xc0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xe0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
      out += static_cast<char>(0xf0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    }
  }

  uint32_t hex4() {
    if (pos_ + 4 > s_.size()) fail("the text ends inside a \\u escape");
    uint32_t v = 0;
    for (int k = 0; k < 4; ++k) {
      const char h = s_[pos_++];
      v <<= 4;
      if (h >= '0' && h <= '9') v |= static_cast<uint32_t>(h - '0');
      else if (h >= 'a' && h <= 'f') v |= static_cast<uint32_t>(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F') v |= static_cast<uint32_t>(h - 'A' + 10);
      else fail("a \\u escape needs four hex digits");
    }
    return v;
  }

  // At the opening quote; returns the decoded text, pos_ after the closing quote.
  std::string string_body() {
    ++pos_;
    std::string out;
    for (;;) {
      if (pos_ >= s_.size()) fail("the text ends inside a string");
      const char c = s_[pos_];
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (static_cast<unsigned char>(c) < 0x20) fail("a control character inside a string");
      if (c != '\\') {
        out += c;
        ++pos_;
        continue;
      }
      ++pos_;
      if (pos_ >= s_.size()) fail("the text ends inside a string");
      const char e = s_[pos_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          uint32_t cp = hex4();
          if (cp >= 0xd800 && cp < 0xdc00) {  // a high surrogate: its low half must follow
            if (!literal("\\u")) fail("a lone UTF-16 surrogate in a \\u escape");
            const uint32_t low = hex4();
            if (low < 0xdc00 || low >= 0xe000) fail("a lone UTF-16 surrogate in a \\u escape");
            cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
          } else if (cp >= 0xdc00 && cp < 0xe000) {
            fail("a lone UTF-16 surrogate in a \\u escape");
          }
          append_utf8(out, cp);
          break;
        }
        default: --pos_; fail("an unknown escape in a string");
      }
    }
  }

  std::string_view s_;
  const std::string& source_;
  size_t pos_ = 0;
};

JsonValue parse_json(std::string_view text, const std::string& source) { return JsonParser(text, source).document(); }

}  // namespace unet::data
