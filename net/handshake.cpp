#include "net/handshake.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <system_error>

#include <fmt/format.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "base/limits.h"

namespace unet::net {
namespace {

constexpr size_t kHelloBytes = 4 + 4 + 8 + 8 + kNonceBytes;
constexpr size_t kProofBytes = 32;

// Domain separation: a worker's proof can never be replayed as the PS's, or the reverse.
constexpr std::string_view kWorkerLabel = "unet-worker";
constexpr std::string_view kServerLabel = "unet-ps";

using Nonce = std::array<std::byte, kNonceBytes>;

std::span<const std::byte> bytes_of(std::string_view s) { return std::as_bytes(std::span(s.data(), s.size())); }

void random_fill(Nonce& n) {
  if (RAND_bytes(reinterpret_cast<unsigned char*>(n.data()), static_cast<int>(n.size())) != 1)
    throw std::runtime_error("handshake: the OS random source failed (OpenSSL RAND_bytes)");
}

template <typename T>
void put_le(std::array<std::byte, kHelloBytes>& out, size_t at, T v) {
  for (size_t i = 0; i < sizeof(T); ++i) out[at + i] = static_cast<std::byte>((v >> (8 * i)) & 0xFFu);
}

template <typename T>
T get_le(std::span<const std::byte> in, size_t at) {
  T v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) v |= static_cast<T>(std::to_integer<T>(in[at + i]) << (8 * i));
  return v;
}

std::array<std::byte, kHelloBytes> encode_hello(const Hello& h) {
  std::array<std::byte, kHelloBytes> b{};
  put_le<uint32_t>(b, 0, h.role);
  put_le<uint32_t>(b, 4, h.task_index);
  put_le<uint64_t>(b, 8, h.plan_fingerprint);
  put_le<uint64_t>(b, 16, h.config_digest);
  std::copy(h.nonce.begin(), h.nonce.end(), b.begin() + 24);
  return b;
}

Hello decode_hello(std::span<const std::byte> b) {
  Hello h;
  h.role = get_le<uint32_t>(b, 0);
  h.task_index = get_le<uint32_t>(b, 4);
  h.plan_fingerprint = get_le<uint64_t>(b, 8);
  h.config_digest = get_le<uint64_t>(b, 16);
  std::copy(b.begin() + 24, b.begin() + 24 + kNonceBytes, h.nonce.begin());
  return h;
}

bool same_mac(std::span<const std::byte> a, std::span<const std::byte> b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// The reason comes from the other side: keep it to one printable line.
std::string reason_text(const std::vector<std::byte>& payload) {
  std::string s;
  s.reserve(payload.size());
  for (std::byte b : payload) {
    char ch = static_cast<char>(b);
    s += (ch >= 0x20 && ch < 0x7F) ? ch : '?';
  }
  return s.empty() ? std::string("(no reason given)") : s;
}

void expect(const Connection& c, const FrameHeader& h, FrameType want) {
  if (h.type != want)
    throw FrameError(fmt::format("handshake with {}: expected a {} frame, got {}", c.peer(), frame_type_name(want),
                                 frame_type_name(h.type)));
}

void expect_length(const Connection& c, const FrameHeader& h, uint64_t least, uint64_t most) {
  if (h.length < least || h.length > most) {
    std::string want = least == most ? fmt::format("{}", least) : fmt::format("{} to {}", least, most);
    throw FrameError(fmt::format("handshake with {}: {} frame of {} bytes, expected {}", c.peer(),
                                 frame_type_name(h.type), h.length, want));
  }
}

std::string read_reason(Connection& c, const FrameHeader& h, Millis idle) {
  expect_length(c, h, 0, limits::kMaxReasonBytes);
  return reason_text(c.read_payload(h, idle));
}

[[noreturn]] void refuse_and_throw(Connection& c, const std::string& reason) {
  try {
    server_refuse(c, reason);
  } catch (const NetError&) {
    // The worker may be gone already; the refusal still stands on this side.
  }
  throw HandshakeRefused(reason);
}

}  // namespace

std::array<std::byte, 32> hmac_sha256(std::string_view key, std::span<const std::span<const std::byte>> parts) {
  // HMAC pads a short key with zeros to the block size, so the empty key and a single zero byte
  // are the same key; the latter spares OpenSSL a zero-length key (an --insecure cluster).
  static const unsigned char kZero = 0;
  const auto* k = key.empty() ? &kZero : reinterpret_cast<const unsigned char*>(key.data());
  size_t klen = key.empty() ? 1 : key.size();

  static EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (mac == nullptr) throw std::runtime_error("HMAC-SHA256: OpenSSL has no HMAC");
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac);
  if (ctx == nullptr) throw std::runtime_error("HMAC-SHA256: out of memory");
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0), OSSL_PARAM_construct_end()};
  std::array<std::byte, 32> out{};
  size_t out_len = 0;
  bool ok = EVP_MAC_init(ctx, k, klen, params) == 1;
  for (auto part : parts)
    ok = ok && EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(part.data()), part.size()) == 1;
  ok = ok && EVP_MAC_final(ctx, reinterpret_cast<unsigned char*>(out.data()), &out_len, out.size()) == 1;
  EVP_MAC_CTX_free(ctx);
  if (!ok || out_len != out.size()) throw std::runtime_error("HMAC-SHA256: OpenSSL failed");
  return out;
}

