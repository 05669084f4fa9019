// The names of a plan's enums, as --dump and the validator's messages print them ("?" for a
// value out of range: a corrupt plan is named, not trusted).
#pragma once
#include <string_view>

#include "plan/plan.h"

namespace unet::plan {

std::string_view role_name(TensorRole role);
std::string_view layout_name(Layout layout);
std::string_view param_kind_name(ParamKind kind);
std::string_view init_name(Init init);

}  // namespace unet::plan
