#!/usr/bin/env bash
# Builds the libFuzzer targets (clang-14, -fsanitize=fuzzer,address,undefined) into build-fuzz/
# and runs each for SECONDS (default 60), one after the other. Prints each target's executions;
# exits non-zero if any target found a crash, a sanitizer report, a leak, a timeout (-timeout=5)
# or ran out of memory (-rss_limit_mb=2048). Artifacts (the inputs that broke something) land in
# build-fuzz/fuzz/artifacts/<target>/; reproduce one with
#   build-fuzz/tests/fuzz/fuzz_<target> build-fuzz/fuzz/artifacts/<target>/crash-...
#   bash scripts/fuzz.sh [SECONDS] [TARGET...]      (targets: model_def plan npy ...; none: all)
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
shift || true
[[ $seconds =~ ^[0-9]+$ ]] || { echo "usage: $0 [SECONDS] [TARGET...]" >&2; exit 2; }

# The fuzz build needs clang-14 and its libFuzzer runtime beyond what the suite needs.
bash scripts/setup.sh clang-14 libclang-rt-14-dev

# Only the fuzz suite is configured (UNET_TEST_SUITES), and no benchmarks: nothing else is built.
cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1" \
  -DUNET_FUZZ=ON -DUNET_BUILD_BENCH=OFF -DUNET_TEST_SUITES=fuzz >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target fuzz_all

# target -> -max_len: above its largest seed, small enough that an input is cheap to read.
declare -A max_len=(
  [model_def]=8192 [plan]=32768 [plan_body]=32768 [npy]=4096 [npz]=8192 [checkpoint]=32768
  [nifti]=4096 [nifti_gz]=4096 [net_frame]=1024 [net_handshake]=1024 [tune_file]=4096
)
order=(model_def plan plan_body npy npz checkpoint nifti nifti_gz net_frame net_handshake tune_file)
(($#)) && order=("$@")

bin=build-fuzz/tests/fuzz
work=build-fuzz/fuzz
# The sanitizers' reports are fatal; libFuzzer turns them into a crash artifact and exit 1.
export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1:strict_string_checks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"

failed=()
for t in "${order[@]}"; do
  [[ -n ${max_len[$t]:-} ]] || { echo "fuzz: no target '$t' (targets: ${!max_len[*]})" >&2; exit 2; }
  mkdir -p "$work/corpus/$t" "$work/artifacts/$t" "$work/logs"
  dict=()
  [[ -f tests/fuzz/dict/$t.dict ]] && dict=(-dict="tests/fuzz/dict/$t.dict")
  log="$work/logs/$t.log"
  # New inputs go to the first folder (build-fuzz/), never into the committed seeds.
  rc=0
  "$bin/fuzz_$t" -max_total_time="$seconds" -max_len="${max_len[$t]}" -rss_limit_mb=2048 -timeout=5 \
    -print_final_stats=1 -artifact_prefix="$work/artifacts/$t/" "${dict[@]}" \
    "$work/corpus/$t" "tests/fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)
  if ((rc == 0)); then
    printf 'fuzz %-14s ok      %10s execs  %6s/s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "$cov"
  else
    printf 'fuzz %-14s FAILED  %10s execs  (rc %d; %s)\n' "$t" "${execs:-?}" "$rc" "$log"
    grep -E 'ERROR|SUMMARY|fuzz property broken|runtime error|Test unit written' "$log" | head -8 | sed 's/^/    /'
    failed+=("$t")
  fi
done

if ((${#failed[@]})); then
  echo "fuzz: ${#failed[@]} target(s) failed: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: all ${#order[@]} targets ran ${seconds} s each without a finding"
