#!/usr/bin/env bash
# Whole training step of the seed's UNet, ours against PyTorch, same model, batch and threads,
# measured in one run: ROUNDS rounds (default 2), each timing ours then the peer; the best
# round of each is reported (the machines are shared and noisy: the best is the least
# disturbed; compare the ratio).
#   bash bench/whole_step.sh [BATCH] [THREADS] [STEPS]
set -euo pipefail
cd "$(dirname "$0")/.."
batch=${1:-16}
threads=${2:-$(nproc)}
steps=${3:-3}
rounds=${ROUNDS:-2}
build=${BUILD:-build}
plan=$(mktemp -d)/plan.bin
"$build"/tools/unetc/unetc models/unet_brats.def -o "$plan" --batch "$batch" --target native
rate() { sed -n 's/.* \([0-9.]*\) images\/s.*/\1/p' <<<"$1"; }
best_ours=0 best_peer=0
for ((r = 1; r <= rounds; ++r)); do
  ours=$("$build"/tools/unetbench/unetbench train "$plan" --steps "$steps" --warmup 1 --num_threads "$threads")
  echo "round $r: $ours"
  peer=$(/usr/bin/python3 bench/peers/unet_pytorch.py --batch "$batch" --threads "$threads" --steps "$steps")
  echo "round $r: $peer"
  best_ours=$(awk -v a="$best_ours" -v b="$(rate "$ours")" 'BEGIN { print (b > a ? b : a) }')
  best_peer=$(awk -v a="$best_peer" -v b="$(rate "$peer")" 'BEGIN { print (b > a ? b : a) }')
done
# A step is about 18 GFLOP an image (3x a 6.0 GFLOP forward).
awk -v a="$best_ours" -v b="$best_peer" 'BEGIN {
  printf "best of the rounds: ours %.2f images/s (%.1f GFLOP/s), pytorch %.2f images/s: ratio %.2fx\n",
         a, a * 18, b, a / b }'
