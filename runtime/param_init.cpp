#include "runtime/param_init.h"

#include <cmath>
#include <cstring>

#include "kernels/counter_rng.h"

namespace unet::runtime {

std::vector<float> initial_values(const plan::Param& p) {
  const std::vector<size_t> shape = keras_shape(p);
  size_t count = 1;
  for (size_t d : shape) count *= d;
  std::vector<float> v(count, 0.f);
  if (p.init == plan::Init::zeros) return v;
  // Keras: receptive field = product of all but the last two dims; fan_in = rf * shape[-2],
  // fan_out = rf * shape[-1] (for Conv2DTranspose that makes fan_in count output filters).
  double rf = 1;
  for (size_t k = 0; k + 2 < shape.size(); ++k) rf *= static_cast<double>(shape[k]);
  const double fan_in = shape.size() >= 2 ? rf * static_cast<double>(shape[shape.size() - 2]) : static_cast<double>(count);
  const double fan_out = shape.size() >= 2 ? rf * static_cast<double>(shape.back()) : static_cast<double>(count);
  const double limit = p.init == plan::Init::he_uniform ? std::sqrt(6.0 / fan_in)
                                                        : std::sqrt(6.0 / (fan_in + fan_out));
  for (size_t j = 0; j < count; ++j)
    v[j] = static_cast<float>((2.0 * kernels::counter_uniform(p.seed, 0, 0, j) - 1.0) * limit);
  return v;
}

void initialise_params(const plan::Plan& plan, std::byte* arena) {
  for (const plan::Param& p : plan.params) {
    const std::vector<float> v = initial_values(p);
    store_param(plan, arena, p, p.value, v.data());
  }
  for (const plan::Region& r : {plan.grads_region, plan.adam_m_region, plan.adam_v_region})
    std::memset(arena + r.offset, 0, r.bytes);
}

}  // namespace unet::runtime
