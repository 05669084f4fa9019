#include "runtime/tune_file.h"

#include <cmath>
#include <optional>
#include <set>
#include <utility>

#include <fmt/format.h>

#include "base/control_chars.h"
#include "base/json_string.h"
#include "base/limits.h"
#include "data/atomic_file.h"
#include "data/data_error.h"
#include "data/json_value.h"
#include "data/npy_mapped_file.h"
#include "kernels/kernel_registry.h"
#include "plan/op_lists.h"
#include "runtime/runtime_error.h"

namespace unet::runtime {
namespace {

constexpr std::string_view kFormat = "unet-tune";
constexpr int kVersion = 1;
// Thread counts a file may claim: far above any host, and it sizes nothing.
constexpr double kMaxThreads = 1 << 20;

using data::JsonValue;
using Kind = JsonValue::Kind;

// fmt's shortest form reads back to the same double, so a file round-trips exactly.
std::string number(double v) { return fmt::format("{}", v); }

// The checks of one document, each failure one line naming the source and the field.
class Reader {
 public:
  explicit Reader(const std::string& source) : source_(source) {}

  [[noreturn]] void fail(const std::string& where, const std::string& what) const {
    throw RuntimeError(fmt::format("{}: {}: {}", source_, where, what));
  }

  const JsonValue& member(const JsonValue& obj, std::string_view key, Kind kind, const std::string& where) const {
    const std::string field = where.empty() ? std::string(key) : fmt::format("{}.{}", where, key);
    const JsonValue* v = obj.find(key);
    if (!v) fail(field, "missing");
    if (!v->is(kind))
      fail(field, fmt::format("is {}, expected {}", data::json_kind_name(v->kind()), data::json_kind_name(kind)));
    return *v;
  }

  // A string that ends up in one-line messages and tables: no control characters.
  std::string text(const JsonValue& obj, std::string_view key, const std::string& where,
                   bool may_be_empty = false) const {
    const std::string& s = member(obj, key, Kind::string, where).string();
    const std::string field = where.empty() ? std::string(key) : fmt::format("{}.{}", where, key);
    if (first_control_char(s)) fail(field, "holds a control character");
    if (s.empty() && !may_be_empty) fail(field, "is empty");
    return s;
  }

  double whole(const JsonValue& obj, std::string_view key, double lo, double hi, const std::string& where) const {
    const double d = member(obj, key, Kind::number, where).number();
    if (!(d >= lo && d <= hi) || std::floor(d) != d)
      fail(where.empty() ? std::string(key) : fmt::format("{}.{}", where, key),
           fmt::format("is {}, expected a whole number from {} to {}", d, lo, hi));
    return d;
  }

  double seconds(const JsonValue& obj, std::string_view key, const std::string& where) const {
    const double d = member(obj, key, Kind::number, where).number();
    if (!std::isfinite(d) || d < 0)
      fail(where.empty() ? std::string(key) : fmt::format("{}.{}", where, key),
           fmt::format("is {}, expected seconds (0 or more)", d));
    return d;
  }

  // A registered kernel of `family` that a plan of `tier` may run: a name the compiler can
  // put in a plan, or the file is corrupt (or from another build of the kernels).
  void kernel(const std::string& name, kernels::Family family, kernels::Tier tier, const std::string& field) const {
    const kernels::KernelInfo* k = kernels::find_kernel(name);
    if (!k) fail(field, fmt::format("'{}' is not a registered kernel", name));
    if (k->family != family)
      fail(field, fmt::format("'{}' is a {} kernel, the op is {}", name, kernels::family_name(k->family),
                              kernels::family_name(family)));
    if (!kernels::tier_includes(tier, k->tier))
      fail(field, fmt::format("'{}' needs tier {}, the file is for tier {}", name, kernels::tier_name(k->tier),
                              kernels::tier_name(tier)));
  }

