// data/json_value (the manifest's parser) and data/brats_manifest: good documents, and each kind
// of malformed one refused in one line naming the source, line and column (or the field).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "data/brats_manifest.h"
#include "data/data_error.h"
#include "data/json_value.h"
#include "runtime_fixtures.h"

namespace unet::data {
namespace {

using Kind = JsonValue::Kind;

std::string error_of(std::string_view text) {
  try {
    parse_json(text, "m.json");
  } catch (const DataError& e) {
    return e.what();
  }
  return "(parsed)";
}

TEST(Json, ParsesEveryKind) {
  const JsonValue v = parse_json(R"( {"a": [1, -2.5e2, 0, 0.125, true, false, null], "s": "x\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00",
    "o": {"k": {}}, "e": [], "a": "again"} )",
                                 "m.json");
  ASSERT_TRUE(v.is(Kind::object));
  EXPECT_EQ(v.find("a")->string(), "again");  // a repeated key: the last wins
  EXPECT_EQ(v.find("s")->string(), "x\"\\/\b\f\n\r\t\xc3\xa9\xf0\x9f\x98\x80");
  EXPECT_TRUE(v.find("o")->find("k")->is(Kind::object));
  EXPECT_TRUE(v.find("e")->array().empty());
  EXPECT_EQ(v.find("nope"), nullptr);
  EXPECT_EQ(v.find("s")->find("x"), nullptr);  // not an object
  const JsonValue a = parse_json("[1, -2.5e2, 0, 0.125, true, false, null]", "m.json");
  ASSERT_EQ(a.array().size(), 7u);
  EXPECT_EQ(a.array()[0].number(), 1);
  EXPECT_EQ(a.array()[1].number(), -250);
  EXPECT_EQ(a.array()[3].number(), 0.125);
  EXPECT_TRUE(a.array()[4].boolean());
  EXPECT_FALSE(a.array()[5].boolean());
  EXPECT_TRUE(a.array()[6].is(Kind::null));
  EXPECT_EQ(parse_json("\"\"", "m.json").string(), "");
  EXPECT_EQ(std::string(json_kind_name(Kind::array)), "an array");
}

TEST(Json, MalformedInputIsOneLineNamingLineAndColumn) {
  const std::pair<const char*, const char*> cases[] = {
      {"", "m.json: line 1, column 1: the text ends where a value should be"},
      {"{\"a\": 1,\n \"b\" 2}", "m.json: line 2, column 6: expected ':' after a member name"},
      {"{\"a\": 1,}", "m.json: line 1, column 9: expected a member name in quotes"},
      {"[1, 2", "m.json: line 1, column 6: expected ',' or ']' in an array"},
      {"[1\n\n  x]", "m.json: line 3, column 3: expected ',' or ']' in an array"},
      {"{\"a\" : 1 ]", "m.json: line 1, column 10: expected ',' or '}' in an object"},
      {"[01]", "m.json: line 1, column 3: expected ',' or ']' in an array"},
      {"-", "m.json: line 1, column 2: a number needs digits"},
      {"1.", "m.json: line 1, column 3: a number needs digits after '.'"},
      {"1e+", "m.json: line 1, column 4: a number needs digits in its exponent"},
      {"1e999", "m.json: line 1, column 6: the number 1e999 is out of range"},
      {"\"abc", "m.json: line 1, column 5: the text ends inside a string"},
      {"\"a\nb\"", "m.json: line 1, column 3: a control character inside a string"},
      {"\"\\q\"", "m.json: line 1, column 3: an unknown escape in a string"},
      {"\"\\u12g4\"", "m.json: line 1, column 7: a \\u escape needs four hex digits"},
      {"\"\\ud800x\"", "m.json: line 1, column 8: a lone UTF-16 surrogate in a \\u escape"},
      {"\"\\udc00\"", "m.json: line 1, column 8: a lone UTF-16 surrogate in a \\u escape"},
      {"tru", "m.json: line 1, column 1: unexpected character 't'"},
      {"\x01", "m.json: line 1, column 1: unexpected character '\\x01'"},
      {"{} {}", "m.json: line 1, column 4: text after the JSON value"},
  };
  for (const auto& [text, expect] : cases) {
    const std::string e = error_of(text);
    EXPECT_EQ(e, expect) << "for " << text;
    EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  }
}

TEST(Json, NestingDeeperThan64IsRefused) {
  EXPECT_NO_THROW(parse_json(std::string(64, '[') + std::string(64, ']'), "m.json"));
  EXPECT_EQ(error_of(std::string(65, '[') + std::string(65, ']')),
            "m.json: line 1, column 65: nested deeper than 64 levels");
  // Far deeper input fails the same way, without running out of stack.
  EXPECT_NE(error_of(std::string(1000000, '[')).find("nested deeper than 64 levels"), std::string::npos);
}