std::vector<std::byte> client_handshake(Connection& c, Hello hello, std::string_view token, Millis idle) {
  random_fill(hello.nonce);
  const auto hello_bytes = encode_hello(hello);
  c.send(FrameType::hello, 0, 0, hello_bytes);

  FrameHeader h = c.read_header(idle, limits::kMaxReasonBytes);
  if (h.type == FrameType::refuse)
    throw HandshakeRefused(fmt::format("the parameter server at {} refused: {}", c.peer(), read_reason(c, h, idle)));
  expect(c, h, FrameType::challenge);
  expect_length(c, h, kNonceBytes, kNonceBytes);
  Nonce server_nonce;
  c.read_payload(h, server_nonce, idle);

  const std::span<const std::byte> proof_parts[] = {bytes_of(kWorkerLabel), server_nonce, hello.nonce, hello_bytes};
  const auto proof = hmac_sha256(token, proof_parts);
  c.send(FrameType::proof, 0, 0, proof);

  h = c.read_header(idle, kProofBytes + limits::kMaxHandshakeAppBytes);
  if (h.type == FrameType::refuse)
    throw HandshakeRefused(fmt::format("the parameter server at {} refused: {}", c.peer(), read_reason(c, h, idle)));
  expect(c, h, FrameType::welcome);
  expect_length(c, h, kProofBytes, kProofBytes + limits::kMaxHandshakeAppBytes);
  std::vector<std::byte> welcome = c.read_payload(h, idle);

  const std::span<const std::byte> server_parts[] = {bytes_of(kServerLabel), hello.nonce, server_nonce};
  const auto expected = hmac_sha256(token, server_parts);
  if (!same_mac(std::span(welcome).first(kProofBytes), expected))
    throw HandshakeRefused(fmt::format("the parameter server at {} does not know the cluster token", c.peer()));
  welcome.erase(welcome.begin(), welcome.begin() + kProofBytes);
  return welcome;
}

