#!/usr/bin/env bash
# Installs what unet builds and tests with, from Debian's packages. Idempotent: installs only
# what is missing. Run as root (or with sudo available).
#   bash scripts/setup.sh [PACKAGE...]   the extra packages too (scripts/fuzz.sh: clang-14)
set -euo pipefail

packages=(
  cmake ninja-build g++ pkg-config
  libtbb-dev libhwloc-dev libnuma-dev libasio-dev libfmt-dev
  libbenchmark-dev libgtest-dev libgmock-dev libcli11-dev zlib1g-dev libssl-dev libtomlplusplus-dev libpng-dev
  libdnnl-dev  # optional to the build: the peer of unetbench compare (runtime/onednn_peer.cpp)
  ansible-core slurm-wlm protobuf-compiler python3-protobuf python3-png
  python3 python3-numpy python3-nibabel
  "$@"
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -q
  $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
