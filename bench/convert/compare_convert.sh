#!/usr/bin/env bash
# unetconvert against the numpy + nibabel peer (bench/peers/convert_numpy.py) on the same
# synthetic BraTS subjects, with wall time and peak resident memory from GNU time; then
# unetconvert alone on three times as many subjects, to show its memory does not grow.
# Not part of the test suite (minutes of work, and timings are not assertions).
#
#   bench/convert/compare_convert.sh [BUILD_DIR] [SUBJECTS] [JOBS] [SHAPE]
#   defaults:                         build-release 20        2      240x240x155
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$here/build-release}"
subjects="${2:-20}"
jobs="${3:-2}"
shape="${4:-240x240x155}"
synth="$build/tools/unetsynth/unetsynth"
convert="$build/tools/unetconvert/unetconvert"
python=/usr/bin/python3
for tool in "$synth" "$convert"; do
  [[ -x "$tool" ]] || { echo "missing $tool: build the unetsynth and unetconvert targets" >&2; exit 1; }
done
[[ -x /usr/bin/time ]] || { echo "missing /usr/bin/time (Debian package 'time')" >&2; exit 1; }
work="$(mktemp -d "${TMPDIR:-/tmp}/unet_convert_bench.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# measure NAME COMMAND...: runs it under GNU time; prints and remembers seconds and MiB.
measure() {
  local name="$1"; shift
  /usr/bin/time -v -o "$work/$name.time" "$@" >"$work/$name.log" 2>&1 || { cat "$work/$name.log" >&2; exit 1; }
  local wall rss cpu
  cpu="$(awk -F': ' '/User time/ {u=$2} /System time/ {s=$2} END {printf "%.2f", u + s}' "$work/$name.time")"
  wall="$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,t,":"); s=0; for(i=1;i<=n;i++) s=s*60+t[i]; print s}' "$work/$name.time")"
  rss="$(awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2/1024}' "$work/$name.time")"
  printf '%-30s %8.2f s wall %8.2f s cpu  %7s MiB peak RSS\n' "$name" "$wall" "$cpu" "$rss"
  eval "wall_${name//[^a-zA-Z0-9]/_}=$wall; rss_${name//[^a-zA-Z0-9]/_}=$rss; cpu_${name//[^a-zA-Z0-9]/_}=$cpu"
}

many=$((subjects * 3))
echo "writing $many synthetic subjects ($shape) ..."
"$synth" -o "$work/raw_all" --subjects "$many" --seed 1 --shape "$shape" --jobs "$jobs" >/dev/null 2>&1
mkdir -p "$work/raw"
for d in $(ls "$work/raw_all" | sort | head -n "$subjects"); do ln -s "$work/raw_all/$d" "$work/raw/$d"; done

echo "converting $subjects subjects (centre crop 128, rotate 3, brain z-score, float32):"
measure unetconvert "$convert" "$work/raw" -o "$work/out_c" --jobs "$jobs"
measure numpy_peer "$python" "$here/bench/peers/convert_numpy.py" "$work/raw" -o "$work/out_py"
"$python" - "$work/out_c" "$work/out_py" <<'PY'
import sys, numpy as np
a, b = sys.argv[1:3]
for f in ("imgs_train", "imgs_test", "msks_train", "msks_test"):
    x, y = np.load("%s/%s.npy" % (a, f), mmap_mode="r"), np.load("%s/%s.npy" % (b, f), mmap_mode="r")
    assert x.shape == y.shape and np.allclose(x, y, rtol=0, atol=1e-5), f
print("outputs agree (within 1e-5)")
PY
awk -v c="$wall_unetconvert" -v p="$wall_numpy_peer" -v cc="$cpu_unetconvert" -v pc="$cpu_numpy_peer" \
  'BEGIN {printf "speed-up: %.1fx wall, %.1fx cpu (the peer is single-threaded)\n", p / c, pc / cc}'

echo "load average while measuring: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
echo "peak memory against subject count (unetconvert --jobs $jobs):"
measure "unetconvert_${many}_subjects" "$convert" "$work/raw_all" -o "$work/out_all" --jobs "$jobs"
