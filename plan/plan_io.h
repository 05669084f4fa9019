// plan.bin: the binary encoding of a Plan.
//
// File = header (kHeaderBytes) + body. Everything is little-endian, written field by field.
//   header: magic "UNETPLAN" (8) | format version u32 | header size u32 | tier u8 |
//           3 reserved zero bytes | body length u64 | CRC32 of the body u32 |
//           fingerprint of the body u64
//   body:   the Plan's fields in declaration order (plan_io.cpp lists them); strings are
//           u32 length + bytes, vectors u32 count + elements, floats their IEEE-754 bits.
// Decoding trusts nothing: every read is bounds-checked, counts are limited before anything
// is allocated, enum values are range-checked. Shapes and offsets are checked by
// validate_plan (plan_validate.h), which a loader runs next.
#pragma once
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "base/limits.h"
#include "plan/plan.h"

namespace unet::plan {

// A plan that cannot be read or is inconsistent. what() is one line naming the source
// and the place: "plan.bin: byte 1234: tensor 17 'conv1a/grad': layout value 9 is not ...".
class PlanError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline constexpr char kPlanMagic[8] = {'U', 'N', 'E', 'T', 'P', 'L', 'A', 'N'};
inline constexpr uint32_t kHeaderBytes = 40;

std::vector<uint8_t> encode_plan(const Plan& plan);
// `source` names the bytes in error messages (normally the file path).
Plan decode_plan(std::span<const uint8_t> bytes, const std::string& source);

// Writes to a temporary name in the same folder, fsyncs, then renames over `path`.
void write_plan_file(const Plan& plan, const std::string& path);
Plan read_plan_file(const std::string& path);
// Whether the file begins with kPlanMagic (unetc --dump takes anything else for a model.def).
// Throws PlanError for a path that is not a regular file (a FIFO would block the read).
bool starts_with_plan_magic(const std::string& path);

// 64-bit hash of the encoded body: the PS and the workers compare it at handshake.
uint64_t plan_fingerprint(const Plan& plan);
uint64_t body_fingerprint(std::span<const uint8_t> body);

// Wraps an encoded body in a header (encode_plan's second half). Exposed so tests can
// build files whose checksum is right but whose body is hostile.
std::vector<uint8_t> frame_plan_body(Tier tier, std::span<const uint8_t> body);

}  // namespace unet::plan
