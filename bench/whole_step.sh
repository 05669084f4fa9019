#!/usr/bin/env bash
# Whole training step of the seed's UNet, ours against PyTorch, same model, batch and threads,
# measured back to back in one run (the machines are shared: compare the ratio).
#   bash bench/whole_step.sh [BATCH] [THREADS] [STEPS]
set -euo pipefail
cd "$(dirname "$0")/.."
batch=${1:-16}
threads=${2:-$(nproc)}
steps=${3:-3}
build=${BUILD:-build}
plan=$(mktemp -d)/plan.bin
"$build"/tools/unetc/unetc models/unet_brats.def -o "$plan" --batch "$batch" --target native
ours=$("$build"/tools/unetbench/unetbench train "$plan" --steps "$steps" --warmup 1 --num_threads "$threads")
echo "$ours"
peer=$(/usr/bin/python3 bench/peers/unet_pytorch.py --batch "$batch" --threads "$threads" --steps "$steps")
echo "$peer"
a=$(sed -n 's/.* \([0-9.]*\) images\/s.*/\1/p' <<<"$ours")
b=$(sed -n 's/.* \([0-9.]*\) images\/s.*/\1/p' <<<"$peer")
# A step is about 18 GFLOP an image (3x a 6.0 GFLOP forward).
awk -v a="$a" -v b="$b" 'BEGIN { printf "ratio ours/pytorch: %.2fx  (ours %.1f GFLOP/s)\n", a / b, a * 18 }'
