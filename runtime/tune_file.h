// tune.json: which kernel runs each op fastest on one host, as unetbench tune measured it, and
// what unetc --tune reads back to compile a plan with those kernels. The file says where it
// was measured (CPU, tier, threads, batch, model, date) and, per tuned op, every candidate's
// time, so a reader can see why a kernel was chosen.
//
//   {"format": "unet-tune", "version": 1, "cpu": "AMD EPYC", "tier": "avx512_bf16",
//    "threads": 2, "batch": 2, "model": "unet_brats", "date": "2025-01-01T12:00:00Z",
//    "budget_seconds": 60, "untimed_ops": 0,
//    "ops": [{"list": "forward", "label": "conv2a", "family": "conv2d_fwd",
//             "shape": "mb2ic32ih64iw64oc64oh64ow64kh3kw3ph1pw1_relu_bias",
//             "default": "...", "chosen": "...",
//             "candidates": [{"kernel": "...", "seconds": 0.0012, "min_seconds": 0.0011,
//                             "runs": 5}, ...]}, ...]}
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/isa_tier.h"

namespace unet::runtime {

struct TuneCandidate {
  std::string kernel;
  double seconds = 0;      // median of `runs` timed calls
  double min_seconds = 0;  // the fastest of them: what load from other processes cannot inflate
  // 0: cut after its first calls, already far slower than the best (both times: the faster).
  int runs = 0;
};

struct TunedOp {
  std::string list, label, family;
  std::string shape;  // plan/op_shape.h
  std::string default_kernel, chosen_kernel;
  std::vector<TuneCandidate> candidates;
};

struct TuneFile {
  std::string cpu;  // /proc/cpuinfo "model name" of the host it was measured on
  kernels::Tier tier = kernels::Tier::scalar;
  int threads = 1;
  uint32_t batch = 1;
  std::string model;
  std::string date;  // UTC, ISO 8601: 2025-01-01T12:00:00Z
  double budget_seconds = 0;
  // Ops with several candidates left at their default because the budget was spent.
  uint64_t untimed_ops = 0;
  std::vector<TunedOp> ops;
};

// The document, ending in a newline.
std::string tune_file_json(const TuneFile& file);
// Written to a temporary name, then renamed (data/atomic_file.h).
void write_tune_file(const TuneFile& file, const std::string& path);

// Parses `text` (read from `source`) and checks it: the format and version, every field's
// type and range, known tier, list and family names, and per op that the default and chosen
// kernels are registered kernels of the op's family that the file's tier includes, each
// among the candidates, no op named twice. Throws RuntimeError, one line naming `source` and
// the place: "tune.json: line 3, column 7: ..." for JSON syntax, "tune.json: ops[4].chosen:
// ..." for the rest.
TuneFile parse_tune_file(std::string_view text, const std::string& source);
// The file at `path` (at most limits::kMaxTuneFileBytes), as parse_tune_file.
TuneFile read_tune_file(const std::string& path);

// One line for each way the file was made for another setting than the one given: another CPU
// model, tier, batch, or thread count (`threads` 0: not compared). Each names `source`.
std::vector<std::string> tune_file_mismatches(const TuneFile& file, const std::string& source, std::string_view cpu,
                                              kernels::Tier tier, uint32_t batch, int threads);

}  // namespace unet::runtime
