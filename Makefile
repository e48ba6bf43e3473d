# RockchipLlama: setup, build, run and test from one command. See docs/deployment.md.
#
#   make run      fresh machine to a serving runner: setup, release build, `runner apply deploy/manifests/dev.yaml`
#   make test     lint, setup, the RKLLMSim, RKNNSim and AXSim contract smoke tests, then `swift test` via scripts/test.sh (what
#                 .ci/run calls; with TEST_ARGS set, only lint, setup and those tests)
#   make install  the runner into PREFIX/bin, libllama and the ggml libraries into PREFIX/lib/rockchipllama
#
# Every recipe that needs the setup's paths runs through scripts/env.sh, the one place that defines
# PKG_CONFIG_PATH, RUNNER_LLAMA_LIBRARY and RUNNER_TEST_MODEL.

SWIFT    ?= swift
MANIFEST ?= deploy/manifests/dev.yaml
# Extra arguments for `swift build`, e.g. SWIFT_BUILD_FLAGS=--static-swift-stdlib for a binary that runs
# without a Swift toolchain on the target; for `swift test`, e.g. TEST_ARGS='--filter ManifestTests'.
SWIFT_BUILD_FLAGS ?=
TEST_ARGS ?=
# `make install PREFIX=/opt/rockchipllama`; CONFIGURATION=debug installs the debug build (quicker to make).
PREFIX        ?= /usr/local
CONFIGURATION ?= release

SETUP    := bash scripts/setup.sh
WITH_ENV := bash scripts/env.sh
RUNNER   := .build/$(CONFIGURATION)/runner
FORMAT_PATHS := Sources Tests Package.swift

.DEFAULT_GOAL := build
.PHONY: setup build run test install bench bench-script format lint clean distclean

setup:
	$(SETUP) deps

build: setup
	$(WITH_ENV) $(SWIFT) build -c $(CONFIGURATION) --product runner $(SWIFT_BUILD_FLAGS)

run: build
	$(WITH_ENV) $(RUNNER) apply $(MANIFEST)

# Lint first: it takes seconds and needs no setup. The simulators' contracts (scripts/rkllmsim-smoke.sh, a few
# minutes; scripts/rknnsim-smoke.sh, seconds; scripts/axsim-smoke.sh, half a minute) run on a whole run, not on one
# picked with TEST_ARGS.
test: lint setup
	@if [ -z "$(TEST_ARGS)" ]; then $(WITH_ENV) bash scripts/rkllmsim-smoke.sh && $(WITH_ENV) bash scripts/rknnsim-smoke.sh \
		&& $(WITH_ENV) bash scripts/axsim-smoke.sh; fi
	$(WITH_ENV) env SWIFT=$(SWIFT) bash scripts/test.sh $(TEST_ARGS)

# The runner finds its libraries in ../lib/rockchipllama next to its own directory, so the prefix can be
# anywhere. Symlinks among the libraries (libfoo.so -> libfoo.so.0) are copied as symlinks.
install: build
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/rockchipllama
	install -m 755 $(RUNNER) $(DESTDIR)$(PREFIX)/bin/runner
	$(WITH_ENV) bash -c 'lib=$$(dirname "$$RUNNER_LLAMA_LIBRARY"); shopt -s nullglob; \
		cp -P "$$lib"/libllama.so* "$$lib"/libggml*.so* "$$lib"/libmtmd.so* "$(DESTDIR)$(PREFIX)/lib/rockchipllama/"'

# bench-script comes first so a missing script fails before a long build.
bench: bench-script build
	$(WITH_ENV) bash bench/run.sh

bench-script:
	@test -f bench/run.sh || { echo "make: bench: bench/run.sh does not exist (no benchmark script has been written yet)" >&2; exit 1; }

format:
	$(SWIFT) format --in-place --recursive $(FORMAT_PATHS)

lint:
	$(SWIFT) format lint --strict --recursive $(FORMAT_PATHS)

# Build products only; .deps/ (llama.cpp build, model) survives. distclean removes it too.
clean:
	rm -rf .build

distclean: clean
	rm -rf .deps
