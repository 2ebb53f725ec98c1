#!/usr/bin/env bash
# What the media/ tests need: FFmpeg + ffprobe (Debian's build has libx264, libx265,
# SVT-AV1 and lists NVENC), nginx with the RTMP module, and ps (procps) for the
# leftover-process checks. Idempotent; quick when everything is present.
set -euo pipefail
need=()
command -v ffmpeg >/dev/null || need+=(ffmpeg)
command -v ffprobe >/dev/null || need+=(ffmpeg)
command -v nginx >/dev/null || need+=(nginx)
[ -f /usr/lib/nginx/modules/ngx_rtmp_module.so ] || need+=(libnginx-mod-rtmp)
command -v ps >/dev/null || need+=(procps)
if ((${#need[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y --no-install-recommends "${need[@]}"
fi
# Debian's postinst may start a system nginx on :80; the tests never use it and start their own.
encoders=$(ffmpeg -hide_banner -encoders 2>/dev/null)
grep -q ' libx264 ' <<<"$encoders" ||
  { echo "20-media: this ffmpeg has no libx264 (Debian's ffmpeg package does)" >&2; exit 1; }
