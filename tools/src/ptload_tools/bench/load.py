"""Opening a 1 GB state dict: ptload against torch.load(mmap=True), side by side in one run.

    python -m ptload_tools.bench.load [--repeat N] [--ptload PATH]

Writes .build/bench/lstm_1g.pt once (the state dict of
nn.LSTM(1024, 2048, 3, bidirectional=True), about 1 GB), then alternates, N times each:

* torch: `torch.load(path, mmap=True, weights_only=True)` and a walk over every tensor's
  shape and dtype, timed in-process;
* ptload: `ptload PATH --json --skip-crc`, whose `timings.load_s` is the in-process time to open,
  parse and map (what torch.load(mmap=True) does: neither reads tensor data); the process's wall
  time and peak RSS are reported too;
* ptload as a user runs it, `ptload PATH --json`, which also checks every record's CRC-32 (reading
  the whole file once): its `timings.crc_s`, wall time and peak RSS.

Prints medians and the ratio torch / ptload (> 1 means ptload is faster). The page cache is warm
for both (the file was just written and is read once before timing).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from typing import List, Optional, Tuple

import torch

from ptload_tools.common.paths import repo_root


def make_checkpoint(path: str) -> None:
    if os.path.exists(path):
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(1024, 2048, 3, bidirectional=True)
    torch.save(lstm.state_dict(), path)


def run_ptload(binary: str, path: str, extra: List[str]) -> Tuple[float, Optional[float], float, int]:
    start = time.perf_counter()
    proc = subprocess.Popen([binary, path, "--json"] + extra, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate()
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"ptload failed ({proc.returncode}): {err.decode().strip()}")
    report = json.loads(out)
    return report["timings"]["load_s"], report["timings"].get("crc_s"), wall, report["tensor_count"]


def ptload_peak_rss_mb(binary: str, path: str, extra: List[str]) -> Optional[float]:
    """Peak RSS of one ptload run, as GNU time (Debian's `time` package) reports it.

    Not from this process's wait4: a child forked or vforked from a Python process that holds a
    mapped 1 GB state dict inherits that process's RSS high-water mark across exec. GNU time is
    small, so the peak it reads for its own child is ptload's alone."""
    gnu_time = "/usr/bin/time"
    if not os.path.exists(gnu_time):
        return None
    out = subprocess.run([gnu_time, "-f", "%M", binary, path, "--json"] + extra, capture_output=True, text=True, check=True)
    return int(out.stderr.strip().splitlines()[-1]) / 1024.0


def torch_load(path: str) -> Tuple[float, int]:
    start = time.perf_counter()
    sd = torch.load(path, mmap=True, weights_only=True)
    listing = [(k, tuple(v.shape), v.dtype, v.stride(), v.storage_offset()) for k, v in sd.items()]
    elapsed = time.perf_counter() - start
    return elapsed, len(listing)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=21)
    parser.add_argument("--ptload", default=".build/release/ptload")
    parser.add_argument("--path", default=str(repo_root() / ".build" / "bench" / "lstm_1g.pt"))
    args = parser.parse_args()

    make_checkpoint(args.path)
    size_gb = os.path.getsize(args.path) / 1e9
    torch.set_num_threads(2)
    with open(args.path, "rb") as f:  # warm the page cache for both readers
        while f.read(1 << 24):
            pass

    torch_times, ptload_times, ptload_walls, crc_times, checked_walls = [], [], [], [], []
    for _ in range(args.repeat):
        t, n_torch = torch_load(args.path)
        torch_times.append(t)
        p, _, wall, n_ptload = run_ptload(args.ptload, args.path, ["--skip-crc"])
        ptload_times.append(p)
        ptload_walls.append(wall)
        _, crc, wall, _ = run_ptload(args.ptload, args.path, [])
        crc_times.append(crc)
        checked_walls.append(wall)
    if n_torch != n_ptload:
        sys.exit(f"tensor counts differ: torch {n_torch}, ptload {n_ptload}")
    rss = ptload_peak_rss_mb(args.ptload, args.path, ["--skip-crc"])
    rss_checked = ptload_peak_rss_mb(args.ptload, args.path, [])

    t_med = statistics.median(torch_times)
    p_med = statistics.median(ptload_times)
    print(f"file: {args.path} ({size_gb:.2f} GB, {n_torch} tensors), {args.repeat} runs each, torch {torch.__version__}")
    print(f"{'reader':<40} {'median':>10} {'min':>10}")
    print(f"{'torch.load(mmap=True) + listing':<40} {t_med * 1e3:>8.2f}ms {min(torch_times) * 1e3:>8.2f}ms")
    print(f"{'ptload open+parse+map (in-process)':<40} {p_med * 1e3:>8.2f}ms {min(ptload_times) * 1e3:>8.2f}ms")
    print(f"{'ptload whole process (wall)':<40} {statistics.median(ptload_walls) * 1e3:>8.2f}ms {min(ptload_walls) * 1e3:>8.2f}ms")
    print(f"{'ptload CRC-32 of every record':<40} {statistics.median(crc_times) * 1e3:>8.2f}ms {min(crc_times) * 1e3:>8.2f}ms")
    print(f"{'ptload whole process, CRCs checked':<40} {statistics.median(checked_walls) * 1e3:>8.2f}ms {min(checked_walls) * 1e3:>8.2f}ms")
    print(f"ratio torch/ptload (in-process): {t_med / p_med:.2f}")
    if rss is None:
        print("ptload peak RSS: not measured (install Debian's `time` package for /usr/bin/time)")
    else:
        print(f"ptload peak RSS: {rss:.1f} MB listing, {rss_checked:.1f} MB with CRCs checked (target < 250 MB)")


if __name__ == "__main__":
    main()
