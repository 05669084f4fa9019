// A plan's three op lists by name: how files outside the plan (a tune file) say which list an
// op belongs to, an op being named by its list and its label.
#pragma once
#include <array>
#include <optional>
#include <string_view>
#include <vector>

#include "plan/plan.h"

namespace unet::plan {

enum class OpListKind : uint8_t { forward = 0, backward = 1, update = 2 };
inline constexpr std::array<OpListKind, 3> kOpLists = {OpListKind::forward, OpListKind::backward, OpListKind::update};

std::string_view op_list_name(OpListKind list);  // "forward", "backward", "update"
std::optional<OpListKind> op_list_from_name(std::string_view name);
const std::vector<Op>& op_list(const Plan& plan, OpListKind list);
std::vector<Op>& op_list(Plan& plan, OpListKind list);

}  // namespace unet::plan
