#!/usr/bin/env bash
# The whole prepared device call for the 16-core Xeon, most important first (what it has
# written under OUT_DIR comes back even if the call is cut short):
#   1. the thread-scaling table, ours against PyTorch fp32 (scaling.sh);
#   2. PyTorch with channels_last at the widest thread count, the peer's other layout;
#   3. our per-op profile at the widest thread count (which ops scale badly);
#   4. the single-thread per-layer kernel shares on this CPU (bench_kernels, its own FMA probe).
#   bash .carry/xeon/device.sh OUT_DIR [BATCH] [STEPS] [THREADS...]
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?output folder}; shift
batch=${1:-64}; steps=${2:-3}; shift 2 || true
threads=("$@"); ((${#threads[@]})) || threads=(1 2 4 8 16)
wide=${threads[-1]}
export LD_LIBRARY_PATH="$here/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
mkdir -p "$out"
bash "$here/scaling.sh" "$out" "$batch" "$steps" "${threads[@]}"
"${PYTHON:-python3}" "$here/unet_pytorch.py" --batch "$batch" --threads "$wide" --steps "$steps" \
  --channels_last >"$out/peer_channels_last.txt" 2>&1
cat "$out/peer_channels_last.txt"
"$here/bin/unetbench" train "$out/plan.bin" --steps "$steps" --warmup 1 --num_threads "$wide" \
  --profile >"$out/profile.txt" 2>&1
head -40 "$out/profile.txt"
"$here/bin/bench_kernels" --benchmark_filter='^(fwd|bwd_d|bwd_w)/mb8' --benchmark_min_time=0.1 \
  >"$out/kernels_1thread.txt" 2>&1
grep -E 'peak|^(fwd|bwd)' "$out/kernels_1thread.txt" | awk '{print $1, $NF}'