std::string write(const std::string& dir, const std::string& text) {
  const std::string path = dir + "/manifest.json";
  std::ofstream(path, std::ios::trunc) << text;
  return path;
}

std::string manifest_error(const std::string& path) {
  try {
    read_manifest(path);
  } catch (const DataError& e) {
    return e.what();
  }
  return "(read)";
}

const char* kGood = R"({"format": "unetconvert-manifest-1",
  "train": {"rows": 3, "subjects": [{"id": "T1", "first_row": 0, "slices": [5, 6, 7]}]},
  "test": {"rows": 5, "subjects": [{"id": "A", "first_row": 0, "slices": [40, 41]},
                                   {"id": "Empty", "first_row": 2, "slices": []},
                                   {"id": "B", "first_row": 2, "slices": [9, 10, 12]}]}})";

TEST(Manifest, ReadsSplitsAndMapsRowsToSubjects) {
  const std::string dir = test::temp_dir("manifest_good");
  const Manifest m = read_manifest(write(dir, kGood));
  EXPECT_EQ(m.path, dir + "/manifest.json");
  EXPECT_EQ(m.train.rows, 3u);
  ASSERT_EQ(m.test.subjects.size(), 3u);
  ASSERT_NE(m.test.find("B"), nullptr);
  EXPECT_EQ(m.test.find("B")->first_row, 2u);
  EXPECT_EQ(m.test.find("B")->slices, (std::vector<uint32_t>{9, 10, 12}));
  EXPECT_EQ(m.test.find("T1"), nullptr);
  EXPECT_NE(m.train.find("T1"), nullptr);
  const char* owner[] = {"A", "A", "B", "B", "B"};
  for (size_t r = 0; r < 5; ++r) {
    ASSERT_NE(m.test.subject_of(r), nullptr) << r;
    EXPECT_EQ(m.test.subject_of(r)->id, owner[r]) << r;
  }
  EXPECT_EQ(m.test.subject_of(5), nullptr);
}

TEST(Manifest, MalformedManifestNamesTheField) {
  const std::string dir = test::temp_dir("manifest_bad");
  const std::string p = dir + "/manifest.json";
  auto with = [&](const std::string& from, const std::string& to) {
    std::string text = kGood;
    const size_t at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return write(dir, text.replace(at, from.size(), to));
  };
  const std::pair<std::string, std::string> cases[] = {
      {manifest_error(write(dir, "[]")), p + ": the document is an array, expected an object"},
      {manifest_error(write(dir, "{\"format\": 1}")), p + ": format is a number, expected a string"},
      {manifest_error(with("manifest-1", "manifest-2")), p + ": format 'unetconvert-manifest-2' is not "
                                                             "unetconvert-manifest-1"},
      {manifest_error(with("\"train\"", "\"trains\"")), p + ": train is missing"},
      {manifest_error(with("\"first_row\": 2, \"slices\": [9", "\"first_row\": 3, \"slices\": [9")),
       p + ": test.subjects[2].first_row is 3, the rows before it end at 2"},
      {manifest_error(with("\"rows\": 5", "\"rows\": 6")), p + ": test.rows is 6, its subjects' slices add up to 5"},
      {manifest_error(with("\"rows\": 5", "\"rows\": 5.5")), p + ": test.rows is 5.5, expected a whole number from 0 to 1000000000000000"},
      {manifest_error(with("[9, 10, 12]", "[9, -1, 12]")),
       p + ": test.subjects[2].slices[1] is -1, expected a whole number from 0 to 4294967295"},
      {manifest_error(with("\"id\": \"B\"", "\"id\": \"A\"")), p + ": test.subjects[2].id 'A' is named twice in test"},
      {manifest_error(with("\"id\": \"B\"", "\"id\": \"\"")), p + ": test.subjects[2].id is empty"},
      {manifest_error(with("\"id\": \"B\"", "\"id\": \"B\\nC\"")), p + ": test.subjects[2].id holds a control character"},
      {manifest_error(with("\"id\": \"B\"", "\"name\": \"B\"")), p + ": test.subjects[2].id is missing"},
      {manifest_error(with("{\"id\": \"A\"", "7, {\"id\": \"A\"")), p + ": test.subjects[0] is a number, expected an object"},
      {manifest_error(with("\"slices\": [5", "\"slices\": [5,")), p + ": line 2, column 79: unexpected character ','"},
      {manifest_error(dir + "/absent.json"), dir + "/absent.json"},
  };
  for (const auto& [got, expect] : cases) {
    // The missing file's message is the reader's; every other one is compared whole.
    if (expect.ends_with(".json")) EXPECT_EQ(got.substr(0, expect.size()), expect);
    else EXPECT_EQ(got, expect);
    EXPECT_EQ(got.find('\n'), std::string::npos) << got;
  }
}

}  // namespace
}  // namespace unet::data
