#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite.
#   bash scripts/test.sh              Release build in build/
#   bash scripts/test.sh --sanitize   the same suite built with g++ -fsanitize=address,undefined
#                                     in build-asan/ (any ASan or UBSan report fails its test)
set -euo pipefail
cd "$(dirname "$0")/.."

sanitize=0
for a in "$@"; do
  case "$a" in
    --sanitize) sanitize=1 ;;
    *) echo "usage: $0 [--sanitize]" >&2; exit 2 ;;
  esac
done

if ((!sanitize)); then
  bash scripts/build.sh
  ctest --test-dir build --output-on-failure -j"$(nproc)"
  exit 0
fi

bash scripts/setup.sh
# -O2 keeps the kernels' tests quick enough under ASan; -g1 gives the reports file:line.
# Benchmarks are left out: they test nothing.
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1" -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O2 -g1" \
  -DUNET_SANITIZE=ON -DUNET_BUILD_BENCH=OFF >/dev/null
cmake --build build-asan -j"$(nproc)"

# Fatal on the first report of either sanitizer, with a stack. The tests fork and exec the
# tools (built here too), which inherit these. UNET_SANITIZED tells the few tests whose timing
# is a choice (not a property under test) to allow for the slower build: see UNET_SANITIZED in
# tests/.
export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
# Leaks inside third-party libraries (TBB's observer proxies): tests/sanitizer/lsan.supp says why.
# Quiet about the suppressions it used: tests that check a tool's stderr is exactly its one
# line would otherwise see LSan's report of them whenever TBB leaks at exit.
export LSAN_OPTIONS="suppressions=$PWD/tests/sanitizer/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export UNET_SANITIZED=1
ctest --test-dir build-asan --output-on-failure -j"$(nproc)"
