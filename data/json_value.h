// A small JSON reader (RFC 8259) for the files we write ourselves and read back untrusted:
// unetconvert's manifest.json. A document tree; errors name the source, line and column.
#pragma once
#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace unet::data {

class JsonValue {
 public:
  enum class Kind { null, boolean, number, string, array, object };

  Kind kind() const { return kind_; }
  bool is(Kind k) const { return kind_ == k; }
  bool boolean() const { return boolean_; }
  double number() const { return number_; }
  const std::string& string() const { return string_; }
  const std::vector<JsonValue>& array() const { return array_; }
  const std::map<std::string, JsonValue, std::less<>>& object() const { return object_; }
  // The member `key` of an object, or nullptr (also when this is not an object).
  const JsonValue* find(std::string_view key) const;

 private:
  friend class JsonParser;
  Kind kind_ = Kind::null;
  bool boolean_ = false;
  double number_ = 0;
  std::string string_;
  std::vector<JsonValue> array_;
  std::map<std::string, JsonValue, std::less<>> object_;  // a repeated key: the last wins
};

// "null", "array", ...: for error messages.
const char* json_kind_name(JsonValue::Kind kind);

// Parses one JSON document (surrounding whitespace allowed, nothing else after it). Nesting
// deeper than 64 levels is refused. Throws DataError "<source>: line L, column C: <what>"
// (C counts bytes from 1).
JsonValue parse_json(std::string_view text, const std::string& source);

}  // namespace unet::data