  TunedOp op(const JsonValue& v, size_t index, kernels::Tier tier) const {
    std::string where = fmt::format("ops[{}]", index);
    if (!v.is(Kind::object)) fail(where, fmt::format("is {}, expected an object", data::json_kind_name(v.kind())));
    TunedOp op;
    op.list = text(v, "list", where);
    if (!plan::op_list_from_name(op.list))
      fail(where + ".list", fmt::format("'{}' is not forward, backward or update", op.list));
    op.label = text(v, "label", where);
    where += fmt::format(" ({}/{})", op.list, op.label);
    op.family = text(v, "family", where);
    std::optional<kernels::Family> family;
    for (int f = 0; f < static_cast<int>(kernels::Family::count); ++f)
      if (kernels::family_name(static_cast<kernels::Family>(f)) == op.family) family = static_cast<kernels::Family>(f);
    if (!family) fail(where + ".family", fmt::format("'{}' is not a kernel family", op.family));
    op.shape = text(v, "shape", where);
    op.default_kernel = text(v, "default", where);
    kernel(op.default_kernel, *family, tier, where + ".default");
    op.chosen_kernel = text(v, "chosen", where);
    kernel(op.chosen_kernel, *family, tier, where + ".chosen");
    const JsonValue& candidates = member(v, "candidates", Kind::array, where);
    std::set<std::string> seen;
    for (size_t c = 0; c < candidates.array().size(); ++c) {
      const JsonValue& e = candidates.array()[c];
      const std::string at = fmt::format("{}.candidates[{}]", where, c);
      if (!e.is(Kind::object)) fail(at, fmt::format("is {}, expected an object", data::json_kind_name(e.kind())));
      TuneCandidate k;
      k.kernel = text(e, "kernel", at);
      kernel(k.kernel, *family, tier, at + ".kernel");
      if (!seen.insert(k.kernel).second) fail(at + ".kernel", fmt::format("'{}' is listed twice", k.kernel));
      k.seconds = seconds(e, "seconds", at);
      k.min_seconds = seconds(e, "min_seconds", at);
      if (k.min_seconds > k.seconds)
        fail(at + ".min_seconds", fmt::format("is {}, more than the median {}", k.min_seconds, k.seconds));
      k.runs = static_cast<int>(whole(e, "runs", 0, 1e6, at));
      op.candidates.push_back(std::move(k));
    }
    // The choice and the default were both timed: a file saying otherwise was not written by
    // the tuner.
    if (!seen.count(op.default_kernel))
      fail(where + ".default", fmt::format("'{}' is not among the candidates", op.default_kernel));
    if (!seen.count(op.chosen_kernel))
      fail(where + ".chosen", fmt::format("'{}' is not among the candidates", op.chosen_kernel));
    return op;
  }

  TuneFile file(const JsonValue& root) const {
    if (!root.is(Kind::object))
      throw RuntimeError(fmt::format("{}: the document is {}, expected a tune file's object", source_,
                                     data::json_kind_name(root.kind())));
    const JsonValue* format = root.find("format");
    if (!format || !format->is(Kind::string) || format->string() != kFormat)
      throw RuntimeError(fmt::format(
          "{}: not a tune file (its \"format\" is not \"{}\": write one with unetbench tune)", source_, kFormat));
    const double version = member(root, "version", Kind::number, "").number();
    if (version != kVersion) fail("version", fmt::format("is {}; this build reads version {}", version, kVersion));
    TuneFile f;
    f.cpu = text(root, "cpu", "", true);
    const std::string tier = text(root, "tier", "");
    const auto t = kernels::tier_from_name(tier);
    if (!t) fail("tier", fmt::format("'{}' is not scalar, avx512f, avx512 or avx512_bf16", tier));
    f.tier = *t;
    f.threads = static_cast<int>(whole(root, "threads", 1, kMaxThreads, ""));
    f.batch = static_cast<uint32_t>(whole(root, "batch", 1, limits::kMaxCompileBatch, ""));
    f.model = text(root, "model", "");
    f.date = text(root, "date", "", true);
    f.budget_seconds = seconds(root, "budget_seconds", "");
    f.untimed_ops = static_cast<uint64_t>(whole(root, "untimed_ops", 0, 1e15, ""));
    const JsonValue& ops = member(root, "ops", Kind::array, "");
    std::set<std::pair<std::string, std::string>> named;
    for (size_t k = 0; k < ops.array().size(); ++k) {
      TunedOp op = this->op(ops.array()[k], k, f.tier);
      if (!named.insert({op.list, op.label}).second)
        fail(fmt::format("ops[{}]", k), fmt::format("{}/{} is named twice", op.list, op.label));
      f.ops.push_back(std::move(op));
    }
    return f;
  }

