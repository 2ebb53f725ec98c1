#!/usr/bin/env bash
# `make hw-check`: the check to run once on a machine with real RAPL and/or an NVIDIA GPU.
# It prints the energy probe (zone roles, machine total, psys comparison), then runs a 20 s
# x264 encode and, where an NVIDIA GPU and h264_nvenc are present, a 20 s NVENC encode, and
# prints their J per encoded minute with the energy source (an estimate says so).
# Environment: HW_CHECK_OUT (results folder, default results/hw-check-<time>),
# HW_CHECK_RES (default 1280x720), FFWATT_SYSFS (sysfs root, default /sys).
set -euo pipefail
cd "$(dirname "$0")/.."
# the node flags of a measuring process (agent/node-flags.ts)
FFWATT="node --no-memory-reducer bin/ffwatt.mjs"
OUT="${HW_CHECK_OUT:-results/hw-check-$(date -u +%Y%m%dT%H%M%SZ)}"
RES="${HW_CHECK_RES:-1280x720}"
mkdir -p "$OUT"

echo "== 1. energy probe (2-second reading) =="
$FFWATT energy probe | tee "$OUT/probe.txt"
$FFWATT energy probe --json > "$OUT/probe.json"

NVENC=no
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1 \
  && ffmpeg -hide_banner -encoders 2>/dev/null | grep -q ' h264_nvenc '; then
  NVENC=yes
fi

{
  echo "name: hw-check"
  echo "input: {source: testsrc2, resolution: $RES, fps: 30}"
  echo "repetitions: {min: 1, max: 1, ci_halfwidth_pct: 50}"
  echo "cooldown_s: 5"
  echo "idle_baseline_s: 10"
  echo "scenarios:"
  echo "  - {mode: file, codec: h264, encoder: libx264, preset: medium, rate: {crf: 23}, warmup_s: 2, duration_s: 20}"
  if [ "$NVENC" = yes ]; then
    echo "  - {mode: file, codec: h264, encoder: h264_nvenc, preset: p4, rate: {bitrate: 6M}, warmup_s: 2, duration_s: 20}"
  fi
} > "$OUT/hw-check.yml"

echo
echo "== 2. 20 s x264 encode$([ "$NVENC" = yes ] && echo ' and 20 s NVENC encode' || echo ' (no NVIDIA GPU with h264_nvenc here: no NVENC encode)') =="
$FFWATT run "$OUT/hw-check.yml" --out "$OUT/run" --json --no-report > "$OUT/run.json"

echo
echo "== 3. summary =="
node scripts/hw-check-summary.mjs "$OUT/probe.json" "$OUT/run/ffwatt.sqlite" | tee "$OUT/summary.txt"
echo
echo "Everything is in $OUT (probe.txt, probe.json, run/ffwatt.sqlite, summary.txt)."
