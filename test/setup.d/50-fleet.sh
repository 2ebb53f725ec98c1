#!/usr/bin/env bash
# Tools for the fleet tests (test/fleet/): openssl makes the test PKI, pgrep finds FFmpeg
# processes of a job, ffmpeg runs the encodes. Idempotent; quick when everything is present.
set -euo pipefail
need=()
command -v openssl >/dev/null || need+=(openssl)
command -v pgrep >/dev/null || need+=(procps)
command -v ffmpeg >/dev/null || need+=(ffmpeg)
command -v ansible-inventory >/dev/null || need+=(ansible)   # --inventory targeting (units.test.ts)
if ((${#need[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y --no-install-recommends "${need[@]}"
fi
