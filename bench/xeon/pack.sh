#!/usr/bin/env bash
# Packs what bench/xeon/scaling.sh needs on a machine without our Debian libraries: the tools
# from ./build and every shared library ldd lists for them, into .carry/xeon (git-ignored;
# send it with the device tool's `carry: [".carry/xeon"]`).
#   bash bench/xeon/pack.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${BUILD:-build}
out=.carry/xeon
rm -rf "$out" && mkdir -p "$out/bin" "$out/lib"
for tool in tools/unetc/unetc tools/unetbench/unetbench tools/unetrun/unetrun bench/kernels/bench_kernels; do
  cp "$build/$tool" "$out/bin/"
  # Every resolved library but the dynamic loader and libc's own (glibc must come from the host).
  ldd "$build/$tool" | awk '/=> \//{print $3}' | while read -r lib; do
    case "$(basename "$lib")" in
      libc.so*|libm.so*|libpthread.so*|libdl.so*|librt.so*|ld-linux*) ;;
      *) cp -L "$lib" "$out/lib/" ;;
    esac
  done
done
cp models/unet_brats.def bench/peers/unet_pytorch.py bench/xeon/scaling.sh bench/xeon/device.sh "$out/"
ldd --version | head -1 > "$out/built_with_glibc.txt"
du -sh "$out"
