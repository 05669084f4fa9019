#include "plan/plan_io.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <fmt/format.h>

#include "base/control_chars.h"
#include "base/limits.h"

namespace unet::plan {
namespace {

// ---- writing --------------------------------------------------------------------------------

class ByteWriter {
 public:
  void u8(uint8_t v) { out_.push_back(v); }
  void u32(uint32_t v) {
    for (int b = 0; b < 4; ++b) out_.push_back(static_cast<uint8_t>(v >> (8 * b)));
  }
  void u64(uint64_t v) {
    for (int b = 0; b < 8; ++b) out_.push_back(static_cast<uint8_t>(v >> (8 * b)));
  }
  void i32(int32_t v) { u32(static_cast<uint32_t>(v)); }
  void f32(float v) { u32(std::bit_cast<uint32_t>(v)); }
  void str(const std::string& s) {
    u32(static_cast<uint32_t>(s.size()));
    out_.insert(out_.end(), s.begin(), s.end());
  }
  std::vector<uint8_t>& bytes() { return out_; }

 private:
  std::vector<uint8_t> out_;
};

void put_ops(ByteWriter& w, const std::vector<Op>& ops) {
  w.u32(static_cast<uint32_t>(ops.size()));
  for (const Op& op : ops) {
    w.str(op.kernel);
    w.u8(static_cast<uint8_t>(op.family));
    w.str(op.label);
    w.u32(static_cast<uint32_t>(op.tensors.size()));
    for (int32_t t : op.tensors) w.i32(t);
    w.u32(static_cast<uint32_t>(op.i.size()));
    for (int32_t v : op.i) w.i32(v);
    w.u32(static_cast<uint32_t>(op.f.size()));
    for (float v : op.f) w.f32(v);
  }
}

void put_region(ByteWriter& w, const Region& r) {
  w.u64(r.offset);
  w.u64(r.bytes);
}

std::vector<uint8_t> encode_body(const Plan& p) {
  ByteWriter w;
  w.str(p.model_name);
  w.u8(static_cast<uint8_t>(p.tier));
  w.u8(p.training ? 1 : 0);
  w.u32(p.batch);
  w.u32(p.in_c);
  w.u32(p.in_h);
  w.u32(p.in_w);
  w.u64(p.seed);
  w.f32(p.optimizer.learning_rate);
  w.f32(p.optimizer.beta1);
  w.f32(p.optimizer.beta2);
  w.f32(p.optimizer.epsilon);
  w.u32(p.optimizer.decay_steps);
  w.f32(p.optimizer.lr_fraction);
  w.f32(p.dice_smooth);
  w.u64(p.arena_bytes);
  w.u64(p.naive_bytes);
  w.i32(p.input);
  w.i32(p.target);
  w.i32(p.prediction);
  w.i32(p.loss_partials);
  put_region(w, p.params_region);
  put_region(w, p.grads_region);
  put_region(w, p.adam_m_region);
  put_region(w, p.adam_v_region);

  w.u32(static_cast<uint32_t>(p.tensors.size()));
  for (const Tensor& t : p.tensors) {
    w.str(t.name);
    w.u8(static_cast<uint8_t>(t.role));
    w.u8(static_cast<uint8_t>(t.layout));
    w.u32(t.n);
    w.u32(t.c);
    w.u32(t.h);
    w.u32(t.w);
    w.u64(t.offset);
    w.u64(t.bytes);
    w.i32(t.view_of);
    w.u32(t.channel_offset);
  }

  w.u32(static_cast<uint32_t>(p.params.size()));
  for (const Param& q : p.params) {
    w.str(q.name);
    w.u8(static_cast<uint8_t>(q.kind));
    w.u8(static_cast<uint8_t>(q.init));
    w.u32(q.kh);
    w.u32(q.kw);
    w.u32(q.ci);
    w.u32(q.co);
    w.u64(q.seed);
    w.i32(q.value);
    w.i32(q.grad);
    w.i32(q.adam_m);
    w.i32(q.adam_v);
  }

  put_ops(w, p.forward);
  put_ops(w, p.backward);
  put_ops(w, p.update);
  return std::move(w.bytes());
}

uint32_t body_crc32(std::span<const uint8_t> body) {
  // zlib's crc32 takes a uInt length: feed it in chunks so any size is covered.
  uLong crc = crc32(0L, Z_NULL, 0);
  size_t done = 0;
  while (done < body.size()) {
    const size_t chunk = std::min<size_t>(body.size() - done, size_t{1} << 30);
    crc = crc32(crc, body.data() + done, static_cast<uInt>(chunk));
    done += chunk;
  }
  return static_cast<uint32_t>(crc);
}

// ---- reading --------------------------------------------------------------------------------

// Reads little-endian fields from the body; every error names the source, the byte offset in
// the file and what was being read.
class ByteReader {
 public:
  ByteReader(std::span<const uint8_t> body, uint64_t file_offset, const std::string& source)
      : body_(body), file_offset_(file_offset), source_(source) {}

