# ptload: the two commands of the README are `make run` and `make test`.
# Both install the Debian packages the build needs when they are missing (apt-get only).

SWIFT ?= swift
APT_PACKAGES := libzip-dev zlib1g-dev pkg-config
# The C kernels' own tests: cross-built for aarch64 (the cross gcc brings its C library and
# libgcc; the compiler is the Swift toolchain's clang) and run under qemu-aarch64.
KERNEL_TEST_PACKAGES := gcc-aarch64-linux-gnu qemu-user
CLANG ?= $(shell dirname "$$(readlink -f "$$(command -v $(SWIFT))")")/clang
PYTHON ?= /tmp/torch-venv/bin/python
FIXTURE ?= Fixtures/rnn/lstm_long_bi_len

.PHONY: all deps kernel-test-deps build run test test-kernels test-downstream test-python python-venv fixtures hostile bench bench-load fuzz fuzz-smoke clean

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

# The whole test suite (unit, golden fixtures, hostile files, CLI black-box), then the C kernels
# on their own, natively and for aarch64 under qemu.
test: deps
	$(SWIFT) build --product ptload
	$(SWIFT) build --product peak-rss
	$(SWIFT) test
	@$(MAKE) --no-print-directory test-kernels
	@$(MAKE) --no-print-directory test-downstream

# A package that depends on ptload through a versioned URL (a clone of HEAD tagged 0.0.1) and
# through a path builds, runs a golden fixture and verifies it (tools/test_downstream.sh).
test-downstream: deps
	SWIFT=$(SWIFT) tools/test_downstream.sh

# The exporter users install (python/, distribution ptload-golden): its zoo of models exported
# and verified by the built ptload (python/tests). The one venv recipe (README, CI):
# python3 -m venv V && V/bin/pip install torch numpy pytest && V/bin/pip install ./python.
# PyPI's torch is the CUDA build (about 5 GB); a venv that already imports torch is reused.
PYTHON_VENV ?= /tmp/ptload-python-venv
PYTHON3 ?= python3
test-python: deps python-venv
	$(PYTHON_VENV)/bin/pip install --quiet ./python
	$(SWIFT) build --product ptload
	PTLOAD=$(CURDIR)/.build/debug/ptload $(PYTHON_VENV)/bin/python -m pytest -q python/tests

python-venv:
	@if ! $(PYTHON_VENV)/bin/python -c "import torch, numpy, pytest" 2>/dev/null; then \
	  $(PYTHON3) -c "import ensurepip" 2>/dev/null || $(MAKE) --no-print-directory deps APT_PACKAGES=python3-venv; \
	  $(PYTHON3) -m venv $(PYTHON_VENV) && $(PYTHON_VENV)/bin/pip install --quiet torch numpy pytest; \
	fi

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

# Regenerates Fixtures/ with real PyTorch (needs a venv: python3 -m venv /tmp/torch-venv &&
# /tmp/torch-venv/bin/pip install torch numpy junitparser safetensors). Tests never need this.
fixtures:
	$(PYTHON) tools/make_fixtures.py
	$(PYTHON) tools/make_rnn_fixtures.py
	$(PYTHON) tools/make_numpy_fixtures.py
	python3 tools/make_pickle_fixtures.py
	python3 tools/make_hostile_corpus.py
	$(PYTHON) tools/torch_verdicts.py
	$(SWIFT) build --product ptload
	$(PYTHON) tools/make_golden_fixtures.py --ptload .build/debug/ptload
	$(PYTHON) tools/make_export_fixtures.py --ptload .build/debug/ptload

# Rewrites only the hostile corpus (Fixtures/hostile, its tests) and torch's verdicts on it.
hostile:
	python3 tools/make_hostile_corpus.py
	$(PYTHON) tools/torch_verdicts.py

# Recurrent forward passes against PyTorch and ONNX Runtime (needs torch, onnx, onnxruntime in the venv).
bench: deps
	PYTHON=$(PYTHON) tools/bench

# Opening a 1 GB state dict, side by side with torch.load(mmap=True).
bench-load: build
	$(PYTHON) tools/bench_load.py

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
