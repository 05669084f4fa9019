// PyTorch as the whole-step peer: bench/peers/unet_pytorch.py (the seed's UNet, -log Dice,
// Adam) run by python3 on a given batch and thread count, its images/s read from the one line
// it prints. bench/whole_step.sh runs the same script by hand.
#pragma once
#include <string>

namespace unet::runtime {

struct PytorchStep {
  bool ran = false;
  std::string why_not;  // when it did not run: what is missing or what went wrong, one line
  std::string line;     // what the script printed: "pytorch 1.13.1 batch 2 threads 2: ..."
  double images_per_second = 0;
};

// Why the peer cannot run here, in one line ("python3 cannot import torch (ModuleNotFoundError:
// ...)", the script missing), or "" when it can.
std::string pytorch_unavailable(const std::string& script);

// Runs `python3 script --batch B --threads T --steps S --size H` (after one warm-up step).
// When the script fails or prints no images/s, ran is false and why_not says so.
PytorchStep run_pytorch_peer(const std::string& script, int batch, int threads, int steps, int size);

}  // namespace unet::runtime
