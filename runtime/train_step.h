// One process's part of a global training step: its micro-batches forward, the Dice sums of
// the global batch, backward with them, the update — each trade with the rest of the cluster
// going through a StepExchange (LocalExchange when standalone).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "runtime/engine.h"
#include "runtime/function_ref.h"
#include "runtime/param_schedule.h"
#include "runtime/step_exchange.h"

namespace unet::runtime {

struct LearningRate {
  float initial = 0.0005f;
  uint32_t decay_steps = 350;
  float fraction = 0.2f;
  bool constant = false;
  // lr * fraction^(step / decay_steps), or lr when constant (TensorFlow's exponential_decay).
  double at(uint64_t step) const;
};

struct StepResult {
  double loss = 0, dice = 0, lr = 0;
};

// This process's share of a global step.
struct StepShare {
  uint64_t step = 0;        // the global step
  size_t micro = 1;         // micro-batches (of the plan's batch) in the share
  uint64_t image_base = 0;  // index in the global batch of the share's first image
};

class StepRunner {
 public:
  // `max_micro`: the most micro-batches a share will have (sizes the buffers, allocated here
  // so that no step allocates).
  StepRunner(Engine& engine, StepExchange& exchange, size_t max_micro);

  // load(j) fills the plan's input and target with micro-batch j of the share.
  //
  // Several micro-batches: a forward-only pass gathers the Dice partials first (the loss's
  // gradient needs the global sums), then each micro-batch's forward is recomputed before its
  // backward. Each micro-batch's gradient is computed from zero and added to the running sum
  // (g = ((g0 + g1) + g2) ...), so a share's gradient is a sum of per-micro-batch terms in
  // order whatever the kernels' own summation: one micro-batch per worker gives, summed in
  // worker order, the same bits as one process over the whole batch.
  StepResult run(const StepShare& share, const LearningRate& lr, FunctionRef<void(size_t)> load);

 private:
  void backward(const StepShare& share, size_t j, kernels::StepScalars& s);
  // grads[p] = accum[p] + grads[p] for the listed params (the last micro-batch's term).
  void add_accumulated(const std::vector<size_t>& params);

  Engine& engine_;
  StepExchange& exchange_;
  ParamSchedule schedule_;
  std::vector<float> partials_;  // 3 per image of the share
  std::vector<float> accum_;     // grads region's floats, when shares have several micro-batches
};

}  // namespace unet::runtime
