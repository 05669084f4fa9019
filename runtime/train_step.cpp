#include "runtime/train_step.h"

#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "runtime/runtime_error.h"

namespace unet::runtime {

double LearningRate::at(uint64_t step) const {
  if (constant || decay_steps == 0) return initial;
  return initial * std::pow(static_cast<double>(fraction), static_cast<double>(step) / decay_steps);
}

StepRunner::StepRunner(Engine& engine, StepExchange& exchange, size_t max_micro)
    : engine_(engine), exchange_(exchange), schedule_(engine.plan()) {
  const plan::Plan& p = engine.plan();
  partials_.resize(3 * p.batch * max_micro);
  if (max_micro > 1) accum_.resize(p.grads_region.bytes / sizeof(float));
}

void StepRunner::add_accumulated(const std::vector<size_t>& params) {
  const plan::Plan& p = engine_.plan();
  for (size_t k : params) {
    const plan::Tensor& g = p.tensors[p.params[k].grad];
    float* dst = reinterpret_cast<float*>(engine_.arena() + g.offset);
    const float* src = accum_.data() + (g.offset - p.grads_region.offset) / sizeof(float);
    for (size_t e = 0, n = g.bytes / sizeof(float); e < n; ++e) dst[e] = src[e] + dst[e];
  }
}

void StepRunner::backward(const StepShare& share, size_t j, kernels::StepScalars& s) {
  const plan::Plan& p = engine_.plan();
  Executor& ex = engine_.executor();
  float* grads = reinterpret_cast<float*>(engine_.arena() + p.grads_region.offset);
  const size_t floats = p.grads_region.bytes / sizeof(float);
  const bool last = j + 1 == share.micro;
  if (j > 0) std::memset(grads, 0, p.grads_region.bytes);  // each micro-batch's term from zero
  if (!last || !exchange_.wants_op_hooks()) {
    ex.run(OpList::backward, s);
    if (share.micro == 1) return;
    if (j == 0)
      std::memcpy(accum_.data(), grads, p.grads_region.bytes);
    else
      for (size_t e = 0; e < floats; ++e) (last ? grads[e] : accum_[e]) = accum_[e] + grads[e];
    return;
  }
  // The last micro-batch, with a peer waiting: each gradient leaves as soon as it is final.
  ex.run_hooked(
      OpList::backward, s, [](size_t) {},
      [&](size_t i) {
        if (share.micro > 1) add_accumulated(schedule_.grads_final[i]);
        exchange_.after_final_backward_op(share.step, i);
      });
}

StepResult StepRunner::run(const StepShare& share, const LearningRate& lr, FunctionRef<void(size_t)> load) {
  const plan::Plan& p = engine_.plan();
  const size_t b = p.batch, micro = share.micro;
  if (3 * b * micro > partials_.size())
    throw RuntimeError(fmt::format("a share of {} micro-batches, more than the {} this runner was sized for", micro,
                                   partials_.size() / (3 * b)));
  Executor& ex = engine_.executor();
  std::memset(engine_.arena() + p.grads_region.offset, 0, p.grads_region.bytes);

  kernels::StepScalars s;
  s.step = share.step;
  const float* partials = engine_.view(p.loss_partials).data;
  const bool hooks = exchange_.wants_op_hooks();
  auto forward = [&](size_t j) {
    load(j);
    s.image_base = share.image_base + j * b;
    if (hooks)
      ex.run_hooked(
          OpList::forward, s, [&](size_t i) { exchange_.before_forward_op(share.step, i); }, [](size_t) {});
    else
      ex.run(OpList::forward, s);
  };
  auto set_loss_gradient = [&](const DiceSums& sums) {
    const double smooth = p.dice_smooth;
    s.dice_a = static_cast<float>(-2.0 / (2.0 * sums.intersection + smooth));
    s.dice_b = static_cast<float>(1.0 / (sums.predicted + sums.truth + smooth));
  };
  DiceSums sums;
  if (micro > 1) {
    for (size_t j = 0; j < micro; ++j) {
      forward(j);
      std::memcpy(partials_.data() + 3 * b * j, partials, 3 * b * sizeof(float));
    }
    sums = exchange_.dice_sums(share.step, {partials_.data(), 3 * b * micro});
    set_loss_gradient(sums);
  }
  for (size_t j = 0; j < micro; ++j) {
    forward(j);
    if (micro == 1) {
      sums = exchange_.dice_sums(share.step, {partials, 3 * b});
      set_loss_gradient(sums);
    }
    backward(share, j, s);
  }

  StepResult r;
  r.dice = sums.dice(p.dice_smooth);
  r.loss = -std::log(r.dice);
  r.lr = lr.at(share.step);
  exchange_.update(share.step, r.lr);
  return r;
}

}  // namespace unet::runtime
