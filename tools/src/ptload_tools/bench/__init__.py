"""Benchmarks: ``tools/bench`` runs ``ptload_tools.bench.rnn`` (recurrent forward passes against
PyTorch and ONNX Runtime), ``make bench-load`` runs ``ptload_tools.bench.load`` (opening a 1 GB
state dict), ``python -m ptload_tools.bench.export`` converts a 1 GB checkpoint each way, and
``make bench-sharded`` runs ``ptload_tools.bench.sharded`` (a 4-shard ``.bin`` folder and a
two-rank DCP folder converted to safetensors)."""
