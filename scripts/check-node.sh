#!/usr/bin/env bash
# Checks for Node.js >= 20 with npm before `make demo`/`make test` install anything; names the fix.
set -uo pipefail
fix="install Node.js 20 LTS or newer with npm (Debian 12 ships Node.js 18: use the NodeSource packages, https://github.com/nodesource/distributions, or the official binaries from https://nodejs.org), then run make again"
if ! command -v node >/dev/null 2>&1; then
  echo "ffwatt needs Node.js >= 20 with npm, and there is no node on PATH: $fix" >&2
  exit 2
fi
major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "${major:-0}" -lt 20 ]; then
  echo "ffwatt needs Node.js >= 20 with npm; this is Node.js $(node --version 2>/dev/null): $fix" >&2
  exit 2
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "ffwatt needs npm next to Node.js $(node --version) (it installs the dependencies): install the npm that comes with Node.js (Debian: apt-get install npm, or the NodeSource nodejs package, which includes it)" >&2
  exit 2
fi
