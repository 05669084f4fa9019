#include "data/brats_manifest.h"

#include <algorithm>
#include <cmath>
#include <string_view>
#include <unordered_set>

#include <fmt/format.h>

#include "base/control_chars.h"
#include "base/limits.h"
#include "data/data_error.h"
#include "data/json_value.h"
#include "data/npy_mapped_file.h"

namespace unet::data {
namespace {


using Kind = JsonValue::Kind;

const JsonValue& member(const JsonValue& obj, std::string_view key, Kind kind, const std::string& where,
                        const std::string& path) {
  const JsonValue* v = obj.find(key);
  if (!v) throw DataError(fmt::format("{}: {}{}{} is missing", path, where, where.empty() ? "" : ".", key));
  if (!v->is(kind))
    throw DataError(fmt::format("{}: {}{}{} is {}, expected {}", path, where, where.empty() ? "" : ".", key,
                                json_kind_name(v->kind()), json_kind_name(kind)));
  return *v;
}

// A count or index: a whole number in [0, limit].
size_t whole(const JsonValue& v, double limit, const std::string& field, const std::string& path) {
  if (!v.is(Kind::number))
    throw DataError(fmt::format("{}: {} is {}, expected a number", path, field, json_kind_name(v.kind())));
  const double d = v.number();
  if (!(d >= 0) || d > limit || std::floor(d) != d)
    throw DataError(fmt::format("{}: {} is {}, expected a whole number from 0 to {}", path, field, d, limit));
  return static_cast<size_t>(d);
}

ManifestSplit split(const JsonValue& root, const char* name, const std::string& path) {
  ManifestSplit out;
  const JsonValue& s = member(root, name, Kind::object, "", path);
  out.rows = whole(member(s, "rows", Kind::number, name, path), 1e15, fmt::format("{}.rows", name), path);
  const JsonValue& subjects = member(s, "subjects", Kind::array, name, path);
  size_t next_row = 0;
  std::unordered_set<std::string> ids;
  for (size_t k = 0; k < subjects.array().size(); ++k) {
    const JsonValue& e = subjects.array()[k];
    const std::string where = fmt::format("{}.subjects[{}]", name, k);
    if (!e.is(Kind::object))
      throw DataError(fmt::format("{}: {} is {}, expected an object", path, where, json_kind_name(e.kind())));
    ManifestSubject m;
    m.id = member(e, "id", Kind::string, where, path).string();
    if (m.id.empty()) throw DataError(fmt::format("{}: {}.id is empty", path, where));
    // Ids go into file names, error lines and the report: a control character (a newline)
    // would split a one-line error, and no BraTS folder name has one.
    if (first_control_char(m.id))
      throw DataError(fmt::format("{}: {}.id holds a control character", path, where));
    m.first_row = whole(member(e, "first_row", Kind::number, where, path), 1e15, where + ".first_row", path);
    if (m.first_row != next_row)
      throw DataError(fmt::format("{}: {}.first_row is {}, the rows before it end at {}", path, where, m.first_row,
                                  next_row));
    const JsonValue& slices = member(e, "slices", Kind::array, where, path);
    m.slices.reserve(slices.array().size());
    for (size_t j = 0; j < slices.array().size(); ++j)
      m.slices.push_back(static_cast<uint32_t>(
          whole(slices.array()[j], 4294967295.0, fmt::format("{}.slices[{}]", where, j), path)));
    next_row += m.slices.size();
    if (!ids.insert(m.id).second)
      throw DataError(fmt::format("{}: {}.id '{}' is named twice in {}", path, where, m.id, name));
    out.subjects.push_back(std::move(m));
  }
  if (next_row != out.rows)
    throw DataError(fmt::format("{}: {}.rows is {}, its subjects' slices add up to {}", path, name, out.rows,
                                next_row));
  return out;
}

}  // namespace

const ManifestSubject* ManifestSplit::find(const std::string& id) const {
  for (const ManifestSubject& s : subjects)
    if (s.id == id) return &s;
  return nullptr;
}

const ManifestSubject* ManifestSplit::subject_of(size_t row) const {
  // Subjects tile the rows in order: the last one starting at or before `row`.
  auto it = std::upper_bound(subjects.begin(), subjects.end(), row,
                             [](size_t r, const ManifestSubject& s) { return r < s.first_row; });
  while (it != subjects.begin()) {
    --it;
    if (row < it->first_row + it->slices.size()) return &*it;
    if (!it->slices.empty()) break;  // row lies past this subject's end
  }
  return nullptr;
}

Manifest read_manifest(const std::string& path) {
  const MappedFile file = MappedFile::open(path);
  if (file.size() > limits::kMaxManifestBytes)
    throw DataError(fmt::format("{}: {} bytes; a manifest is at most {}", path, file.size(), limits::kMaxManifestBytes));
  const std::string_view text(reinterpret_cast<const char*>(file.data()), file.size());
  const JsonValue root = parse_json(text, path);
  if (!root.is(Kind::object)) throw DataError(fmt::format("{}: the document is {}, expected an object", path,
                                                           json_kind_name(root.kind())));
  const std::string& format = member(root, "format", Kind::string, "", path).string();
  if (format != "unetconvert-manifest-1")
    throw DataError(fmt::format("{}: format '{}' is not unetconvert-manifest-1", path, format));
  Manifest m;
  m.path = path;
  m.train = split(root, "train", path);
  m.test = split(root, "test", path);
  return m;
}

}  // namespace unet::data
