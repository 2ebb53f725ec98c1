#!/usr/bin/env bash
# Build the self-contained runtime bundle the Ansible roles deploy:
#   dist/ffwatt-bundle.tar.gz = this control node's `node` binary + the app's runtime
#   sources + production node_modules (native modules as built here).
# Hosts need nothing else: no Node.js package (Debian 12 ships 18), no registry.
# The hosts must match this machine's CPU architecture and have glibc >= this one's.
#
#   scripts/build-bundle.sh [--out FILE] [--from-registry]
#     --from-registry  install production deps with `npm ci --omit=dev` (needs the
#                      npm registry) instead of copying and pruning ./node_modules
set -Eeuo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$REPO/dist/ffwatt-bundle.tar.gz
FROM_REGISTRY=0
while (($#)); do
  case $1 in
    --out) OUT=$2; shift 2 ;;
    --from-registry) FROM_REGISTRY=1; shift ;;
    *) echo "build-bundle: unknown argument '$1' (use --out FILE, --from-registry)" >&2; exit 2 ;;
  esac
done

NODE=$(readlink -f "$(command -v node)") || { echo "build-bundle: node not found on PATH" >&2; exit 2; }
NODE_MAJOR=$("$NODE" -p 'process.versions.node.split(".")[0]')
((NODE_MAJOR >= 20)) || { echo "build-bundle: node $("$NODE" --version) is too old; need >= 20" >&2; exit 2; }
[[ -f $REPO/bin/ffwatt.mjs ]] || echo "build-bundle: warning: bin/ffwatt.mjs not found; the bundle will not start" >&2

STAGE=$(mktemp -d "${TMPDIR:-/tmp}/ffwatt-bundle.XXXXXX")
chmod 0755 "$STAGE"
trap 'rm -rf "$STAGE"' EXIT

# Runtime sources: every top-level code/data folder the CLI may load, and docs/ (the units'
# Documentation= points at docs/deploy.md); tests excluded.
RUNTIME_DIRS=(bin cli core runner energy media quality matrix store master agent harness analyzers advisor models matrices monitoring docs)
for d in "${RUNTIME_DIRS[@]}"; do
  [[ -d $REPO/$d ]] || continue
  (cd "$REPO" && find "$d" -type f ! -name '*.test.ts' ! -path '*/__snapshots__/*' -print0) |
    (cd "$REPO" && xargs -0 -r cp --parents -t "$STAGE")
done
# Every relative import of the staged code must resolve inside the stage: a part left out of
# RUNTIME_DIRS would otherwise ship an agent that dies at start on a missing module.
node -e '
  const fs = require("node:fs"), path = require("node:path");
  const stage = process.argv[1], missing = [];
  const walk = (d) => fs.readdirSync(d, { withFileTypes: true }).forEach((e) => {
    const p = path.join(d, e.name);
    if (e.isDirectory()) walk(p);
    else if (/\.(ts|mts|mjs)$/.test(e.name))
      for (const m of fs.readFileSync(p, "utf8").matchAll(/(?:from|import)\s*\(?\s*["\x27](\.{1,2}\/[^"\x27]+)["\x27]/g))
        if (!fs.existsSync(path.resolve(path.dirname(p), m[1]))) missing.push(`${path.relative(stage, p)} imports ${m[1]}`);
  });
  walk(stage);
  if (missing.length) { console.error("build-bundle: the bundle would lack modules (add their folder to RUNTIME_DIRS):\n  " + missing.join("\n  ")); process.exit(1); }
' "$STAGE"
cp "$REPO/package.json" "$STAGE/"
[[ -f $REPO/package-lock.json ]] && cp "$REPO/package-lock.json" "$STAGE/"
[[ -f $REPO/tsconfig.json ]] && cp "$REPO/tsconfig.json" "$STAGE/"
[[ -f $REPO/.npmrc ]] && cp "$REPO/.npmrc" "$STAGE/"

if ((FROM_REGISTRY)); then
  (cd "$STAGE" && ONNXRUNTIME_NODE_INSTALL=skip npm ci --omit=dev --no-audit --no-fund >&2)
else
  [[ -d $REPO/node_modules ]] || { echo "build-bundle: no node_modules; run npm ci first or use --from-registry" >&2; exit 2; }
  cp -a "$REPO/node_modules" "$STAGE/node_modules"
  (cd "$STAGE" && npm prune --omit=dev --no-audit --no-fund --offline >&2)
fi

# Native binaries for other platforms are dead weight (onnxruntime-node ships all of them).
PLATFORM=$("$NODE" -p process.platform)
ARCH=$("$NODE" -p process.arch)
for napi in "$STAGE"/node_modules/onnxruntime-node/bin/napi-v*; do
  [[ -d $napi ]] || continue
  find "$napi" -mindepth 1 -maxdepth 1 -type d ! -name "$PLATFORM" -exec rm -rf {} +
  [[ -d $napi/$PLATFORM ]] && find "$napi/$PLATFORM" -mindepth 1 -maxdepth 1 -type d ! -name "$ARCH" -exec rm -rf {} +
done
if [[ -d $STAGE/node_modules/koffi/build/koffi ]]; then
  find "$STAGE/node_modules/koffi/build/koffi" -mindepth 1 -maxdepth 1 -type d ! -name "${PLATFORM}_${ARCH}" -exec rm -rf {} +
fi

cp "$NODE" "$STAGE/node"
chmod 0755 "$STAGE/node"
{
  echo "node=$("$NODE" --version)"
  echo "platform=$PLATFORM-$ARCH"
  echo "glibc=$(ldd --version 2>/dev/null | head -n1 | awk '{print $NF}')"
  echo "app=$("$NODE" -p "require('$REPO/package.json').version")"
  echo "git=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo none)"
} >"$STAGE/BUNDLE_INFO"

mkdir -p "$(dirname "$OUT")"
# Reproducible archive: fixed order, owner and mtime, so an unchanged tree gives the
# same checksum and the roles see no change.
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime='2020-01-01 00:00:00Z' \
  -C "$STAGE" -cf - . | gzip -n -1 >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
echo "build-bundle: wrote $OUT ($(du -h "$OUT" | cut -f1), $(cat "$STAGE/BUNDLE_INFO" | tr '\n' ' '))" >&2
