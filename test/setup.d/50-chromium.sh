#!/usr/bin/env bash
# Headless Chromium for the HTML report test (analyzers/write-html.test.ts). Idempotent.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y --no-install-recommends chromium fonts-dejavu-core
command -v chromium >/dev/null
