# ffwatt — the two commands a user types first: `make demo` and `make test`.
SHELL := /bin/bash
export ONNXRUNTIME_NODE_INSTALL := skip
NPM_STAMP := node_modules/.ffwatt-npm-ci

.PHONY: demo test deps node-check system-deps npm-deps test-setup monitor monitor-stop bench train bundle lint typecheck clean hw-check

demo: node-check deps
	node bin/ffwatt.mjs run matrices/quick.yml --out results

test: deps test-setup
	npx vitest run

# Debian packages the harness needs (FFmpeg, nginx with the RTMP module); installed only when missing.
system-deps:
	@bash scripts/install-system-deps.sh

npm-deps: $(NPM_STAMP)

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

deps: node-check system-deps npm-deps

# Node.js >= 20 with npm, checked before anything is installed (Debian 12 itself ships Node.js 18).
node-check:
	@bash scripts/check-node.sh

# Real-hardware check: probe, a 20 s x264 encode (and NVENC where an NVIDIA GPU is present), summary.
hw-check: deps
	bash scripts/hw-check.sh

# Every test/setup.d/*.sh installs or builds what its part's tests need (idempotent).
test-setup:
	@for f in test/setup.d/*.sh; do echo "setup: $$f"; bash "$$f" || exit 1; done

monitor: deps
	bash scripts/monitor.sh start

monitor-stop:
	bash scripts/monitor.sh stop

# Every benchmark (≤ 15 min on 2 cores): prints the tables and regenerates docs/PERFORMANCE.md's measured section.
bench: deps test-setup
	npx tsx bench/run-all.ts --write-doc

train: deps
	node advisor/train.mjs --db results/ffwatt.sqlite --campaign-name advisor-train --out models/

bundle: deps
	bash scripts/build-bundle.sh

typecheck: npm-deps
	npx tsc --noEmit

# House rules (docs/architecture.md): layers and cycles (dependency-cruiser), SQL only in store/,
# Biome's linter and formatter check, types. Every step runs; the target fails if any failed.
LINT_DIRS := bin cli core runner energy media quality matrix store analyzers advisor master agent harness bench test scripts
lint: npm-deps
	@rc=0; \
	echo 'lint: layers (depcruise)'; npx depcruise --config .dependency-cruiser.cjs --output-type err $(LINT_DIRS) || rc=1; \
	echo 'lint: SQL only in store/'; node scripts/check-sql.mjs || rc=1; \
	echo 'lint: biome lint'; npx biome lint . || rc=1; \
	echo 'lint: biome format (check only; `npx biome format --write .` fixes)'; npx biome format --max-diagnostics=10 . || rc=1; \
	echo 'lint: tsc'; npx tsc --noEmit || rc=1; \
	exit $$rc

clean:
	rm -rf results test/.work dist
