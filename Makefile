# ptload: the two commands of the README are `make run` and `make test`.
# Both install the Debian packages the build needs when they are missing (apt-get only).

SWIFT ?= swift
APT_PACKAGES := libzip-dev zlib1g-dev pkg-config
# The C kernels' own tests: cross-built for aarch64 (the cross gcc brings its C library and
# libgcc; the compiler is the Swift toolchain's clang) and run under qemu-aarch64.
KERNEL_TEST_PACKAGES := gcc-aarch64-linux-gnu qemu-user
CLANG ?= $(shell dirname "$$(readlink -f "$$(command -v $(SWIFT))")")/clang
FIXTURE ?= Fixtures/rnn/lstm_long_bi_len

.PHONY: all deps kernel-test-deps build run test test-kernels test-downstream venv test-python fixtures hostile bench bench-load bench-sharded fuzz fuzz-smoke clean

all: build

# Installs whatever of $(APT_PACKAGES) is missing; sudo only when not root.
deps:
	@missing=""; \
	for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "make: installing$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi; \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $$missing; \
	fi

kernel-test-deps:
	@$(MAKE) --no-print-directory deps APT_PACKAGES="$(KERNEL_TEST_PACKAGES)"

build: deps
	$(SWIFT) build -c release --product ptload

# Builds, then runs a bundled golden fixture written by PyTorch (a bidirectional LSTM over 120
# steps with unsorted lengths) and verifies it against PyTorch's outputs.
run: build
	.build/release/ptload $(FIXTURE).pt
	.build/release/ptload $(FIXTURE).pt --verify $(FIXTURE).npz

# The whole test suite: no Swift line past 120 columns (.swift-format's lineLength), then unit,
# golden fixtures, hostile files, CLI black-box, then the C kernels on their own, natively and
# for aarch64 under qemu.
test: deps
	tools/check_line_length.sh
	$(SWIFT) build --product ptload
	$(SWIFT) build --product peak-rss
	$(SWIFT) test
	@$(MAKE) --no-print-directory test-kernels
	@$(MAKE) --no-print-directory test-downstream

# A package that depends on ptload through a versioned URL (a clone of HEAD tagged 0.0.1) and
# through a path builds, runs a golden fixture and verifies it (tools/test_downstream.sh).
test-downstream: deps
	SWIFT=$(SWIFT) tools/test_downstream.sh

# The one Python venv (README, CI, every target below): tools/requirements.lock's pinned packages,
# then python/ (ptload-golden, the exporter users install) and tools/ (ptload-tools: fixture
# generators, benchmarks) editable. PyPI's torch is the CUDA build: about 5 GB, a few minutes in a
# fresh venv. VENV=DIR puts it elsewhere; it is rebuilt when the lock or a pyproject.toml changes.
VENV ?= .venv
PYTHON ?= $(VENV)/bin/python
PYTHON3 ?= python3
VENV_STAMP := $(VENV)/.ptload-installed
venv: $(VENV_STAMP)
$(VENV_STAMP): tools/requirements.lock python/pyproject.toml tools/pyproject.toml
	@$(PYTHON3) -c "import ensurepip" 2>/dev/null || $(MAKE) --no-print-directory deps APT_PACKAGES=python3-venv
	$(PYTHON3) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tools/requirements.lock
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e ./python -e ./tools
	touch $@

# The exporter's zoo of models exported and verified by the built ptload (python/tests), then the
# tools' own tests: the shared helpers, and the torch-free generators rewriting their fixtures
# byte for byte (tools/tests).
test-python: deps venv
	$(SWIFT) build --product ptload
	PTLOAD=$(CURDIR)/.build/debug/ptload $(PYTHON) -m pytest -q python/tests
	$(PYTHON) -m pytest -q tools/tests