  void set_context(std::string context) { context_ = std::move(context); }

  uint8_t u8(std::string_view field) { return static_cast<uint8_t>(take(1, field)); }
  uint32_t u32(std::string_view field) { return static_cast<uint32_t>(take(4, field)); }
  uint64_t u64(std::string_view field) { return take(8, field); }
  int32_t i32(std::string_view field) { return static_cast<int32_t>(u32(field)); }
  float f32(std::string_view field) { return std::bit_cast<float>(u32(field)); }

  std::string str(std::string_view field) {
    const size_t at = pos_;
    const uint32_t len = u32(field);
    if (len > limits::kMaxPlanStringBytes)
      fail_at(at, fmt::format("{} length {} exceeds the limit of {} bytes", field, len,
                              limits::kMaxPlanStringBytes));
    if (len > remaining()) truncated(field);
    std::string s(reinterpret_cast<const char*>(body_.data() + pos_), len);
    // Names and kernel ids reach one-line errors and --dump: a control character (a newline
    // would split the error) is corruption, never something unetc writes.
    if (const auto i = first_control_char(s))
      fail_at(pos_ + *i, fmt::format("{} has control character 0x{:02x}", field,
                                     static_cast<unsigned>(static_cast<unsigned char>(s[*i]))));
    pos_ += len;
    return s;
  }

  // A list count, checked against the limit and against the bytes left (each element takes
  // at least min_element_bytes), so the caller may allocate `count` elements.
  uint32_t count(std::string_view field, size_t min_element_bytes) {
    const size_t at = pos_;
    const uint32_t n = u32(field);
    if (n > limits::kMaxPlanListCount)
      fail_at(at, fmt::format("{} {} exceeds the limit of {}", field, n, limits::kMaxPlanListCount));
    if (static_cast<uint64_t>(n) * min_element_bytes > remaining())
      fail_at(at, fmt::format("{} {} cannot fit in the {} bytes left", field, n, remaining()));
    return n;
  }

  // An enum stored as u8, with its values 0..last.
  template <typename Enum>
  Enum enum_u8(std::string_view field, uint8_t last, std::string_view what) {
    const size_t at = pos_;
    const uint8_t v = u8(field);
    if (v > last) fail_at(at, fmt::format("{} value {} is not a known {}", field, v, what));
    return static_cast<Enum>(v);
  }

  [[noreturn]] void fail_at(size_t body_pos, const std::string& message) const {
    throw PlanError(fmt::format("{}: byte {}: {}{}", source_, file_offset_ + body_pos,
                                context_.empty() ? "" : context_ + ": ", message));
  }

  size_t pos() const { return pos_; }
  size_t remaining() const { return body_.size() - pos_; }

 private:
  uint64_t take(size_t n, std::string_view field) {
    if (n > remaining()) truncated(field);
    uint64_t v = 0;
    for (size_t b = 0; b < n; ++b) v |= static_cast<uint64_t>(body_[pos_ + b]) << (8 * b);
    pos_ += n;
    return v;
  }

  [[noreturn]] void truncated(std::string_view field) const {
    throw PlanError(fmt::format("{}: truncated at byte {} reading {}{}", source_,
                                file_offset_ + body_.size(),
                                context_.empty() ? "" : context_ + " ", field));
  }

