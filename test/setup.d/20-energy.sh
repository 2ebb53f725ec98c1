#!/usr/bin/env bash
# Energy part: builds the fake NVML library (two variants) the NVML tests load through koffi,
# and installs what the energy tests run for real (gcc, prometheus-node-exporter for the
# RAPL cross-check). Idempotent; quick when everything is in place.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
SRC="$ROOT/test/fixtures/fake-nvml/fake_nvml.c"
OUT="$ROOT/test/.work/fake-nvml"

missing=()
command -v gcc >/dev/null 2>&1 || missing+=(gcc libc6-dev)
[ -x /usr/bin/prometheus-node-exporter ] || missing+=(prometheus-node-exporter)
command -v setpriv >/dev/null 2>&1 || missing+=(util-linux)
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "20-energy.sh: missing ${missing[*]}; install them as root: apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y --no-install-recommends "${missing[@]}"
fi

build() { # variant, extra gcc flags...
  local dir="$OUT/$1"; shift
  local lib="$dir/libnvidia-ml.so.1"
  if [ -f "$lib" ] && [ "$lib" -nt "$SRC" ]; then return 0; fi
  mkdir -p "$dir"
  gcc -shared -fPIC -O2 -Wall -Werror "$@" -o "$lib.tmp" "$SRC"
  mv "$lib.tmp" "$lib"
}
build with-energy
build no-energy -DFAKE_NVML_NO_ENERGY
