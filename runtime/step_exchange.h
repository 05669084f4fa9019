// The seam between one process's training step and the rest of the cluster. A step asks it,
// at fixed points, for what a distributed run must trade: the global batch's Dice sums
// (−log Dice over the batch does not decompose), the update, and, for overlap, a word before
// each forward op (weights it reads must have arrived) and after each backward op of the
// step's last micro-batch (gradients it finalised can leave). The local implementation sums
// its own partials and runs Adam in place: standalone training, as fast as without the seam.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>

#include "kernels/kernel_call.h"
#include "plan/plan.h"

namespace unet::runtime {

class Engine;

// Dice = (2I + s) / (P + T + s) from summed partials (I = sum p*t, P = sum p, T = sum t).
struct DiceSums {
  double intersection = 0, predicted = 0, truth = 0;
  void add_partials(const float* partials, size_t images);  // 3 floats an image, in order
  double dice(double smooth) const;
};

// The step scalars of Adam at `step` (0-based) with learning rate `lr`: TensorFlow's bias
// correction folded into lr_t.
kernels::StepScalars adam_scalars(const plan::Optimizer& o, uint64_t step, double lr, float grad_scale);

// What a process's exchange has cost so far (zero for standalone).
struct NetworkStats {
  double blocked_seconds = 0;  // the compute thread waiting on the network
  uint64_t bytes_sent = 0, bytes_received = 0;
};

class StepExchange {
 public:
  virtual ~StepExchange() = default;
  // Whether the step must call the two op hooks (they cost a call per op; local needs none).
  virtual bool wants_op_hooks() const { return false; }
  // Before forward op i of any micro-batch of `step`.
  virtual void before_forward_op(uint64_t step, size_t i) {}
  // After backward op i of the step's last micro-batch, once each gradient it finished holds
  // this process's whole share (micro-batches summed).
  virtual void after_final_backward_op(uint64_t step, size_t i) {}
  // The Dice sums the loss is taken over, given this process's per-image partials (3 floats
  // an image, its images in global-batch order).
  virtual DiceSums dice_sums(uint64_t step, std::span<const float> partials) = 0;
  // The step's parameter update at learning rate `lr` (the gradients are final).
  virtual void update(uint64_t step, double lr) = 0;
  // Makes the arena's parameters (with `moments`, Adam's moments too) those after `steps`
  // updates: before a checkpoint, an evaluation, the end of the run.
  virtual void sync_state(uint64_t steps, bool moments) {}
  virtual NetworkStats stats() const { return {}; }
};

// Standalone: the sums are this process's own, Adam runs on the arena's regions.
class LocalExchange final : public StepExchange {
 public:
  explicit LocalExchange(Engine& engine) : engine_(engine) {}
  DiceSums dice_sums(uint64_t step, std::span<const float> partials) override;
  void update(uint64_t step, double lr) override;

 private:
  Engine& engine_;
};

}  // namespace unet::runtime