  std::span<const uint8_t> body_;
  uint64_t file_offset_;
  const std::string& source_;
  std::string context_;
  size_t pos_ = 0;
};

constexpr uint8_t kLastTier = static_cast<uint8_t>(Tier::avx512_bf16);
constexpr uint8_t kLastRole = static_cast<uint8_t>(TensorRole::region);
constexpr uint8_t kLastLayout = static_cast<uint8_t>(Layout::oihw16i16o);
constexpr uint8_t kLastParamKind = static_cast<uint8_t>(ParamKind::bias);
constexpr uint8_t kLastInit = static_cast<uint8_t>(Init::glorot_uniform);
constexpr uint8_t kLastFamily = static_cast<uint8_t>(Family::count) - 1;

// Smallest encodings, for ByteReader::count.
constexpr size_t kMinTensorBytes = 4 + 1 + 1 + 4 * 4 + 8 + 8 + 4 + 4;
constexpr size_t kMinParamBytes = 4 + 1 + 1 + 4 * 4 + 8 + 4 * 4;
constexpr size_t kMinOpBytes = 4 + 1 + 4 + 3 * 4;

// Fixed-size arrays are stored with their length so a plan from a build with larger arrays
// is refused with a message rather than misread.
template <typename T, size_t N, typename ReadOne>
void get_array(ByteReader& r, std::array<T, N>& out, std::string_view field, ReadOne read_one) {
  const size_t at = r.pos();
  const uint32_t n = r.u32(field);
  if (n > N)
    r.fail_at(at, fmt::format("{} count {} exceeds the {} this unetrun supports", field, n, N));
  for (uint32_t k = 0; k < n; ++k) out[k] = read_one();
}

void get_ops(ByteReader& r, std::vector<Op>& ops, std::string_view list) {
  r.set_context("");
  const uint32_t n = r.count(fmt::format("{} op count", list), kMinOpBytes);
  ops.resize(n);
  for (uint32_t k = 0; k < n; ++k) {
    Op& op = ops[k];
    r.set_context(fmt::format("{} op {}", list, k));
    op.kernel = r.str("kernel name");
    op.family = r.enum_u8<Family>("family", kLastFamily, "kernel family");
    op.label = r.str("label");
    r.set_context(fmt::format("{} op {} '{}'", list, k, op.label));
    get_array(r, op.tensors, "tensor ids", [&] { return r.i32("tensor id"); });
    get_array(r, op.i, "int attributes", [&] { return r.i32("int attribute"); });
    get_array(r, op.f, "float attributes", [&] { return r.f32("float attribute"); });
  }
}

Region get_region(ByteReader& r, std::string_view name) {
  Region g;
  g.offset = r.u64(fmt::format("{} offset", name));
  g.bytes = r.u64(fmt::format("{} bytes", name));
  return g;
}

Plan decode_body(ByteReader& r) {
  Plan p;
  p.model_name = r.str("model name");
  p.tier = r.enum_u8<Tier>("tier", kLastTier, "ISA tier");
  {
    const size_t at = r.pos();
    const uint8_t training = r.u8("training flag");
    if (training > 1) r.fail_at(at, fmt::format("training flag {} is not 0 or 1", training));
    p.training = training == 1;
  }
  p.batch = r.u32("batch");
  p.in_c = r.u32("input channels");
  p.in_h = r.u32("input height");
  p.in_w = r.u32("input width");
  p.seed = r.u64("seed");
  p.optimizer.learning_rate = r.f32("learning rate");
  p.optimizer.beta1 = r.f32("beta1");
  p.optimizer.beta2 = r.f32("beta2");
  p.optimizer.epsilon = r.f32("epsilon");
  p.optimizer.decay_steps = r.u32("decay steps");
  p.optimizer.lr_fraction = r.f32("lr fraction");
  p.dice_smooth = r.f32("dice smooth");
  p.arena_bytes = r.u64("arena bytes");
  p.naive_bytes = r.u64("naive bytes");
  p.input = r.i32("input tensor id");
  p.target = r.i32("target tensor id");
  p.prediction = r.i32("prediction tensor id");
  p.loss_partials = r.i32("loss partials tensor id");
  p.params_region = get_region(r, "params region");
  p.grads_region = get_region(r, "grads region");
  p.adam_m_region = get_region(r, "adam_m region");
  p.adam_v_region = get_region(r, "adam_v region");

  const uint32_t tensor_count = r.count("tensor count", kMinTensorBytes);
  p.tensors.resize(tensor_count);
  for (uint32_t k = 0; k < tensor_count; ++k) {
    Tensor& t = p.tensors[k];
    r.set_context(fmt::format("tensor {}", k));
    t.name = r.str("name");
    r.set_context(fmt::format("tensor {} '{}'", k, t.name));
    t.role = r.enum_u8<TensorRole>("role", kLastRole, "tensor role");
    t.layout = r.enum_u8<Layout>("layout", kLastLayout, "layout");
    t.n = r.u32("n");
    t.c = r.u32("c");
    t.h = r.u32("h");
    t.w = r.u32("w");
    t.offset = r.u64("offset");
    t.bytes = r.u64("bytes");
    t.view_of = r.i32("view_of");
    t.channel_offset = r.u32("channel offset");
  }
  r.set_context("");

  const uint32_t param_count = r.count("param count", kMinParamBytes);
  p.params.resize(param_count);
  for (uint32_t k = 0; k < param_count; ++k) {
    Param& q = p.params[k];
    r.set_context(fmt::format("param {}", k));
    q.name = r.str("name");
    r.set_context(fmt::format("param {} '{}'", k, q.name));
    q.kind = r.enum_u8<ParamKind>("kind", kLastParamKind, "parameter kind");
    q.init = r.enum_u8<Init>("init", kLastInit, "initialiser");
    q.kh = r.u32("kh");
    q.kw = r.u32("kw");
    q.ci = r.u32("ci");
    q.co = r.u32("co");
    q.seed = r.u64("seed");
    q.value = r.i32("value tensor id");
    q.grad = r.i32("grad tensor id");
    q.adam_m = r.i32("adam_m tensor id");
    q.adam_v = r.i32("adam_v tensor id");
  }

  get_ops(r, p.forward, "forward");
  get_ops(r, p.backward, "backward");
  get_ops(r, p.update, "update");
  r.set_context("");
  if (r.remaining() != 0)
    r.fail_at(r.pos(), fmt::format("{} bytes after the end of the plan", r.remaining()));
  return p;
}

uint32_t le32(const uint8_t* b) {
  return uint32_t{b[0]} | uint32_t{b[1]} << 8 | uint32_t{b[2]} << 16 | uint32_t{b[3]} << 24;
}
uint64_t le64(const uint8_t* b) { return uint64_t{le32(b)} | uint64_t{le32(b + 4)} << 32; }

std::string printable(std::span<const uint8_t> bytes) {
  std::string s;
  for (uint8_t b : bytes) s += (b >= 0x20 && b < 0x7f && b != '\'') ? static_cast<char>(b) : '?';
  return s;
}

}  // namespace

uint64_t body_fingerprint(std::span<const uint8_t> body) {
  // FNV-1a, 64-bit: simple, stable across platforms, and enough to tell plans apart.
  uint64_t h = 0xcbf29ce484222325ull;
  for (uint8_t b : body) {
    h ^= b;
    h *= 0x100000001b3ull;
  }
  return h;
}

uint64_t plan_fingerprint(const Plan& plan) { return body_fingerprint(encode_body(plan)); }

std::vector<uint8_t> frame_plan_body(Tier tier, std::span<const uint8_t> body) {
  ByteWriter w;
  for (char c : kPlanMagic) w.u8(static_cast<uint8_t>(c));
  w.u32(kFormatVersion);
  w.u32(kHeaderBytes);
  w.u8(static_cast<uint8_t>(tier));
  for (int k = 0; k < 3; ++k) w.u8(0);
  w.u64(body.size());
  w.u32(body_crc32(body));
  w.u64(body_fingerprint(body));
  std::vector<uint8_t>& out = w.bytes();
  out.insert(out.end(), body.begin(), body.end());
  return std::move(out);
}

std::vector<uint8_t> encode_plan(const Plan& plan) {
  return frame_plan_body(plan.tier, encode_body(plan));
}

Plan decode_plan(std::span<const uint8_t> bytes, const std::string& source) {
  auto fail = [&](const std::string& message) -> void {
    throw PlanError(fmt::format("{}: {}", source, message));
  };
  // Header fields in file order; each is checked before the next is trusted.
  if (bytes.size() < sizeof kPlanMagic) {
    fail(fmt::format("truncated at byte {} reading the header magic", bytes.size()));
  }
  if (std::memcmp(bytes.data(), kPlanMagic, sizeof kPlanMagic) != 0)
    fail(fmt::format("not a plan file (magic '{}', expected 'UNETPLAN')",
                     printable(bytes.first(sizeof kPlanMagic))));
  if (bytes.size() < kHeaderBytes)
    fail(fmt::format("truncated at byte {} reading the header", bytes.size()));
  const uint8_t* h = bytes.data();
  const uint32_t version = le32(h + 8);
  if (version != kFormatVersion)
    fail(fmt::format("format version {}, this unetrun reads version {}", version,
                     kFormatVersion));
  const uint32_t header_size = le32(h + 12);
  if (header_size != kHeaderBytes)
    fail(fmt::format("byte 12: header size {}, version {} headers are {} bytes", header_size,
                     version, kHeaderBytes));
  const uint8_t header_tier = h[16];
  if (header_tier > kLastTier)
    fail(fmt::format("byte 16: tier value {} is not a known ISA tier", header_tier));
  if (h[17] != 0 || h[18] != 0 || h[19] != 0)
    fail("byte 17: reserved header bytes are not zero");
  const uint64_t body_length = le64(h + 20);
  const uint64_t available = bytes.size() - kHeaderBytes;
  if (body_length > available)
    fail(fmt::format("truncated at byte {}: the header says the body has {} bytes, {} are present",
                     bytes.size(), body_length, available));
  if (body_length < available)
    fail(fmt::format("byte {}: {} bytes after the end of the body", kHeaderBytes + body_length,
                     available - body_length));
  const std::span<const uint8_t> body = bytes.subspan(kHeaderBytes);
  if (body_crc32(body) != le32(h + 28)) fail("checksum mismatch (body corrupt)");
  if (body_fingerprint(body) != le64(h + 32)) fail("fingerprint mismatch (header corrupt)");

  ByteReader reader(body, kHeaderBytes, source);
  Plan plan = decode_body(reader);
  if (static_cast<uint8_t>(plan.tier) != header_tier)
    fail(fmt::format("header tier {} differs from the body's tier {}",
                     kernels::tier_name(static_cast<Tier>(header_tier)),
                     kernels::tier_name(plan.tier)));
  return plan;
}

void write_plan_file(const Plan& plan, const std::string& path) {
  const std::vector<uint8_t> bytes = encode_plan(plan);
  const std::filesystem::path target(path);
  const std::filesystem::path temp =
      target.parent_path() / (target.filename().string() + fmt::format(".tmp{}", ::getpid()));
  auto fail = [&](const std::string& what) {
    const int err = errno;
    throw PlanError(fmt::format("{}: {}: {}", path, what, std::strerror(err)));
  };
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail(fmt::format("cannot create {}", temp.string()));
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      ::unlink(temp.c_str());
      fail(fmt::format("cannot write {}", temp.string()));
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    ::unlink(temp.c_str());
    fail(fmt::format("cannot flush {}", temp.string()));
  }
  if (::rename(temp.c_str(), target.c_str()) != 0) {
    ::unlink(temp.c_str());
    fail("cannot rename the temporary file into place");
  }
  // Make the rename itself durable; a failure here loses nothing already written.
  const std::string folder = target.has_parent_path() ? target.parent_path().string() : ".";
  const int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
}

