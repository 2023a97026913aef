# ptload: the two commands of the README are `make run` and `make test`.
# Both install the Debian packages the build needs when they are missing (apt-get only).

SWIFT ?= swift
APT_PACKAGES := libzip-dev zlib1g-dev libopenblas-dev pkg-config
PYTHON ?= /tmp/torch-venv/bin/python
FIXTURE ?= Fixtures/rnn/lstm_long_bi_len

.PHONY: all deps build run test fixtures hostile bench bench-load fuzz fuzz-smoke clean

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

build: deps
	$(SWIFT) build -c release --product ptload

# Builds, then runs a bundled golden fixture written by PyTorch (a bidirectional LSTM over 120
# steps with unsorted lengths) and verifies it against PyTorch's outputs.
run: build
	.build/release/ptload $(FIXTURE).pt
	.build/release/ptload $(FIXTURE).pt --verify $(FIXTURE).npz

# The whole test suite (unit, golden fixtures, hostile files, CLI black-box).
test: deps
	$(SWIFT) build --product ptload
	$(SWIFT) build --product peak-rss
	$(SWIFT) test --disable-swift-testing

# Regenerates Fixtures/ with real PyTorch (needs a venv: python3 -m venv /tmp/torch-venv &&
# /tmp/torch-venv/bin/pip install torch numpy). Tests never need this.
fixtures:
	$(PYTHON) tools/make_fixtures.py
	$(PYTHON) tools/make_rnn_fixtures.py
	$(PYTHON) tools/make_numpy_fixtures.py
	python3 tools/make_pickle_fixtures.py
	python3 tools/make_hostile_corpus.py
	$(PYTHON) tools/torch_verdicts.py

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
# machine and the npy/npz reader, FUZZ_SECONDS each (default 30 minutes). Failing inputs land in
# Fuzz/crashes/<harness>/.
FUZZ_SECONDS ?= 1800
fuzz: deps
	tools/fuzz $(FUZZ_SECONDS)

# What CI runs after the tests: every saved failing input replayed, then 20 s of each harness.
fuzz-smoke: deps
	tools/fuzz replay
	tools/fuzz 20

clean:
	rm -rf .build
