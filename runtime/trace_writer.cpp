#include "runtime/trace_writer.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <map>

#include <fmt/format.h>

#include "base/limits.h"
#include "data/atomic_file.h"
#include "runtime/runtime_error.h"

namespace unet::runtime {

namespace {

std::optional<uint64_t> parse_step(std::string_view s) {
  // Digits only (from_chars takes no sign or space); a value past 2^64 - 1 is its overflow.
  if (s.empty() || s.size() > 20) return std::nullopt;
  uint64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

int os_thread_id() {
  thread_local const int id = static_cast<int>(syscall(SYS_gettid));
  return id;
}

// A JSON string's body: quotes, backslashes and control characters escaped.
void append_escaped(std::string& out, std::string_view s) {
  for (const char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20)
          out += fmt::format("\\u{:04x}", static_cast<unsigned>(static_cast<unsigned char>(c)));
        else
          out += c;
    }
  }
}

std::string json_string(std::string_view s) {
  std::string out = "\"";
  append_escaped(out, s);
  out += '"';
  return out;
}

}  // namespace

StepRange parse_step_range(const std::string& text, const std::string& flag) {
  const size_t colon = text.find(':');
  const std::optional<uint64_t> a = parse_step(std::string_view(text).substr(0, colon));
  const std::optional<uint64_t> b =
      colon == std::string::npos ? a : parse_step(std::string_view(text).substr(colon + 1));
  if (!a || !b || *a < 1 || *a > *b)
    throw RuntimeError(fmt::format("{}'{}': want A:B, the first and last global step to trace, 1 <= A <= B "
                                   "(e.g. 2:3), or one step N",
                                   flag.empty() ? "" : flag + " ", text));
  if (*b - *a >= limits::kMaxTraceSteps)
    throw RuntimeError(fmt::format("{}'{}': {} steps; a trace holds at most {} (its events stay in memory until "
                                   "the window ends)",
                                   flag.empty() ? "" : flag + " ", text, *b - *a + 1, limits::kMaxTraceSteps));
  return {*a, *b};
}

const char* trace_list_name(TraceList list) {
  return list == TraceList::forward ? "forward" : list == TraceList::backward ? "backward" : "update";
}

TraceRecorder::TraceRecorder(std::string path, int threads, std::optional<StepRange> steps, const plan::Plan& plan)
    : path_(std::move(path)), plan_(plan), requested_(steps), slots_(static_cast<size_t>(std::max(threads, 1))) {
  steps_ = requested_ ? *requested_ : StepRange{kDefaultTraceFrom, kDefaultTraceTo};
  const size_t ops = plan.forward.size() + plan.backward.size() + plan.update.size();
  for (std::vector<Chunk>& s : slots_) s.reserve(4 * ops);
  // A path that cannot be written fails now, in one line, not after the run. A folder there
  // would pass the probe (a temporary beside it) and fail only at the rename, after the run.
  std::error_code ec;
  if (std::filesystem::is_directory(path_, ec))
    throw RuntimeError(fmt::format("--trace: {}: is a folder; give the trace's file name (e.g. {}/trace.json)", path_,
                                   path_));
  const std::filesystem::path parent = std::filesystem::path(path_).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);  // the probe names the failure
  try {
    data::AtomicFile probe(path_);  // removed again, uncommitted
  } catch (const std::exception& e) {
    throw RuntimeError(fmt::format("--trace: {}", e.what()));
  }
}

void TraceRecorder::start_run(uint64_t first_global_step) {
  run_start_ = first_global_step;
  if (!requested_) steps_ = {first_global_step + kDefaultTraceFrom, first_global_step + kDefaultTraceTo};
}

void TraceRecorder::begin_step(uint64_t global_step) {
  step_ = global_step;
  std::fill(std::begin(passes_), std::end(passes_), 0u);
  traced_.push_back(global_step);
  const int64_t t = now();
  if (origin_ < 0) origin_ = t;
  open_step_ = spans_.size();
  spans_.push_back({fmt::format("step {}", global_step), "step", global_step, 0, t, t});
}

void TraceRecorder::end_step() {
  if (open_list_ != SIZE_MAX) end_list();
  if (open_step_ == SIZE_MAX) return;
  spans_[open_step_].t1 = now();
  open_step_ = SIZE_MAX;
}

void TraceRecorder::begin_list(TraceList list) {
  if (open_list_ != SIZE_MAX) end_list();
  list_ = list;
  pass_ = passes_[static_cast<size_t>(list)]++;
  open_list_ = spans_.size();
  const int64_t t = now();
  spans_.push_back({trace_list_name(list), "pass", step_, pass_, t, t});
}

void TraceRecorder::end_list() {
  if (open_list_ == SIZE_MAX) return;
  spans_[open_list_].t1 = now();
  open_list_ = SIZE_MAX;
}

std::vector<TraceRecorder::Chunk>& TraceRecorder::buffer(int slot) {
  return slots_[static_cast<size_t>(slot)];
}

