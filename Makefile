# ffwatt — the two commands a user types first: `make demo` and `make test`.
SHELL := /bin/bash
export ONNXRUNTIME_NODE_INSTALL := skip
NPM_STAMP := node_modules/.ffwatt-npm-ci

.PHONY: demo test deps node-check system-deps npm-deps test-setup monitor monitor-stop bench train train-data bundle lint typecheck clean hw-check

demo: node-check deps
	node --no-memory-reducer bin/ffwatt.mjs run matrices/quick.yml --out results

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

# The advisor's training campaign, one matrix per output resolution (matrices/advisor-train-*.yml;
# VMAF scoring is the long part at 1080p). VMAF needs a libvmaf FFmpeg and a VMAF model:
#   make train-data VMAF_MODEL=/path/to/vmaf_v0.6.1.pkl [QUALITY_FFMPEG=/path/to/ffmpeg]
QUALITY_FFMPEG ?= node_modules/@ffmpeg-installer/linux-x64/ffmpeg
VMAF_MODEL ?= $(FFWATT_VMAF_MODEL)
ADVISOR_CAMPAIGNS := advisor-train-360p advisor-train-720p advisor-train-1080p

train-data: deps
	@test -n "$(VMAF_MODEL)" || { echo "make train-data: set VMAF_MODEL=/path/to/vmaf_v0.6.1.pkl (or FFWATT_VMAF_MODEL)"; exit 2; }
	for c in $(ADVISOR_CAMPAIGNS); do node --no-memory-reducer bin/ffwatt.mjs run matrices/$$c.yml --out results --sampler-hz 50 \
	  --quality-ffmpeg $(QUALITY_FFMPEG) --vmaf-model $(VMAF_MODEL) || exit 1; done

# One model per hardware class: with runs of several classes, CLASS=ID picks one (OUT=models/ID keeps it beside the others).
OUT ?= models/
# At most 50 trees per target: 100k recommendations in ~0.4 s instead of ~1 s, held-out energy MAPE 19.8 % vs 15.7 % (docs/advisor.md).
TREES ?= 50
train: deps
	node advisor/train.mjs --db results/ffwatt.sqlite --campaign-name $(ADVISOR_CAMPAIGNS) --trees $(TREES) --out $(OUT) $(if $(CLASS),--class $(CLASS))

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
