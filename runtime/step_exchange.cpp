#include "runtime/step_exchange.h"

#include <cmath>

#include "runtime/engine.h"

namespace unet::runtime {

void DiceSums::add_partials(const float* partials, size_t images) {
  for (size_t i = 0; i < images; ++i) {
    intersection += partials[3 * i];
    predicted += partials[3 * i + 1];
    truth += partials[3 * i + 2];
  }
}

double DiceSums::dice(double smooth) const {
  return (2.0 * intersection + smooth) / (predicted + truth + smooth);
}

kernels::StepScalars adam_scalars(const plan::Optimizer& o, uint64_t step, double lr, float grad_scale) {
  kernels::StepScalars s;
  s.step = step;
  const double t = static_cast<double>(step + 1);
  s.lr_t = static_cast<float>(lr * std::sqrt(1.0 - std::pow(o.beta2, t)) / (1.0 - std::pow(o.beta1, t)));
  s.grad_scale = grad_scale;
  return s;
}

DiceSums LocalExchange::dice_sums(uint64_t, std::span<const float> partials) {
  DiceSums sums;
  sums.add_partials(partials.data(), partials.size() / 3);
  return sums;
}

void LocalExchange::update(uint64_t step, double lr) {
  engine_.executor().run(OpList::update, adam_scalars(engine_.plan().optimizer, step, lr, 1.f));
}

}  // namespace unet::runtime
