"""Checkpoint conversion benchmark: a 1 GB LSTM state dict (torch.save) turned into .safetensors
by ptload, and the Python ways, side by side in one run on the same machine:

    ptload model.pt --export out.safetensors
    safetensors.torch.save_file(torch.load(model.pt, weights_only=True), out.safetensors)
    ptload model.pt --export out.npz
    numpy.savez(out.npz, **{k: v.numpy() for k, v in torch.load(model.pt, weights_only=True).items()})
    ptload model.pt --export out.pt
    torch.save(torch.load(model.pt, weights_only=True), out.pt)

(time ratios: each format's ways against ptload's export to that format)

Each is run ROUNDS times, alternated (the first run of each warms the page cache and is not
counted); the table gives the median wall time, the ratio to ptload's, and the peak resident set
of the whole process (Tests/PeakRSS: the child's own high-water mark, file-backed pages included).

    python -m ptload_tools.bench.export [--rounds 3] [--gb 1.0] [--dir .build/bench/export]

Needs torch and safetensors in the venv, and builds ptload (release) and peak-rss.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from typing import Dict, List, Tuple

from ptload_tools.common.paths import repo_root


def build() -> Tuple[str, str]:
    """Builds ptload and peak-rss in release mode; their paths."""
    root = str(repo_root())
    subprocess.run(["swift", "build", "-c", "release", "--product", "ptload"], cwd=root, check=True, stdout=sys.stderr)
    subprocess.run(["swift", "build", "-c", "release", "--product", "peak-rss"], cwd=root, check=True, stdout=sys.stderr)
    return os.path.join(root, ".build/release/ptload"), os.path.join(root, ".build/release/peak-rss")


def make_checkpoint(path: str, gigabytes: float) -> None:
    import torch
    if os.path.exists(path):
        return
    torch.manual_seed(0)
    hidden, inputs = 2048, 1024
    per_layer = 4 * hidden * (2 * hidden) * 4 + 8 * 4 * hidden
    layers = max(1, round((gigabytes * 2 ** 30 - 4 * hidden * inputs * 4) / per_layer) + 1)
    with torch.no_grad():
        lstm = torch.nn.LSTM(inputs, hidden, num_layers=layers)
    torch.save(lstm.state_dict(), path)


def measure(peak_rss: str, argv: List[str]) -> Tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one run of argv, as Tests/PeakRSS measures it."""
    report = argv[-1] + ".rss"
    start = time.monotonic()
    run = subprocess.run([peak_rss, "600", report] + argv, capture_output=True, text=True)
    seconds = time.monotonic() - start
    if run.returncode != 0:
        raise SystemExit("%s failed: %s%s" % (argv, run.stdout, run.stderr))
    kib = int(open(report).read().split()[0])
    os.remove(report)
    return seconds, kib / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--gb", type=float, default=1.0)
    parser.add_argument("--dir", default=str(repo_root() / ".build" / "bench" / "export"))
    a = parser.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    ptload, peak_rss = build()
    model = os.path.join(a.dir, "lstm_1gb.pt")
    make_checkpoint(model, a.gb)
    size_mb = os.path.getsize(model) / 2 ** 20
    python = sys.executable

    def out(name: str) -> str:
        return os.path.join(a.dir, name)

    ways = {
        "ptload --export": [ptload, model, "--export", out("ptload.safetensors")],
        "safetensors.save_file(torch.load)": [python, "-c",
            "import sys, torch, safetensors.torch as s; s.save_file(torch.load(sys.argv[1], weights_only=True), sys.argv[2], metadata={'format': 'pt'})",
            model, out("python.safetensors")],
        "ptload --export .npz": [ptload, model, "--export", out("ptload.npz")],
        "numpy.savez(torch.load)": [python, "-c",
            "import sys, torch, numpy; numpy.savez(sys.argv[2], **{k: v.numpy() for k, v in torch.load(sys.argv[1], weights_only=True).items()})",
            model, out("python.npz")],
        "ptload --export .pt": [ptload, model, "--export", out("ptload.pt")],
        "torch.save(torch.load)": [python, "-c",
            "import sys, torch; torch.save(torch.load(sys.argv[1], weights_only=True), sys.argv[2])", model, out("torch.pt")],
    }
    times: Dict[str, List[float]] = {k: [] for k in ways}
    rss: Dict[str, List[float]] = {k: [] for k in ways}
    for round_ in range(a.rounds + 1):
        for name, argv in ways.items():
            seconds, peak = measure(peak_rss, argv)
            if round_ > 0:
                times[name].append(seconds)
                rss[name].append(peak)
    same = open(out("ptload.safetensors"), "rb").read() == open(out("python.safetensors"), "rb").read()
    print("checkpoint: %s, %.0f MB (torch.save of an LSTM state dict); %d rounds, medians" % (model, size_mb, a.rounds))
    print("ptload's .safetensors byte-identical to safetensors': %s" % same)
    print("| way | median s | time / ptload's | peak RSS MB | peak RSS / file |")
    print("|---|---|---|---|---|")
    for name in ways:
        base = statistics.median(times["ptload --export .pt" if name.startswith("torch.save") or name.endswith(".pt")
                                       else "ptload --export .npz" if "npz" in name or "savez" in name else "ptload --export"])
        t, r = statistics.median(times[name]), statistics.median(rss[name])
        print("| %s | %.2f | %.2f | %.0f | %.0f%% |" % (name, t, t / base, r, 100 * r / size_mb))


if __name__ == "__main__":
    main()