namespace {

// Opening a FIFO for reading waits for a writer forever, and a folder or a device is no
// plan: look before opening. (A missing file is left to the open, whose error names it.)
void require_regular_file(const std::string& path) {
  std::error_code ec;
  const auto st = std::filesystem::status(path, ec);
  if (!ec && std::filesystem::exists(st) && !std::filesystem::is_regular_file(st))
    throw PlanError(fmt::format("{}: not a regular file", path));
}

}  // namespace

bool starts_with_plan_magic(const std::string& path) {
  require_regular_file(path);
  std::ifstream in(path, std::ios::binary);
  char magic[sizeof kPlanMagic] = {};
  return in.read(magic, sizeof magic) && std::equal(std::begin(magic), std::end(magic), std::begin(kPlanMagic));
}

Plan read_plan_file(const std::string& path) {
  require_regular_file(path);
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw PlanError(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  const std::streamoff size = in.tellg();
  if (size < 0) throw PlanError(fmt::format("{}: cannot determine the file size", path));
  if (static_cast<uint64_t>(size) > limits::kMaxPlanFileBytes)
    throw PlanError(fmt::format("{}: file is {} bytes, larger than any plan (limit {} bytes)",
                                path, size, limits::kMaxPlanFileBytes));
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  in.seekg(0);
  if (!in.read(reinterpret_cast<char*>(bytes.data()), size))
    throw PlanError(fmt::format("{}: read error", path));
  return decode_plan(bytes, path);
}

}  // namespace unet::plan
