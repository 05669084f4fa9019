// The handshake that opens every worker -> PS connection: protocol version, plan
// fingerprint, a digest of the training configuration, the worker's task index, and a
// mutual HMAC-SHA256 challenge-response on the cluster token (OpenSSL's libcrypto; nonces
// from the OS; constant-time compare).
//
//   worker -> PS  hello      payload: role u32 | task index u32 | plan fingerprint u64 |
//                                     config digest u64 | client nonce (32)
//   PS -> worker  challenge  payload: server nonce (32)             (or refuse: reason text)
//   worker -> PS  proof      payload: HMAC(token, "unet-worker" | server nonce | client nonce |
//                                          hello payload)
//   PS -> worker  welcome    payload: HMAC(token, "unet-ps" | client nonce | server nonce) |
//                                     application bytes              (or refuse: reason text)
//
// An empty token (an --insecure cluster on loopback) still runs the exchange, keyed by "".
#pragma once
#include <array>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "net/connection.h"

namespace unet::net {

// The other side said no: what() is its reason ("wrong cluster token", "worker index 1 is
// already connected", ...).
class HandshakeRefused : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline constexpr size_t kNonceBytes = 32;

struct Hello {
  uint32_t role = 0;  // 0: worker
  uint32_t task_index = 0;
  uint64_t plan_fingerprint = 0;
  uint64_t config_digest = 0;
  std::array<std::byte, kNonceBytes> nonce{};
  // Not sent in the hello: the challenge's nonce, kept by server_authenticate for the proof
  // server_welcome sends.
  std::array<std::byte, kNonceBytes> server_nonce{};
};

// Worker side: sends hello (nonce drawn here), answers the challenge, checks the PS's proof.
// Returns the welcome's application bytes. HandshakeRefused when the PS refuses (its reason),
// when the PS's proof is wrong ("the parameter server at H does not know the cluster token"),
// NetError / FrameError on transport trouble.
std::vector<std::byte> client_handshake(Connection& c, Hello hello, std::string_view token, Millis idle);

// PS side, first half: reads hello; refuses (sends refuse, then throws HandshakeRefused with
// the same reason) on a wrong protocol version, plan fingerprint or config digest; sends the
// challenge; reads the proof; refuses a wrong one ("wrong cluster token"). Returns the hello,
// now authenticated.
Hello server_authenticate(Connection& c, uint64_t plan_fingerprint, uint64_t config_digest,
                          std::string_view token, Millis idle);
// PS side, second half: accept (the PS's proof and `app` bytes) or refuse with a reason.
void server_welcome(Connection& c, const Hello& hello, std::string_view token, std::span<const std::byte> app);
void server_refuse(Connection& c, std::string_view reason);

// HMAC-SHA256 of the parts concatenated (exposed for tests).
std::array<std::byte, 32> hmac_sha256(std::string_view key, std::span<const std::span<const std::byte>> parts);

// The cluster token: the contents of `token_file` when given (a regular file readable by its
// owner only, else refused naming the file and its mode; trailing newline dropped; empty
// refused), else the UNET_CLUSTER_TOKEN environment variable, else "".
std::string load_cluster_token(const std::string& token_file);

}  // namespace unet::net
