# SPDX-License-Identifier: MIT
# Thin wrapper around CMake + CTest. `make test` is the one command CI and new users run.
JOBS ?= $(shell nproc)
# ctest's slots: three per core, a test that keeps a core busy taking three, one that mostly
# waits (label `waits`) one (cmake/test_slots.cmake: TUNNEL_SLOTS_PER_CORE)
CTEST_JOBS ?= $(shell echo $$((3 * $(JOBS))))
BUILD ?= build
ASAN_BUILD ?= build-asan
ARM64_BUILD ?= build-arm64
DEMO_BUILD ?= build-demo
DEB_OUT ?= build-deb
CMAKE_FLAGS ?=
ARCH ?=
PREFIX ?= /usr/local
DESTDIR ?=

.PHONY: all serverless-local deps deps-bench deps-arm64 lambda-arm64 build test test-asan test-valgrind \
	demo install deb lambda fuzz fuzz-coverage bench bench-profile bench-ab bench-instr bench-soak bench-serverless format lint clean \
	bench-http1 deploy-infra preview-infra destroy-infra

all: build

deps:
	./scripts/deps.sh

# The arm64 cross toolchain and libraries: only for the arm64 Lambda (make demo does not need them).
deps-arm64:
	./scripts/deps.sh arm64

build:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

test: deps build lambda-arm64
	cd $(BUILD) && ctest --output-on-failure -j $(CTEST_JOBS) --timeout 900

# The whole suite again with AddressSanitizer + UndefinedBehaviorSanitizer.
test-asan: deps lambda-arm64
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DTUNNEL_SANITIZE=ON $(CMAKE_FLAGS) >/dev/null
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ctest --output-on-failure -j $(CTEST_JOBS) --timeout 900

# End-to-end tests with ttfd and ttf under valgrind (memcheck, leaks as errors).
test-valgrind: deps build
	cd $(BUILD) && TUNNEL_VALGRIND=1 ctest --output-on-failure -R '^(e2e|faults)_' --timeout 1800

# The demo needs ttfd, ttf and the demo app's Python packages only: its own build directory
# without tests, fuzz targets or the Lambda, and the `demo` set of packages.
demo:
	@./scripts/deps.sh demo
	@echo "demo: building ttfd and ttf in $(DEMO_BUILD)/ (about a minute the first time; its log: $(DEMO_BUILD)/build.log)"
	@cmake -S . -B $(DEMO_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTUNNEL_TESTS=OFF -DTUNNEL_LAMBDA=OFF $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(DEMO_BUILD) -j $(JOBS) --target ttfd ttf >$(DEMO_BUILD)/build.log 2>&1 || { cat $(DEMO_BUILD)/build.log; exit 1; }
	@TTFD_BIN=$(DEMO_BUILD)/bin/ttfd TTF_BIN=$(DEMO_BUILD)/bin/ttf ./scripts/demo.sh

# ttf, ttfd, man pages, systemd units, bash completion: into $(DESTDIR)$(PREFIX).
install:
	./scripts/deps.sh build
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD) -j $(JOBS) --target ttfd ttf
	DESTDIR="$(DESTDIR)" cmake --install $(BUILD)

# Debian packages ttfd_*.deb and ttf_*.deb (debhelper, debian/) into $(DEB_OUT)/, checked by lintian.
deb:
	./scripts/deps.sh deb
	./scripts/deb.sh $(DEB_OUT)

# The serverless back-end on the local AWS stand-in, in front of 127.0.0.1:$(APP_PORT) (3000).
serverless-local: deps build
	./scripts/serverless-local.sh

# build/lambda/bootstrap.zip, or with ARCH=arm64 build/lambda/bootstrap-arm64.zip (cross-built).
lambda: deps
ifeq ($(ARCH),arm64)
	$(MAKE) lambda-arm64
else
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD) -j $(JOBS) --target lambda_zip
endif

lambda-arm64: deps-arm64
	cmake -S . -B $(ARM64_BUILD) -DCMAKE_TOOLCHAIN_FILE=$(CURDIR)/cmake/aarch64-linux-gnu.cmake \
	    -DTUNNEL_LAMBDA_ONLY=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(ARM64_BUILD) -j $(JOBS) --target lambda_zip
	mkdir -p $(BUILD)/lambda
	cp $(ARM64_BUILD)/lambda/bootstrap-arm64.zip $(BUILD)/lambda/bootstrap-arm64.zip

# The serverless back-end on AWS (infra/, Pulumi): needs the Pulumi CLI and AWS credentials, and the
# zip of `make lambda` (ARCH=arm64 for the default lambdaArchitecture). STACK=dev, PULUMI_ARGS=--yes.
deploy-infra:
	LAMBDA_ZIP_DIR=$(abspath $(BUILD))/lambda ./scripts/infra.sh up

preview-infra:
	LAMBDA_ZIP_DIR=$(abspath $(BUILD))/lambda ./scripts/infra.sh preview

destroy-infra:
	LAMBDA_ZIP_DIR=$(abspath $(BUILD))/lambda ./scripts/infra.sh destroy

# libFuzzer targets into build-fuzz/ (clang); see fuzz/README.md.
fuzz: deps
	./scripts/fuzz.sh --build-only

# Every fuzz target for FUZZ_TIME seconds from its seeds and dictionary, then a table of edges,
# features and covered lines per target.
FUZZ_TIME ?= 45
fuzz-coverage: deps
	./scripts/fuzz.sh --coverage -t $(FUZZ_TIME)

deps-bench:
	./scripts/deps.sh bench

# Side by side with direct, nginx, HAProxy and ssh -R (bench/bench.py; BENCH_* variables).
bench: deps-bench build
	./bench/run.sh

# perf profile of the bulk path through ttfd + ttf (bench/profile.py; PROFILE_* variables).
bench-profile: deps-bench build
	./bench/profile.sh

# The download path of two or more builds side by side, interleaved (bench/ab_download.py; e.g.
# AB_ARGS="--pin 1 --rounds 16 /path/to/a/bin build/bin", --tls for TLS on both legs).
bench-ab: build
	/usr/bin/python3 bench/ab_download.py $(AB_ARGS)

# Instructions (callgrind) and system calls per 1 KiB request through ttfd + ttf (bench/instr.py;
# INSTR_* variables): CPU work counted, the same on a loaded machine.
bench-instr: build
	/usr/bin/python3 bench/instr.py

# Minutes of mixed load, RSS and fds over time (bench/soak.py; SOAK_* variables).
bench-soak: deps-bench build
	./bench/soak.sh

# The serverless path on the AWS stand-in: invocations, download times, latency, cold start, cost.
bench-serverless: deps build
	TTF_BIN=$(abspath $(BUILD))/bin/ttf BOOTSTRAP_BIN=$(abspath $(BUILD))/bin/bootstrap \
	    LAMBDA_ZIP=$(abspath $(BUILD))/lambda/bootstrap.zip \
	    /usr/bin/python3 bench/serverless.py

# The HTTP/1.1 parser alone: ours against the libhttp-parser-based one it replaced.
bench-http1:
	./bench/http1_bench.sh

format:
	git ls-files '*.c' '*.h' | xargs clang-format -i

lint:
	./scripts/lint.sh

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(ARM64_BUILD) $(DEMO_BUILD) $(DEB_OUT) build-fuzz build-fuzzcov
