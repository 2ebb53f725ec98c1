#!/usr/bin/env bash
# Checks for Node.js >= package.json's engines floor (20.18.1) with npm before `make demo`/`make test` install anything; names the fix.
set -uo pipefail
fix="install Node.js 20 LTS or newer with npm (Debian 12 ships Node.js 18: use the NodeSource packages, https://github.com/nodesource/distributions, or the official binaries from https://nodejs.org), then run make again"
if ! command -v node >/dev/null 2>&1; then
  echo "ffwatt needs Node.js >= 20 with npm, and there is no node on PATH: $fix" >&2
  exit 2
fi
# The floor is package.json's engines.node (">=X.Y.Z"): the oldest Node.js every runtime dependency accepts.
root="$(cd "$(dirname "$0")/.." && pwd)"
floor=$(node -p "require('$root/package.json').engines.node.replace(/^>=\s*/, '')" 2>/dev/null || echo 20.0.0)
if ! node -e '
  const [have, need] = [process.versions.node, process.argv[1]].map((v) => v.split(".").map(Number));
  for (let i = 0; i < 3; i++) if (have[i] !== need[i]) process.exit(have[i] > need[i] ? 0 : 1);
' "$floor" 2>/dev/null; then
  echo "ffwatt needs Node.js >= $floor with npm; this is Node.js $(node --version 2>/dev/null): $fix" >&2
  exit 2
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "ffwatt needs npm next to Node.js $(node --version) (it installs the dependencies): install the npm that comes with Node.js (Debian: apt-get install npm, or the NodeSource nodejs package, which includes it)" >&2
  exit 2
fi
