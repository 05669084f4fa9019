#!/usr/bin/env bash
# Thread scaling of a whole training step on the 16-core Xeon, ours against PyTorch (fp32, in
# both its layouts), same model, batch and threads, in one run, with the FMA peak of each
# thread count measured in the same run (a virtual machine's 16 threads may not be 16 cores).
# Runs from the packed folder (bench/xeon/pack.sh):
#   bash .carry/xeon/scaling.sh OUT_DIR [BATCH] [STEPS] [THREADS...]
# Writes OUT_DIR/scaling.md (a table for bench/RESULTS.md, a row as each count ends) and
# OUT_DIR/scaling.log. Give the widest count first: a call cut short keeps what ended.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?output folder}; shift
batch=${1:-64}; shift || true
steps=${1:-3}; shift || true
threads=("$@"); ((${#threads[@]})) || threads=(16 8 4 2 1)
export LD_LIBRARY_PATH="$here/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
py=${PYTHON:-python3}
mkdir -p "$out"
log="$out/scaling.log"
{
  echo "host glibc: $(ldd --version | head -1); built with: $(cat "$here/built_with_glibc.txt")"
  lscpu | grep -E 'Model name|^CPU\(s\)|Thread|NUMA node\(s\)|L2|L3' || true
  "$py" -c 'import torch; print("torch", torch.__version__, "threads", torch.get_num_threads())' || true
} >"$log" 2>&1
"$here/bin/unetc" "$here/unet_brats.def" -o "$out/plan.bin" --batch "$batch" --target native >>"$log" 2>&1
rate() { sed -n 's/.* \([0-9.]*\) images\/s.*/\1/p' <<<"$1"; }
{
  echo "| threads | FMA peak GFLOP/s | ours images/s | ours share of peak | PyTorch NCHW images/s | PyTorch channels_last images/s | ours / best PyTorch |"
  echo "|---|---|---|---|---|---|---|"
} >"$out/scaling.md"
for t in "${threads[@]}"; do
  peak=$("$here/bin/unetbench" peak --num_threads "$t" 2>&1)
  ours=$("$here/bin/unetbench" train "$out/plan.bin" --steps "$steps" --warmup 1 --num_threads "$t" 2>&1)
  nchw=$("$py" "$here/unet_pytorch.py" --batch "$batch" --threads "$t" --steps "$steps" 2>&1)
  cl=$("$py" "$here/unet_pytorch.py" --batch "$batch" --threads "$t" --steps "$steps" --channels_last 2>&1)
  printf '%s\n' "$peak" "$ours" "$nchw" "$cl (channels_last)" >>"$log"
  g=$(sed -n 's/.*: \([0-9.]*\) GFLOP\/s.*/\1/p' <<<"$peak")
  a=$(rate "$ours"); b=$(rate "$nchw"); c=$(rate "$cl")
  # A step is about 18 GFLOP an image (3x a 6.0 GFLOP forward).
  share=$(awk -v a="$a" -v g="$g" 'BEGIN { if (a > 0 && g > 0) printf "%.0f %%", 100 * 18 * a / g; else print "-" }')
  r=$(awk -v a="$a" -v b="$b" -v c="$c" 'BEGIN { m = (b > c ? b : c); if (a > 0 && m > 0) printf "%.2fx", a / m; else print "-" }')
  echo "| $t | ${g:-failed} | ${a:-failed} | $share | ${b:-failed} | ${c:-failed} | $r |" >>"$out/scaling.md"
done
cat "$out/scaling.md"
