// The plan as readable text (unetc --dump): header, tensors, params, op lists. The text is
// stable (no pointers, no timestamps, fixed number formatting), so golden tests diff it.
#pragma once
#include <string>

#include "plan/plan.h"

namespace unet::plan {

std::string dump_plan(const Plan& plan);

}  // namespace unet::plan
