// Whole-training-step timing on synthetic input: what unetbench train reports.
#pragma once
#include <cstdint>

#include "runtime/engine.h"

namespace unet::runtime {

struct StepTiming {
  double seconds_per_step = 0;
  double images_per_second = 0;
  double first_loss = 0, last_loss = 0;
};

// Initialises parameters, fills the input with noise and the target with a square lesion,
// then times `steps` training steps (one micro-batch each) after `warmup` untimed ones.
StepTiming time_training_steps(Engine& engine, int steps, int warmup);

}  // namespace unet::runtime
