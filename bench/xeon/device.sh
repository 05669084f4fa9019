#!/usr/bin/env bash
# The whole prepared device call for the 16-core Xeon, most important first (what it has
# written under OUT_DIR comes back even if the call is cut short):
#   1. the thread-scaling table: FMA peak, ours, PyTorch fp32 in both layouts (scaling.sh);
#   2. ours at the widest count without pinning, and with one thread fewer (placement);
#   3. our per-op profile at the widest thread count (which ops scale badly);
#   4. with KERNELS=1, the single-thread per-layer kernel shares on this CPU (bench_kernels).
#   bash .carry/xeon/device.sh OUT_DIR [BATCH] [STEPS] [THREADS...]   (widest first)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?output folder}; shift
batch=${1:-64}; steps=${2:-3}; shift 2 || true
threads=("$@"); ((${#threads[@]})) || threads=(16 8 4 2 1)
wide=${threads[0]}
export LD_LIBRARY_PATH="$here/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
mkdir -p "$out"
bash "$here/scaling.sh" "$out" "$batch" "$steps" "${threads[@]}"
{
  "$here/bin/unetbench" train "$out/plan.bin" --steps "$steps" --warmup 1 --num_threads "$wide" --no_pin
  "$here/bin/unetbench" train "$out/plan.bin" --steps "$steps" --warmup 1 --num_threads $((wide - 1))
  "$here/bin/unetbench" train "$out/plan.bin" --steps "$steps" --warmup 1 --num_threads "$wide" --profile
} >"$out/placement_profile.txt" 2>&1
head -45 "$out/placement_profile.txt"
if [[ ${KERNELS:-0} == 1 ]]; then
  "$here/bin/bench_kernels" --benchmark_filter='^(fwd|bwd_d|bwd_w)/mb8' --benchmark_min_time=0.1 \
    >"$out/kernels_1thread.txt" 2>&1
  grep -E 'peak|^(fwd|bwd)' "$out/kernels_1thread.txt" | awk '{print $1, $NF}'
fi
