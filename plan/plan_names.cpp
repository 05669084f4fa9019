#include "plan/plan_names.h"

#include <iterator>

namespace unet::plan {

std::string_view role_name(TensorRole role) {
  static constexpr std::string_view names[] = {"input",   "target",        "activation",
                                               "gradient", "param",        "param_grad",
                                               "adam_m",  "adam_v",        "loss_partials",
                                               "region"};
  const auto k = static_cast<size_t>(role);
  return k < std::size(names) ? names[k] : "?";
}

std::string_view layout_name(Layout layout) {
  static constexpr std::string_view names[] = {"nChw16c", "nhw", "flat", "oihw16i16o"};
  const auto k = static_cast<size_t>(layout);
  return k < std::size(names) ? names[k] : "?";
}

std::string_view param_kind_name(ParamKind kind) {
  static constexpr std::string_view names[] = {"conv_kernel", "tconv_kernel", "bias"};
  const auto k = static_cast<size_t>(kind);
  return k < std::size(names) ? names[k] : "?";
}

std::string_view init_name(Init init) {
  static constexpr std::string_view names[] = {"zeros", "he_uniform", "glorot_uniform"};
  const auto k = static_cast<size_t>(init);
  return k < std::size(names) ? names[k] : "?";
}

}  // namespace unet::plan
