#include "plan/op_lists.h"

namespace unet::plan {

std::string_view op_list_name(OpListKind list) {
  switch (list) {
    case OpListKind::forward:
      return "forward";
    case OpListKind::backward:
      return "backward";
    case OpListKind::update:
      return "update";
  }
  return "?";
}

std::optional<OpListKind> op_list_from_name(std::string_view name) {
  for (OpListKind l : kOpLists)
    if (op_list_name(l) == name) return l;
  return std::nullopt;
}

const std::vector<Op>& op_list(const Plan& plan, OpListKind list) {
  return list == OpListKind::forward ? plan.forward : list == OpListKind::backward ? plan.backward : plan.update;
}

std::vector<Op>& op_list(Plan& plan, OpListKind list) {
  return list == OpListKind::forward ? plan.forward : list == OpListKind::backward ? plan.backward : plan.update;
}

}  // namespace unet::plan
