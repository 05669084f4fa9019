// Whole-training-step timing on synthetic input: what unetbench train reports.
#pragma once
#include <cstdint>
#include <string>

#include "runtime/engine.h"

namespace unet::runtime {

struct StepTiming {
  double seconds_per_step = 0;
  double images_per_second = 0;
  double first_loss = 0, last_loss = 0;
};

// load_plan, refusing a forward-only plan (unetc --infer) with one line naming `path` and
// `command` (what needs the training plan: "unetbench layers").
plan::Plan load_training_plan(const std::string& path, const std::string& command);

// Initialises parameters, fills the input with noise and the target with a square lesion: the
// synthetic micro-batch every step of the benchmarks trains on.
void fill_synthetic_batch(Engine& engine);

// fill_synthetic_batch, then times `steps` training steps (one micro-batch each) after
// `warmup` untimed ones.
StepTiming time_training_steps(Engine& engine, int steps, int warmup);

}  // namespace unet::runtime