void TraceRecorder::op_chunk(int slot, const plan::Op* op, size_t begin, size_t end, size_t work, int64_t t0,
                             int64_t t1) {
  const Chunk c{op, step_, pass_, list_, os_thread_id(), begin, end, work, t0, t1};
  if (slot >= 0 && static_cast<size_t>(slot) < slots_.size()) {
    buffer(slot).push_back(c);
    return;
  }
  std::lock_guard<std::mutex> lock(overflow_mutex_);
  overflow_.push_back(c);
}

size_t TraceRecorder::op_events() const {
  size_t n = overflow_.size();
  for (const std::vector<Chunk>& s : slots_) n += s.size();
  return n;
}

std::string TraceRecorder::write() {
  finished_ = true;
  const int pid = static_cast<int>(getpid());
  const int training_thread = os_thread_id();  // write() runs on the training thread
  constexpr int kStepsRow = 0;                  // no OS thread has id 0
  const int64_t origin = origin_ < 0 ? now() : origin_;
  auto us = [&](int64_t t) { return fmt::format("{:.3f}", static_cast<double>(t - origin) / 1e3); };
  auto dur = [](int64_t t0, int64_t t1) { return fmt::format("{:.3f}", static_cast<double>(std::max<int64_t>(t1 - t0, 0)) / 1e3); };

  std::string out;
  out.reserve(256 * (op_events() + spans_.size()) + 4096);
  out += "{\"displayTimeUnit\": \"ms\",\n\"otherData\": {";
  out += fmt::format("\"model\": {}, \"tier\": {}, \"micro_batch\": {}, \"threads\": {}, \"trace_steps\": \"{}:{}\", "
                     "\"steps_traced\": {}",
                     json_string(plan_.model_name), json_string(kernels::tier_name(plan_.tier)), plan_.batch, slots_.size(),
                     steps_.first, steps_.last, traced_.size());
  out += "},\n\"traceEvents\": [\n";
  bool first = true;
  auto event = [&](const std::string& body) {
    if (!first) out += ",\n";
    first = false;
    out += body;
  };
  auto metadata = [&](const char* what, int tid, const std::string& args) {
    event(fmt::format("{{\"name\": \"{}\", \"ph\": \"M\", \"pid\": {}, \"tid\": {}, \"args\": {{{}}}}}", what, pid, tid,
                      args));
  };
  metadata("process_name", kStepsRow, fmt::format("\"name\": {}", json_string("unetrun " + plan_.model_name)));
  metadata("thread_name", kStepsRow, "\"name\": \"training steps\"");
  metadata("thread_sort_index", kStepsRow, "\"sort_index\": -1");

  // Each OS thread is named by the slot it was first seen in; the training thread says so.
  std::map<int, size_t> thread_slot;
  auto see = [&](const std::vector<Chunk>& chunks, size_t slot) {
    for (const Chunk& c : chunks) thread_slot.emplace(c.os_thread, slot);
  };
  for (size_t s = 0; s < slots_.size(); ++s) see(slots_[s], s);
  see(overflow_, slots_.size());
  for (const auto& [tid, slot] : thread_slot) {
    const std::string name = slot >= slots_.size()      ? fmt::format("thread {}", tid)
                             : tid == training_thread ? fmt::format("compute {} (training thread)", slot)
                                                      : fmt::format("compute {}", slot);
    metadata("thread_name", tid, fmt::format("\"name\": {}", json_string(name)));
    metadata("thread_sort_index", tid, fmt::format("\"sort_index\": {}", slot));
  }

  for (const Span& s : spans_)
    event(fmt::format("{{\"name\": {}, \"cat\": \"{}\", \"ph\": \"X\", \"ts\": {}, \"dur\": {}, \"pid\": {}, \"tid\": {}, "
                      "\"args\": {{\"step\": {}{}}}}}",
                      json_string(s.name), s.category, us(s.t0), dur(s.t0, s.t1), pid, kStepsRow, s.step,
                      std::string_view(s.category) == "pass" ? fmt::format(", \"pass\": {}", s.pass) : ""));
  auto chunks = [&](const std::vector<Chunk>& list) {
    for (const Chunk& c : list)
      event(fmt::format("{{\"name\": {}, \"cat\": \"{}\", \"ph\": \"X\", \"ts\": {}, \"dur\": {}, \"pid\": {}, "
                        "\"tid\": {}, \"args\": {{\"kernel\": {}, \"items\": \"{}-{}\", \"of\": {}, \"step\": {}, "
                        "\"pass\": {}}}}}",
                        json_string(c.op->label), trace_list_name(c.list), us(c.t0), dur(c.t0, c.t1), pid, c.os_thread,
                        json_string(c.op->kernel), c.begin, c.end, c.work, c.step, c.pass));
  };
  for (const std::vector<Chunk>& s : slots_) chunks(s);
  chunks(overflow_);
  out += "\n]}\n";

  try {
    data::AtomicFile file(path_);
    file.write(out);
    file.commit();
  } catch (const std::exception& e) {
    throw RuntimeError(fmt::format("--trace: {}", e.what()));
  }
  written_ = true;
  return path_;
}

}  // namespace unet::runtime
