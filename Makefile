# Makefile -- a thin wrapper over Meson + Ninja (STYLE §46); Meson is the real build.
#
#   make               configure build/ if needed and build build/larder
#   make deps          apt-install everything needed to build and test (root, Debian 12),
#                      then the test oracles (npm ci in tests/oracle: DuckDB, hyparquet)
#   make quickstart    deps, build, then scripts/quickstart.sh on examples/driver_ranking
#   make test          deps, every target of build/ with gcc -Werror (one test case), the
#                      ASan+UBSan build in build-asan/ and every meson test there (unit,
#                      integration, fuzz corpus replays), then the "N passed, N failed" line
#   make format        clang-format -i every .c/.h     make format-check   the CI check
#   make checksrc      house lint + header self-containment (scripts/checksrc)
#   make check-build-clang   every target with clang -O2 (release) and -Werror
#   make fuzz          clang libFuzzer build in build-fuzz/, each target for FUZZ_SECONDS
#   make bench         bench/run.sh, when there is one
#   make clean         remove the build directories (fuzz crash artifacts are kept)
#
# One build directory per flavour: build/ (plain), build-asan/, build-fuzz/. Each is
# configured once; afterwards ninja re-runs meson by itself when a meson.build changes.
# `make test` never stops at the first failing test: test-run runs everything, then
# scripts/test-summary reads build-asan/meson-logs/testlog.json and sets the exit status.
# build-asan/ is configured with werror=false on purpose: GCC's documentation recommends
# against combining -Werror and sanitizers, whose instrumentation causes false positive
# warnings (gcc 12 reports "null format string" for vsnprintf(NULL, 0, fmt, ap) under
# -fsanitize=undefined). Warnings are enforced by the plain build (check-build) instead;
# the same goes for build-fuzz/.

SHELL := /bin/bash
.DEFAULT_GOAL := all
.SUFFIXES:

MESON ?= meson
CLANG_FORMAT ?= clang-format
BUILD ?= build
ASAN_BUILD ?= build-asan
CLANG_BUILD ?= build-clang
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
# Extra arguments for scripts/test-summary, e.g. --check NAME=pass|fail.
SUMMARY_ARGS ?=

APT_PACKAGES := build-essential meson ninja-build pkg-config libyaml-dev libjansson-dev \
	libsqlite3-dev libhiredis-dev redis-server redis-tools libh2o-evloop-dev libssl-dev prometheus libsnappy-dev zlib1g-dev libzstd-dev liblz4-dev libbrotli-dev clang libclang-rt-14-dev clang-format python3 sqlite3 curl openssl

# Only for `make bench` (bench/serve): the load generator and the servers compared.
BENCH_PACKAGES := wrk nginx-light

