"""Forward-pass benchmark of ptload's recurrent layers against PyTorch and ONNX Runtime.

Run through tools/bench (which builds ptload in release mode first). For every case it builds the
module with a fixed seed, saves its state dict and a reference (.npz: input + PyTorch's output,
h_n, c_n), exports it to ONNX, and then, in this one process and on the same 2 threads, times:

* PyTorch: the module under torch.inference_mode(), median of R runs after warm-up;
* ONNX Runtime: the exported model (intra_op_num_threads=2), median of R runs;
* ptload: `ptload CASE.pt --verify CASE.npz --repeat R --json --threads 2`, whose
  timings.forward_s is the in-process median of N forward passes (start-up and file reading
  are not counted), and whose verdict says whether its outputs matched PyTorch's.

R is --repeat, or more for a row whose pass is short, so that each runtime's runs span about 0.3 s
(repeats_for; the same R for all three).

It also measures the machine's single-precision GEMM throughput (torch.mm, 2 threads) and prints
ptload's GFLOP/s (2·T·N·G·H·(I + Hout) per layer and direction: the matrix products) as a share of
it, the ratio best-peer-time / ptload-time, and ptload's peak RSS (GNU time, if installed).

Then a second table, the streaming rows (stream.py): 1,000 calls of one step at batch 1 with the
state carried, on one thread, against torch eager, torch.jit.script and ONNX Runtime. --rows picks
the tables (all, layers, stream); --cases names rows of either.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any, Callable, Optional, Tuple

import numpy as np
import torch

from ptload_tools.bench.stream import print_table
from ptload_tools.common.paths import repo_root

#: name, kind, input_size, hidden, layers, bidirectional, T, N, proj_size, dtype
Case = Tuple[str, str, int, int, int, bool, int, int, int, str]
CASES: Tuple[Case, ...] = (
    ("lstm_small_b1", "LSTM", 64, 128, 1, False, 50, 1, 0, "float32"),
    ("lstm_med_bi2", "LSTM", 256, 512, 2, True, 100, 32, 0, "float32"),
    ("gru_med_2", "GRU", 256, 512, 2, False, 100, 32, 0, "float32"),
    ("rnn_tanh_med", "RNN", 256, 512, 2, False, 100, 32, 0, "float32"),
    ("lstm_large_b64", "LSTM", 512, 1024, 1, False, 200, 64, 0, "float32"),
    ("lstm_proj", "LSTM", 256, 512, 2, False, 100, 32, 128, "float32"),
    ("lstm_f64", "LSTM", 256, 512, 2, True, 100, 32, 0, "float64"),
    ("gru_b1", "GRU", 256, 512, 1, False, 200, 1, 0, "float32"),
)
GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}
THREADS = 2


def flops(kind: str, i: int, h: int, layers: int, bi: bool, t: int, n: int, proj: int = 0,
          dtype: str = "float32") -> int:
    """The matrix products' multiply-adds ×2 of one forward pass."""
    d = 2 if bi else 1
    out = proj or h
    total = 0
    for layer in range(layers):
        inp = i if layer == 0 else d * out
        total += d * 2 * t * n * (GATES[kind] * h * (inp + out) + (h * proj if proj else 0))
    return total


