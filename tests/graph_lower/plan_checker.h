// Independent checks of a lowered plan, written from the plan's contract rather than from
// the lowering's code: no two tensors live at the same time share memory, and the op lists
// read every value only once it is complete (accumulate flags included).
#pragma once
#include <string>
#include <vector>

#include "plan/plan.h"

namespace unet::test {

// Each returned string describes one violation; empty means the plan is sound.
std::vector<std::string> check_memory(const plan::Plan& plan);
std::vector<std::string> check_order(const plan::Plan& plan);

}  // namespace unet::test