SRC_DIRS := src include tests fuzz bench
SRC_FILES = $(shell find $(SRC_DIRS) -type f \( -name '*.c' -o -name '*.h' \) 2>/dev/null | LC_ALL=C sort)
FUZZ_TARGETS = $(patsubst fuzz/%/,%,$(dir $(wildcard fuzz/*/fuzz_*.c)))

SAN_ENV := UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1
# A directory that meson set up before (maybe half-way) is re-set up with --reconfigure.
CONFIGURED = $(if $(wildcard $(1)/meson-private/coredata.dat),--reconfigure)

.PHONY: all check-build check-build-clang deps quickstart test test-run format format-check checksrc fuzz bench \
	clean help

# ---- build ------------------------------------------------------------------------------

# By name and type: the static library liblarder is also called 'larder'.
all: $(BUILD)/build.ninja
	$(MESON) compile -C $(BUILD) larder:executable

# Every target (library, CLI, tests, replays) with the project's -Werror warning set.
check-build: $(BUILD)/build.ninja
	$(MESON) compile -C $(BUILD)

# The same with clang -O2 (release), the second compiler of STYLE §42's matrix.
check-build-clang: $(CLANG_BUILD)/build.ninja
	$(MESON) compile -C $(CLANG_BUILD)

$(BUILD)/build.ninja:
	$(MESON) setup $(call CONFIGURED,$(BUILD)) $(BUILD)

$(CLANG_BUILD)/build.ninja:
	CC=clang $(MESON) setup $(call CONFIGURED,$(CLANG_BUILD)) $(CLANG_BUILD) --buildtype=release

$(ASAN_BUILD)/build.ninja:
	$(MESON) setup $(call CONFIGURED,$(ASAN_BUILD)) $(ASAN_BUILD) \
		-Db_sanitize=address,undefined -Db_lundef=false -Dwerror=false

$(FUZZ_BUILD)/build.ninja:
	CC=clang $(MESON) setup $(call CONFIGURED,$(FUZZ_BUILD)) $(FUZZ_BUILD) -Dfuzz=true \
		-Db_sanitize=address,undefined -Db_lundef=false -Dwerror=false \
		-Dc_args='-fsanitize=fuzzer-no-link -fno-sanitize-recover=all'

# ---- dependencies -----------------------------------------------------------------------
# Skips apt entirely when dpkg says every package is installed (fast, works offline).
# apt-get update runs only when the package lists are empty or an install attempt fails.

deps:
	@missing=; for p in $(APT_PACKAGES); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -qx 'install ok installed' \
			|| missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then echo "deps: all $(words $(APT_PACKAGES)) packages installed"; exit 0; fi; \
	echo "deps: missing:$$missing"; \
	sudo=; if [ "$$(id -u)" -ne 0 ]; then \
		if command -v sudo >/dev/null; then sudo=sudo; \
		else echo "deps: run as root to install:$$missing" >&2; exit 1; fi; \
	fi; \
	apt="$$sudo env DEBIAN_FRONTEND=noninteractive apt-get"; \
	install="$$apt install -y --no-install-recommends $(APT_PACKAGES)"; \
	if ls /var/lib/apt/lists/*_Packages* >/dev/null 2>&1 && $$install; then exit 0; fi; \
	$$apt update && $$install
	@# Reference readers for the tests (DuckDB, hyparquet): tests/oracle/node_modules, pinned
	@# by package-lock.json; skipped when it is already installed at the locked versions.
	@if ! command -v npm >/dev/null; then \
		echo "deps: npm not found: installing Debian's nodejs and npm"; \
		apt-get install -y --no-install-recommends nodejs npm \
			|| (apt-get update && apt-get install -y --no-install-recommends nodejs npm) \
			|| echo "deps: could not install npm; oracle tests will skip"; \
	fi
	@if ! command -v npm >/dev/null; then echo "deps: npm not found; oracle tests will skip"; \
	elif [ tests/oracle/node_modules/.package-lock.json -nt tests/oracle/package-lock.json ]; then \
		echo "deps: tests/oracle up to date"; \
	else npm ci --prefix tests/oracle --no-audit --no-fund; fi

# ---- quickstart -------------------------------------------------------------------------

quickstart: deps
	$(MAKE) --no-print-directory all
	bash scripts/quickstart.sh

# ---- tests ------------------------------------------------------------------------------

test: deps
	@if $(MAKE) --no-print-directory check-build; then r=pass; else r=fail; fi; \
	$(MAKE) --no-print-directory test-run; \
	python3 scripts/test-summary $(ASAN_BUILD) --check "check-build (gcc -Werror)=$$r" $(SUMMARY_ARGS)

# Builds and runs every test; never fails because a test failed (test-summary decides).
# The stale testlog.json goes first, so a build failure cannot report old results.
test-run: deps
	@rm -f $(ASAN_BUILD)/meson-logs/testlog.json
	@[ -f $(ASAN_BUILD)/build.ninja ] || $(MAKE) --no-print-directory $(ASAN_BUILD)/build.ninja \
		|| echo "test: meson setup $(ASAN_BUILD) failed"
	@if [ -f $(ASAN_BUILD)/build.ninja ]; then \
		echo "$(SAN_ENV) $(MESON) test -C $(ASAN_BUILD) --print-errorlogs"; \
		$(SAN_ENV) $(MESON) test -C $(ASAN_BUILD) --print-errorlogs \
			|| echo "test: meson test exited with status $$?"; \
	fi

# ---- style ------------------------------------------------------------------------------

format:
	@files="$(SRC_FILES)"; [ -z "$$files" ] || $(CLANG_FORMAT) -i $$files

format-check:
	@files="$(SRC_FILES)"; [ -z "$$files" ] || $(CLANG_FORMAT) --dry-run --Werror $$files
	@echo "format-check: $(words $(SRC_FILES)) file(s) clean"

checksrc:
	@python3 scripts/checksrc

# ---- fuzzing ----------------------------------------------------------------------------
# New inputs go to $(FUZZ_BUILD)/corpus/<target> (the seed corpus in the tree stays as
# committed); crashes land in fuzz/<target>/crash-* (gitignored): copy a fixed one into
# fuzz/<target>/corpus/ so the replay keeps it fixed.

fuzz: deps
	@[ -f $(FUZZ_BUILD)/build.ninja ] || $(MAKE) --no-print-directory $(FUZZ_BUILD)/build.ninja
	@ninja -C $(FUZZ_BUILD) build.ninja >/dev/null # regenerate first: new targets are known
	$(MESON) compile -C $(FUZZ_BUILD) $(addprefix fuzz_,$(FUZZ_TARGETS))
	@failed=; for t in $(FUZZ_TARGETS); do \
		mkdir -p $(FUZZ_BUILD)/corpus/$$t; \
		dict=; [ -f fuzz/$$t/$$t.dict ] && dict=-dict=fuzz/$$t/$$t.dict; \
		cmd="$(FUZZ_BUILD)/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
			-print_final_stats=1 -artifact_prefix=fuzz/$$t/ $$dict \
			$(FUZZ_BUILD)/corpus/$$t fuzz/$$t/corpus"; \
		echo "== fuzz_$$t for $(FUZZ_SECONDS)s"; echo $$cmd; \
		$(SAN_ENV) $$cmd || failed="$$failed $$t"; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz: FAILED:$$failed (reproducers: fuzz/<target>/crash-*, leak-*, timeout-*)"; exit 1; fi; \
	echo "fuzz: $(FUZZ_TARGETS) ran clean for $(FUZZ_SECONDS)s each"

# ---- benchmarks, cleaning ---------------------------------------------------------------

bench:
	@missing=; for p in $(BENCH_PACKAGES); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -qx 'install ok installed' \
			|| missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then echo "bench: installing$$missing"; \
		apt-get install -y --no-install-recommends $$missing \
			|| (apt-get update && apt-get install -y --no-install-recommends $$missing) \
			|| echo "bench: could not install$$missing; those comparisons will skip"; \
	fi
	@if [ -f bench/run.sh ]; then $(MAKE) --no-print-directory all && bash bench/run.sh; \
	else echo "no benchmarks yet"; fi

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(CLANG_BUILD) $(FUZZ_BUILD)

help:
	@sed -n '3,/^#$$/s/^# \{0,1\}//p' Makefile
