#!/usr/bin/env bash
# What writing TensorBoard events costs a training step at the default intervals
# (--image_steps 50, --histogram_steps 100): the same short training of the seed's UNet with and
# without --no_tensorboard, interleaved ROUNDS times (the machines are shared: interleaving
# spreads a disturbance over both arms), 100 steps a run (one histogram step and two image
# steps, as in every 100 steps of a long run). Reported:
#   - the wall-clock ratio of the runs' epoch times, with and without events (the median of the
#     rounds, and each round's), which includes everything the sink does inside the step loop;
#   - the sink's own account, tensorboard/overhead_percent (time inside the sink over the steps'
#     time), read back from each event file: a figure the noise of a shared host does not move.
# With TRACE=1 it also times --trace: the steps inside a --trace_steps window against the
# steps after it, from --profile's per-step times (the cost of recording; with --trace off the
# executor does one pointer test an op, nothing to time).
#   bash bench/tensorboard_cost.sh            # BUILD=build ROUNDS=3 BATCH=2 THREADS=$(nproc)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD:-build}
rounds=${ROUNDS:-3}
batch=${BATCH:-2}
threads=${THREADS:-$(nproc)}
images=${IMAGES:-20}                   # a 10-step epoch at batch 2
epochs=${EPOCHS:-$((100 * batch / images))}  # 100 steps
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$build"/tools/unetc/unetc models/unet_brats.def -o "$work/plan.bin" --batch "$batch" --target native >/dev/null
# 128x128 slices as the converter writes them: [n, 128, 128, 4] float32 images (t1, t2, flair,
# t1ce), one-hot masks; a bright disc as the tumour. Written by hand: no numpy needed.
/usr/bin/python3 - "$work/data" "$images" <<'EOF'
import math, os, random, struct, sys
out, n = sys.argv[1], int(sys.argv[2])
os.makedirs(out, exist_ok=True)
def npy(path, shape, values):
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }" % "".join(f"{d}, " for d in shape)
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
        f.write(struct.pack(f"<{len(values)}f", *values))
for split, count in (("train", n), ("test", 2)):
    rng = random.Random(split)
    imgs, msks = [], []
    for i in range(count):
        cy, cx, r = rng.uniform(30, 98), rng.uniform(30, 98), rng.uniform(6, 20)
        for y in range(128):
            for x in range(128):
                lesion = math.hypot(y - cy, x - cx) < r
                imgs += [rng.random() * 0.3 + (1.5 if lesion and c in (2, 3) else 0.0) for c in range(4)]
                msks += [0.0, 0.0, 1.0, 0.0] if lesion else [1.0, 0.0, 0.0, 0.0]
    npy(f"{out}/imgs_{split}.npy", (count, 128, 128, 4), imgs)
    npy(f"{out}/msks_{split}.npy", (count, 128, 128, 4), msks)
EOF

common=("$work/plan.bin" --data "$work/data" --num_threads "$threads" --batch_size "$batch" --epochs "$epochs"
        --no_shuffle --save_secs 1000000 --checkpoint_dir "$work/ck")
# The sum of a run's epoch times ("Epoch k/n finished in X s"): the step loop, sinks included,
# without the process start, the data load, the test and the final checkpoint.
epoch_seconds() { sed -n 's/^Epoch [0-9]*\/[0-9]* finished in \([0-9.]*\) s.*/\1/p' "$1" | awk '{ s += $1 } END { printf "%.1f", s }'; }
# The last tensorboard/overhead_percent of an event file: a Summary value's tag, then its float.
overhead_percent() {
  /usr/bin/python3 - "$1" <<'EOF'
import struct, sys
data = open(sys.argv[1], "rb").read()
tag = b"tensorboard/overhead_percent"
at = data.rfind(tag)
# Summary.Value: tag (field 1, bytes), then simple_value (field 2, fixed32: key 0x15).
key = data.index(b"\x15", at + len(tag))
print("%.3f" % struct.unpack("<f", data[key + 1:key + 5])[0])
EOF
}

ratios=() percents=()
for ((r = 1; r <= rounds; ++r)); do
  rm -rf "$work/tb" "$work/ck"
  "$build"/tools/unetrun/unetrun "${common[@]}" --log "$work/with.$r.log" --logdir "$work/tb" >/dev/null
  rm -rf "$work/ck"
  "$build"/tools/unetrun/unetrun "${common[@]}" --log "$work/without.$r.log" --no_tensorboard >/dev/null
  with=$(epoch_seconds "$work/with.$r.log") without=$(epoch_seconds "$work/without.$r.log")
  percent=$(overhead_percent "$(ls "$work"/tb/events.out.tfevents.*)")
  ratio=$(awk -v a="$with" -v b="$without" 'BEGIN { printf "%.4f", a / b }')
  echo "round $r: with events ${with} s, without ${without} s, ratio ${ratio}; the sink's own time ${percent} % of the steps"
  ratios+=("$ratio") percents+=("$percent")
done
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
echo "median of $rounds rounds, $((epochs * images / batch)) steps of batch $batch on $threads threads:" \
     "wall-clock ratio with/without events $(median "${ratios[@]}"), the sink's own time $(median "${percents[@]}") % of a step"

if [[ ${TRACE:-0} == 1 ]]; then
  # 30 steps: 1-10 warm up, 11-20 traced, 21-30 after the window (the recorder no longer held).
  rm -rf "$work/ck"
  "$build"/tools/unetrun/unetrun "$work/plan.bin" --data "$work/data" --num_threads "$threads" --batch_size "$batch" \
    --epochs 100 --max_steps 30 --no_shuffle --save_secs 1000000 --checkpoint_dir "$work/ck" --no_tensorboard --profile \
    --log "$work/trace.log" --trace "$work/trace.json" --trace_steps 11:20 >/dev/null
  sed -n 's/^Step \([0-9]*\): \([0-9.]*\) s.*/\1 \2/p' "$work/trace.log" | awk '
    $1 > 10 && $1 <= 20 { on += $2; n_on++ } $1 > 20 { off += $2; n_off++ }
    END { printf "--trace: a traced step %.4f s, an untraced one %.4f s: recording costs %.2f %%\n",
                 on / n_on, off / n_off, 100 * (on / n_on - off / n_off) / (off / n_off) }'
  echo "trace file: $(stat -c %s "$work/trace.json") bytes, $(grep -c '"ph": "X"' "$work/trace.json") complete events"
fi
