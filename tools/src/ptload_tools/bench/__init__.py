"""Benchmarks: ``tools/bench`` runs ``ptload_tools.bench.rnn`` (recurrent forward passes against
PyTorch and ONNX Runtime), ``make bench-load`` runs ``ptload_tools.bench.load`` (opening a 1 GB
state dict), and ``python -m ptload_tools.bench.export`` converts a 1 GB checkpoint each way."""
