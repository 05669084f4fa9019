#!/usr/bin/env bash
# Thread scaling of a whole training step on the 16-core Xeon, ours against PyTorch (fp32),
# same model, batch and threads, in one run. Runs from the packed folder (bench/xeon/pack.sh):
#   bash .carry/xeon/scaling.sh OUT_DIR [BATCH] [STEPS] [THREADS...]
# Writes OUT_DIR/scaling.md (a table for bench/RESULTS.md) and OUT_DIR/scaling.log.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?output folder}; shift
batch=${1:-64}; shift || true
steps=${1:-3}; shift || true
threads=("$@"); ((${#threads[@]})) || threads=(1 2 4 8 16)
export LD_LIBRARY_PATH="$here/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
mkdir -p "$out"
log="$out/scaling.log"
{
  echo "host glibc: $(ldd --version | head -1); built with: $(cat "$here/built_with_glibc.txt")"
  lscpu | grep -E 'Model name|^CPU\(s\)|Thread|NUMA node\(s\)|L2|L3' || true
  "${PYTHON:-python3}" -c 'import torch; print("torch", torch.__version__, "threads", torch.get_num_threads())' || true
} >"$log" 2>&1
"$here/bin/unetc" "$here/unet_brats.def" -o "$out/plan.bin" --batch "$batch" --target native >>"$log" 2>&1
{
  echo "| threads | ours images/s | PyTorch fp32 images/s | ratio |"
  echo "|---|---|---|---|"
} >"$out/scaling.md"
for t in "${threads[@]}"; do
  ours=$("$here/bin/unetbench" train "$out/plan.bin" --steps "$steps" --warmup 1 --num_threads "$t" 2>&1)
  echo "$ours" >>"$log"
  peer=$("${PYTHON:-python3}" "$here/unet_pytorch.py" --batch "$batch" --threads "$t" --steps "$steps" 2>&1)
  echo "$peer" >>"$log"
  a=$(sed -n 's/.* \([0-9.]*\) images\/s.*/\1/p' <<<"$ours")
  b=$(sed -n 's/.* \([0-9.]*\) images\/s.*/\1/p' <<<"$peer")
  r=$(awk -v a="$a" -v b="$b" 'BEGIN { if (a > 0 && b > 0) printf "%.2fx", a / b; else print "-" }')
  echo "| $t | ${a:-failed} | ${b:-failed} | $r |" >>"$out/scaling.md"
done
cat "$out/scaling.md"