Hello server_authenticate(Connection& c, uint64_t plan_fingerprint, uint64_t config_digest, std::string_view token,
                          Millis idle) {
  FrameHeader h;
  try {
    h = c.read_header(idle, kHelloBytes);
  } catch (const FrameVersionError& e) {
    // A worker of another build: say so in words it can print, rather than just hanging up.
    refuse_and_throw(c, fmt::format("protocol version {}, this parameter server speaks {}", e.version(),
                                    kProtocolVersion));
  }
  expect(c, h, FrameType::hello);
  expect_length(c, h, kHelloBytes, kHelloBytes);
  const std::vector<std::byte> hello_bytes = c.read_payload(h, idle);
  Hello hello = decode_hello(hello_bytes);

  if (hello.plan_fingerprint != plan_fingerprint)
    refuse_and_throw(c, fmt::format("plan fingerprint 0x{:016X} differs from the parameter server's 0x{:016X} "
                                    "(compile both from the same model.def and unetc)",
                                    hello.plan_fingerprint, plan_fingerprint));
  if (hello.config_digest != config_digest)
    refuse_and_throw(c, "training configuration differs (--batch_size, the learning-rate flags, --loss_scope, "
                        "--seed, --no_shuffle, --epochs, --max_steps, or the worker or PS count)");

  random_fill(hello.server_nonce);
  c.send(FrameType::challenge, 0, 0, hello.server_nonce);

  h = c.read_header(idle, limits::kMaxReasonBytes);
  if (h.type == FrameType::refuse)
    throw HandshakeRefused(fmt::format("the worker at {} refused: {}", c.peer(), read_reason(c, h, idle)));
  expect(c, h, FrameType::proof);
  expect_length(c, h, kProofBytes, kProofBytes);
  std::array<std::byte, kProofBytes> proof;
  c.read_payload(h, proof, idle);

  const std::span<const std::byte> parts[] = {bytes_of(kWorkerLabel), hello.server_nonce, hello.nonce, hello_bytes};
  if (!same_mac(proof, hmac_sha256(token, parts))) refuse_and_throw(c, "wrong cluster token");
  return hello;
}

void server_welcome(Connection& c, const Hello& hello, std::string_view token, std::span<const std::byte> app) {
  if (app.size() > limits::kMaxHandshakeAppBytes)
    throw std::length_error(fmt::format("server_welcome: {} application bytes, the handshake carries at most {}",
                                        app.size(), limits::kMaxHandshakeAppBytes));
  const std::span<const std::byte> parts[] = {bytes_of(kServerLabel), hello.nonce, hello.server_nonce};
  const auto proof = hmac_sha256(token, parts);
  FrameHeader h;
  h.type = FrameType::welcome;
  const std::span<const std::byte> payload[] = {proof, app};
  c.send(h, payload);
}

void server_refuse(Connection& c, std::string_view reason) {
  c.send(FrameType::refuse, 0, 0, bytes_of(reason.substr(0, limits::kMaxReasonBytes)));
}

std::string load_cluster_token(const std::string& token_file) {
  if (token_file.empty()) {
    const char* env = std::getenv("UNET_CLUSTER_TOKEN");
    return env != nullptr ? std::string(env) : std::string();
  }
  auto fail = [&](const std::string& why) { return NetError(fmt::format("{}: {}", token_file, why)); };
  auto errno_text = [](int e) { return std::system_category().message(e); };

  // Checked on the open descriptor, so the file judged is the file read. O_NONBLOCK: a FIFO
  // put in its place must not hang the start.
  int fd = ::open(token_file.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) throw fail(fmt::format("cannot open the cluster token file: {}", errno_text(errno)));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};

  struct stat st {};
  if (::fstat(fd, &st) != 0) throw fail(fmt::format("cannot stat: {}", errno_text(errno)));
  if (!S_ISREG(st.st_mode)) throw fail("not a regular file; the cluster token must be one");
  if ((st.st_mode & 077) != 0)
    throw fail(fmt::format("mode {:04o} lets others read the cluster token; chmod 600 it", st.st_mode & 07777));
  if (st.st_size > static_cast<off_t>(limits::kMaxTokenBytes))
    throw fail(fmt::format("{} bytes; a cluster token is at most {}", st.st_size, limits::kMaxTokenBytes));

  std::string token(limits::kMaxTokenBytes + 1, '\0');
  size_t have = 0;
  while (have < token.size()) {
    ssize_t got = ::read(fd, token.data() + have, token.size() - have);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) throw fail(fmt::format("cannot read: {}", errno_text(errno)));
    if (got == 0) break;
    have += static_cast<size_t>(got);
  }
  if (have > limits::kMaxTokenBytes)
    throw fail(fmt::format("over {} bytes; a cluster token is at most that", limits::kMaxTokenBytes));
  token.resize(have);
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
  if (token.empty()) throw fail("empty; the cluster token must not be empty");
  return token;
}

}  // namespace unet::net