# Every kernel set of Sources/PTKernelsC this CPU runs (x86-64), then neon and plain built for
# aarch64 and run under qemu-aarch64, each against plain loops (Tests/CKernels/kernel_test.c); on
# x86-64 also the avx512 set's layout compiled for AVX2 (Tests/CKernels/kernels_avx512_layout.c).
KERNEL_SOURCES := Tests/CKernels/kernel_test.c Tests/CKernels/kernels_avx512_layout.c $(wildcard Sources/PTKernelsC/*.c)
test-kernels: kernel-test-deps
	@mkdir -p .build/kernel-test
	$(CLANG) -O2 -Wall -Werror -ISources/PTKernelsC/include $(KERNEL_SOURCES) -lm -o .build/kernel-test/native
	.build/kernel-test/native
	$(CLANG) --target=aarch64-linux-gnu -O2 -static -Wall -Werror -ISources/PTKernelsC/include $(KERNEL_SOURCES) -lm -o .build/kernel-test/aarch64
	qemu-aarch64 .build/kernel-test/aarch64

# Regenerates Fixtures/ with real PyTorch, numpy and Python's pickle (python -m
# ptload_tools.fixtures.NAME, in the venv). Tests never need this.
FIXTURE_GENERATORS := checkpoints rnn numpy_files pickles hostile torch_verdicts casts weight_norm sharded_dcp \
	hostile_dcp sharded_hf cell_sequences
fixtures: venv
	for g in $(FIXTURE_GENERATORS); do $(PYTHON) -m ptload_tools.fixtures.$$g || exit 1; done
	$(SWIFT) build --product ptload
	$(PYTHON) -m ptload_tools.fixtures.golden --ptload .build/debug/ptload
	$(PYTHON) -m ptload_tools.fixtures.export --ptload .build/debug/ptload
	$(PYTHON) -m ptload_tools.fixtures.outputs --ptload .build/debug/ptload
	$(PYTHON) -m ptload_tools.fixtures.sharded_export --ptload .build/debug/ptload

# Rewrites only the hostile corpus (Fixtures/hostile, its tests) and torch's verdicts on it.
hostile: venv
	$(PYTHON) -m ptload_tools.fixtures.hostile
	$(PYTHON) -m ptload_tools.fixtures.torch_verdicts

# Recurrent forward passes against PyTorch and ONNX Runtime (tools/bench), then the streaming rows
# (one step per call at batch 1, the state carried). BENCH_ARGS go to every table's run:
# `make bench BENCH_ARGS="--rows stream"` runs only the streaming rows, `--rows layers` only the others.
BENCH_ARGS ?=
bench: deps venv
	PYTHON=$(PYTHON) tools/bench $(BENCH_ARGS)

# Opening a 1 GB state dict, side by side with torch.load(mmap=True).
bench-load: build venv
	$(PYTHON) -m ptload_tools.bench.load

# A 1 GB model in 4 .bin shards, and a 1 GB DCP folder from two gloo ranks, converted to safetensors
# by ptload and by the Python ways (convert.py's; dcp_to_torch_save + save_file), side by side.
# Inputs are built once under .build/bench/sharded (BENCH_SHARDED_ARGS="--work DIR" elsewhere).
BENCH_SHARDED_ARGS ?=
bench-sharded: build venv
	$(PYTHON) -m ptload_tools.bench.sharded $(BENCH_SHARDED_ARGS)

# Coverage-guided fuzzing (libFuzzer + AddressSanitizer) of the checkpoint loader, the pickle
# machine, the npy/npz reader, the safetensors reader and the golden manifest parser,
# FUZZ_SECONDS each (default 30 minutes). Failing inputs land in Fuzz/crashes/<harness>/.
FUZZ_SECONDS ?= 1800
fuzz: deps
	tools/fuzz $(FUZZ_SECONDS)

# What CI runs after the tests: every saved failing input replayed, then 20 s of each harness.
fuzz-smoke: deps
	tools/fuzz replay
	tools/fuzz 20

clean:
	rm -rf .build