def median_time(fn: Callable[[], Any], repeat: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            info = f.read()
        name = next((l.split(":", 1)[1].strip() for l in info.splitlines() if l.startswith("model name")), "?")
        flags = next((l.split(":", 1)[1].split() for l in info.splitlines() if l.startswith("flags")), [])
        isa = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
        return f"{name} ({isa})"
    except OSError:
        return "?"


#: The least time each runtime's timed runs of a row span together: a row whose pass takes a fraction
#: of a millisecond gets more runs than --repeat (the same count for every runtime), since 11 runs of
#: 0.2 ms measured a 2-vCPU VM's wake-up more than the pass (medians moved 2x from run to run).
SPAN_S = 0.3


def repeats_for(module: torch.nn.Module, x: torch.Tensor, repeat: int) -> int:
    """--repeat, or more runs where PyTorch's pass (a rough bound on every runtime's) is short."""
    with torch.inference_mode():
        rough = median_time(lambda: module(x), 3, warmup=1)
    return max(repeat, min(2001, round(SPAN_S / max(rough, 1e-6))))


def gemm_peak(repeat: int) -> float:
    a = torch.randn(2048, 2048)
    b = torch.randn(2048, 2048)
    t = median_time(lambda: torch.mm(a, b), repeat)
    return 2 * 2048 ** 3 / t / 1e9


def build(case: Case, folder: str) -> Tuple[torch.nn.Module, torch.Tensor, str, str, Optional[str]]:
    name, kind, i, h, layers, bi, t, n, proj, dtype = case
    torch.manual_seed(0)
    extra = {"proj_size": proj} if proj else {}
    module = getattr(torch.nn, kind)(i, h, layers, bidirectional=bi, **extra).eval()
    x = torch.randn(t, n, i)
    if dtype == "float64":
        module, x = module.double(), x.double()
    with torch.inference_mode():
        out = module(x)
    output, state = out
    ref = {"input": x.numpy(), "output": output.numpy()}
    if kind == "LSTM":
        ref["h_n"], ref["c_n"] = state[0].numpy(), state[1].numpy()
    else:
        ref["h_n"] = state.numpy()
    model_path = os.path.join(folder, name + ".pt")
    ref_path = os.path.join(folder, name + ".npz")
    onnx_path = os.path.join(folder, name + ".onnx")
    torch.save(module.state_dict(), model_path)
    np.savez(ref_path, **ref)
    if not os.path.exists(onnx_path):
        try:
            torch.onnx.export(module, (x,), onnx_path, input_names=["input"], dynamo=False)
        except Exception as e:  # LSTM with proj_size has no ONNX export
            print(f"  {name}: no ONNX export ({type(e).__name__}: {str(e).splitlines()[0][:100]})", flush=True)
            onnx_path = None
    return module, x, model_path, ref_path, onnx_path


def run_ptload(binary: str, model: str, ref: str, repeat: int) -> Tuple[float, bool, float, str]:
    out = subprocess.run([binary, model, "--verify", ref, "--repeat", str(repeat), "--json", "--threads", str(THREADS)],
                         capture_output=True, text=True)
    if out.returncode not in (0, 1):
        sys.exit(f"ptload failed: {out.stderr.strip()}")
    report = json.loads(out.stdout)
    worst = max(c["max_abs_error"] for c in report["comparisons"])
    return report["timings"]["forward_s"], report["passed"], worst, ",".join(report.get("module_kernels", []))


def peak_rss_mb(binary: str, model: str, ref: str) -> Optional[float]:
    if not os.path.exists("/usr/bin/time"):
        return None
    out = subprocess.run(["/usr/bin/time", "-f", "%M", binary, model, "--verify", ref, "--threads", str(THREADS)],
                         capture_output=True, text=True)
    return int(out.stderr.strip().splitlines()[-1]) / 1024.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=11)
    parser.add_argument("--ptload", default=".build/release/ptload")
    parser.add_argument("--folder", default=str(repo_root() / ".build" / "bench"))
    parser.add_argument("--cases", default=None,
                        help="comma-separated row names, of either table (default: every row of the tables --rows "
                             "picks)")
    parser.add_argument("--rows", choices=("all", "layers", "stream"), default="all",
                        help="layers: the forward passes (2 threads); stream: the streaming rows, one step per call "
                             "at batch 1 on 1 thread (stream.py); all: both tables")
    parser.add_argument("--rounds", type=int, default=5,
                        help="interleaved rounds of torch / onnxruntime / ptload per case; medians over all runs")
    parser.add_argument("--markdown", action="store_true", help="print the table as markdown too")
    parser.add_argument("--table", default="uncapped",
                        help="a title for the table: tools/bench runs this script once as it is and once with every "
                             "runtime capped at AVX2 by environment variables")
    args = parser.parse_args()

    import onnxruntime as ort
    from ptload_tools.bench.stream import STREAM_CASES, stream_table

    layer_names = [c[0] for c in CASES] if args.rows in ("all", "layers") else []
    stream_names = [c.name for c in STREAM_CASES] if args.rows in ("all", "stream") else []
    wanted = args.cases.split(",") if args.cases else layer_names + stream_names
    unknown = sorted(set(wanted) - {c[0] for c in CASES} - {c.name for c in STREAM_CASES})
    if unknown:
        sys.exit(f"unknown case(s) {', '.join(unknown)}")

    os.makedirs(args.folder, exist_ok=True)
    torch.set_num_threads(THREADS)
    options = ort.SessionOptions()
    options.intra_op_num_threads = THREADS
    options.inter_op_num_threads = 1

    peak = max(gemm_peak(args.repeat) for _ in range(3))  # the best of three: a noisy VM only slows it down
    print(f"table: {args.table}")
    print(f"machine: {os.cpu_count()} cores, {cpu_model()}; torch {torch.__version__}, onnxruntime {ort.__version__}; "
          f"{THREADS} threads everywhere; single-precision GEMM (torch.mm 2048²): {peak:.1f} GFLOP/s")
    print(f"instruction sets: torch {torch.backends.cpu.get_cpu_capability()} "
          f"(ATEN_CPU_CAPABILITY={os.environ.get('ATEN_CPU_CAPABILITY', 'unset')}, "
          f"ONEDNN_MAX_CPU_ISA={os.environ.get('ONEDNN_MAX_CPU_ISA', 'unset')}, "
          f"MKL_ENABLE_INSTRUCTIONS={os.environ.get('MKL_ENABLE_INSTRUCTIONS', 'unset')}); "
          f"onnxruntime: MLAS picks its kernels by CPUID and has no cap; "
          f"ptload: PTLOAD_ISA={os.environ.get('PTLOAD_ISA', 'unset')}, the kernels each run names below")
    header = ["case", "torch ms", "onnxrt ms", "ptload ms", "ptload GFLOP/s", "% of GEMM", "best peer / ptload", "verified",
              "ptload kernels", "ptload RSS MB"]
    rows = []
    for case in CASES:
        if case[0] not in wanted:
            continue
        module, x, model_path, ref_path, onnx_path = build(case, args.folder)
        repeat = repeats_for(module, x, args.repeat)
        # The machines are shared and noisy: interleave the three runtimes over several rounds so
        # that a slow spell hits all of them, and report the median of the per-round medians.
        torch_times, ort_times, ptload_times = [], [], []
        passed_all, worst = True, 0.0
        for _ in range(args.rounds):
            with torch.inference_mode():
                torch_times.append(median_time(lambda: module(x), repeat))
            # Each runtime's idle worker threads spin for a while after its last call (OpenMP's
            # block time, ONNX Runtime's spinning pool); let them park so that the next runtime
            # measured gets the two cores to itself.
            time.sleep(1.0)
            if onnx_path:
                try:
                    session = ort.InferenceSession(onnx_path, options, providers=["CPUExecutionProvider"])
                    feed = {session.get_inputs()[0].name: x.numpy()}
                    ort_times.append(median_time(lambda: session.run(None, feed), repeat))
                    del session
                except Exception as e:  # e.g. "LSTM operator does not support double yet"
                    print(f"  {case[0]}: ONNX Runtime cannot run it ({str(e).splitlines()[0][-80:]})", flush=True)
                    onnx_path = None
                time.sleep(1.0)
            t, passed, w, kernels = run_ptload(args.ptload, model_path, ref_path, repeat)
            ptload_times.append(t)
            passed_all = passed_all and passed
            worst = max(worst, w)
        t_torch, t_pt = statistics.median(torch_times), statistics.median(ptload_times)
        t_ort = statistics.median(ort_times) if ort_times else None
        passed = passed_all
        rss = peak_rss_mb(args.ptload, model_path, ref_path)
        gflops = flops(*case[1:]) / t_pt / 1e9
        ratio = min(t for t in (t_torch, t_ort) if t is not None) / t_pt
        rows.append([case[0], f"{t_torch * 1e3:.2f}", "-" if t_ort is None else f"{t_ort * 1e3:.2f}", f"{t_pt * 1e3:.2f}",
                     f"{gflops:.1f}", f"{100 * gflops / peak:.0f}%", f"{ratio:.2f}",
                     f"{'PASS' if passed else 'FAIL'} ({worst:.1e})", kernels, "-" if rss is None else f"{rss:.0f}"])
        print("  ".join(rows[-1]), flush=True)
    print_table(header, rows, args.markdown)
    if any(c.name in wanted for c in STREAM_CASES):
        print()
        stream_table(args.ptload, args.folder, wanted, args.repeat, args.rounds, args.markdown)


if __name__ == "__main__":
    main()