 private:
  const std::string& source_;
};

}  // namespace

std::string tune_file_json(const TuneFile& f) {
  std::string s = "{\n";
  s += fmt::format("  \"format\": {}, \"version\": {},\n", json_string(kFormat), kVersion);
  s += fmt::format("  \"cpu\": {}, \"tier\": {}, \"threads\": {}, \"batch\": {},\n", json_string(f.cpu),
                   json_string(kernels::tier_name(f.tier)), f.threads, f.batch);
  s += fmt::format("  \"model\": {}, \"date\": {}, \"budget_seconds\": {}, \"untimed_ops\": {},\n",
                   json_string(f.model), json_string(f.date), number(f.budget_seconds), f.untimed_ops);
  s += "  \"ops\": [";
  for (size_t k = 0; k < f.ops.size(); ++k) {
    const TunedOp& op = f.ops[k];
    s += k ? ",\n    " : "\n    ";
    s += fmt::format(
        "{{\"list\": {}, \"label\": {}, \"family\": {}, \"shape\": {},\n     \"default\": {}, \"chosen\": {}, "
        "\"candidates\": [",
        json_string(op.list), json_string(op.label), json_string(op.family), json_string(op.shape),
        json_string(op.default_kernel), json_string(op.chosen_kernel));
    for (size_t c = 0; c < op.candidates.size(); ++c)
      s += fmt::format("{}\n       {{\"kernel\": {}, \"seconds\": {}, \"min_seconds\": {}, \"runs\": {}}}",
                       c ? "," : "", json_string(op.candidates[c].kernel), number(op.candidates[c].seconds),
                       number(op.candidates[c].min_seconds), op.candidates[c].runs);
    s += "]}";
  }
  s += f.ops.empty() ? "]\n}\n" : "\n  ]\n}\n";
  return s;
}

void write_tune_file(const TuneFile& file, const std::string& path) {
  try {
    data::AtomicFile out(path);
    out.write(tune_file_json(file));
    out.commit();
  } catch (const data::DataError& e) {
    throw RuntimeError(e.what());
  }
}

TuneFile parse_tune_file(std::string_view text, const std::string& source) {
  data::JsonValue root;
  try {
    root = data::parse_json(text, source);
  } catch (const data::DataError& e) {
    throw RuntimeError(e.what());  // already "<source>: line L, column C: ..."
  }
  return Reader(source).file(root);
}

TuneFile read_tune_file(const std::string& path) {
  data::MappedFile file;
  try {
    file = data::MappedFile::open(path);
  } catch (const data::DataError& e) {
    throw RuntimeError(e.what());
  }
  if (file.size() > limits::kMaxTuneFileBytes)
    throw RuntimeError(
        fmt::format("{}: {} bytes; a tune file is at most {}", path, file.size(), limits::kMaxTuneFileBytes));
  return parse_tune_file({reinterpret_cast<const char*>(file.data()), file.size()}, path);
}

std::vector<std::string> tune_file_mismatches(const TuneFile& f, const std::string& source, std::string_view cpu,
                                              kernels::Tier tier, uint32_t batch, int threads) {
  std::vector<std::string> out;
  if (f.cpu != cpu)
    out.push_back(
        fmt::format("{}: tuned on '{}', this host is '{}': its timings may not hold here", source, f.cpu, cpu));
  if (f.tier != tier)
    out.push_back(fmt::format("{}: tuned at tier {}, the plan is for tier {}", source, kernels::tier_name(f.tier),
                              kernels::tier_name(tier)));
  if (f.batch != batch)
    out.push_back(
        fmt::format("{}: tuned at batch {}, the plan is for batch {}: ops whose shapes differ keep their "
                    "default kernels",
                    source, f.batch, batch));
  if (threads > 0 && f.threads != threads)
    out.push_back(fmt::format("{}: tuned with {} threads, the plan is for {}", source, f.threads, threads));
  return out;
}

}  // namespace unet::runtime
