// A worker's StepExchange over the parameter servers (unetrun --worker): the Dice partials go
// to PS 0 and the global sums come back; each gradient leaves for its shard as soon as the
// backward finalises it, and the pull for its next value as soon as the backward no longer
// reads the current one; the next forward waits, op by op, only for the weights it reads.
// Values land straight in the arena and gradients leave straight from it (no copies); the
// network runs on its own threads (a reader per PS, one sender, a heartbeat), never on the
// compute threads.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "runtime/cluster.h"
#include "runtime/engine.h"
#include "runtime/runtime_error.h"
#include "runtime/step_exchange.h"

namespace unet::runtime {

// The chief ended the run (it was stopped by a signal, after a final checkpoint) while this
// worker was on a later step: a clean end, not a failure.
class RunEnded : public RuntimeError {
 public:
  using RuntimeError::RuntimeError;
};

class RemoteExchange final : public StepExchange {
 public:
  using Log = std::function<void(const std::string&)>;
  // Connects to every PS task (waiting up to the peer timeout for each: they may start after
  // the workers) and passes the handshake; the weights for the PS's global step are then
  // pulled. RuntimeError naming the PS when it refuses us or never answers.
  RemoteExchange(Engine& engine, const ClusterSpec& cluster, const TrainConfig& train, size_t task_index, Log log);
  ~RemoteExchange() override;  // without finish(): the parameter servers see this worker fail

  uint64_t start_step() const;  // the global step the parameter servers hold

  bool wants_op_hooks() const override { return true; }
  void before_forward_op(uint64_t step, size_t i) override;
  void after_final_backward_op(uint64_t step, size_t i) override;
  DiceSums dice_sums(uint64_t step, std::span<const float> partials) override;
  void update(uint64_t step, double lr) override;
  void sync_state(uint64_t steps, bool moments) override;

  // Tells every PS this worker is done (after its last step) and waits for each to
  // acknowledge.
  void finish();

  // After the run failed: when every PS aborted it (a worker was lost), fetches their state
  // at the last step all of them completed into the arena and returns that step, for the
  // chief to checkpoint; nullopt when a PS is gone or does not answer.
  std::optional<uint64_t> recover_state();

  using Stats = NetworkStats;
  Stats stats() const override;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace unet::runtime
