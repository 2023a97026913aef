"""Streaming rows of the recurrent benchmark: one step per call at batch 1, the state carried.

A frame-at-a-time user (voice activity detection, wake words, sensor models) calls a module once
per frame and carries h (and c) from call to call; what matters is the time per call, not the
throughput of a long sequence. Each row runs STEPS = 1,000 such calls, from a zero state, on ONE
thread everywhere, in this one process, interleaved over --rounds rounds of --repeat runs:

* torch: the module under ``torch.inference_mode()`` after ``torch.set_num_threads(1)``, called as
  ``module(x_t, state)``;
* jit: ``torch.jit.script`` of a thin wrapper whose forward is ``self.rnn(x, (h, c))`` (scripting
  ``nn.LSTM`` itself leaves its overloaded ``forward`` unreachable from Python), the same loop;
* onnxrt: a one-step model exported with h (and c) as inputs and outputs, run with
  ``intra_op_num_threads=1``, ``inter_op_num_threads=1`` and sequential execution, in the faster of
  two ways an ORT user has: ``session.run`` with numpy arrays, or two pre-built IOBindings whose
  state OrtValues swap roles each call (only the frame's input is bound per call); for a cell also
  its weights exported as a one-step nn.LSTM (ONNX's one LSTM node, where torch exports the cell
  as 15 small nodes), the way named "lstm-op";
* ptload: ``ptload NAME.pt --verify NAME.npz --chunk 1 --repeat R --threads 1 --json``, whose
  ``timings.forward_s`` is the median of R whole streamed runs (the chunks sliced before timing)
  and ``stream.chunks`` the number of calls.

Every runtime reuses one pre-sliced input per call (slicing is not timed). µs per call is the
median run's time / STEPS. ``best peer / ptload`` is the fastest peer's µs per call over ptload's.

Where a call's time goes, two columns:

* ``whole-seq µs/step``: ptload's own whole-sequence run of the same 1,000 steps on one thread
  (``--verify`` without ``--chunk``, i.e. ``--chunk`` = T), forward_s / T: the same arithmetic on the
  same kernels with no per-call work (and the input projection batched over T), the kernel-bound
  floor of a step. ``kernel share`` is that floor over ptload's streamed µs per call: the part of a
  call spent doing what a step must do; the rest is per-call overhead. (Two medians of separate
  runs: on a noisy machine the share can pass 100%.)
* ``GEMM-rate µs``: the step's matrix products (2·G·H·(I + H) flops) at the one-thread torch.mm
  2048² rate measured in the same run: a lower bound no GEMV at batch 1 reaches.

The references (NAME.npz: input [T, 1, I], output [T, 1, H], h_n, c_n) are PyTorch stepping the
same module T times, one call per step with the state carried. An LSTMCell's reference has a
cell's shapes (h_n, c_n [1, H]), which ``--chunk`` streams as T calls of one step of the cell
itself. A cell has no whole-sequence ``--verify`` (without ``--chunk`` a cell's reference is one
step), so for the whole-seq column the cell also gets a twin: its weights under an LSTM layer's
keys (``weight_ih_l0``, ...), which is the same maths, with the reference in a layer's shapes
(NAME_layer.pt, NAME_layer.npz); that column says "(layer twin)".
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import warnings
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Tuple

import numpy as np
import torch

STEPS = 1000
GATES = {"LSTM": 4, "GRU": 3, "LSTMCell": 4}


class StreamCase(NamedTuple):
    name: str
    kind: str  # "LSTM", "GRU" or "LSTMCell"
    input_size: int
    hidden: int
    description: str


STREAM_CASES: Tuple[StreamCase, ...] = (
    StreamCase("stream_lstm_b1", "LSTM", 64, 128, "LSTM(64, 128)"),
    StreamCase("stream_gru_b1", "GRU", 64, 128, "GRU(64, 128)"),
    StreamCase("stream_cell_b1", "LSTMCell", 128, 128, "LSTMCell(128, 128), silero-vad's decoder"),
)


def step_flops(case: StreamCase) -> int:
    """The matrix products' multiply-adds ×2 of one step at batch 1: 2·G·H·(I + H)."""
    return 2 * GATES[case.kind] * case.hidden * (case.input_size + case.hidden)


def has_cell_state(case: StreamCase) -> bool:
    return case.kind != "GRU"


def is_cell(case: StreamCase) -> bool:
    return case.kind.endswith("Cell")


class LSTMStep(torch.nn.Module):
    """One call of an LSTM layer with flat tensors: (x, h, c) -> (output, h', c'). The form that
    both torch.jit.script and torch.onnx.export take."""

    def __init__(self, rnn: torch.nn.Module) -> None:
        super().__init__()
        self.rnn = rnn

    def forward(self, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor
                ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        y, (h1, c1) = self.rnn(x, (h, c))
        return y, h1, c1


class LSTMCellStep(torch.nn.Module):
    """One call of an LSTMCell with flat tensors: (x, h, c) -> (h', h', c'), the output being h'."""

    def __init__(self, rnn: torch.nn.Module) -> None:
        super().__init__()
        self.rnn = rnn

    def forward(self, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor
                ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        h1, c1 = self.rnn(x, (h, c))
        return h1, h1, c1


class GRUStep(torch.nn.Module):
    """One call of a GRU layer with flat tensors: (x, h) -> (output, h')."""

    def __init__(self, rnn: torch.nn.Module) -> None:
        super().__init__()
        self.rnn = rnn

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        y, h1 = self.rnn(x, h)
        return y, h1


def make_module(case: StreamCase) -> torch.nn.Module:
    torch.manual_seed(0)
    return getattr(torch.nn, case.kind)(case.input_size, case.hidden).eval()


def step_input_shape(case: StreamCase) -> Tuple[int, ...]:
    """One call's input: [1, 1, I] for a layer, [1, I] for a cell."""
    return (1, case.input_size) if is_cell(case) else (1, 1, case.input_size)


def state_shape(case: StreamCase) -> Tuple[int, ...]:
    """h's (and c's) shape: [1, 1, H] for a layer (L·D = 1, N = 1), [1, H] for a cell."""
    return (1, case.hidden) if is_cell(case) else (1, 1, case.hidden)


def slice_steps(case: StreamCase, x: torch.Tensor) -> List[torch.Tensor]:
    """x [T, 1, I] cut into T contiguous per-call inputs of step_input_shape."""
    return [x[t].reshape(step_input_shape(case)).contiguous() for t in range(x.shape[0])]


def torch_loop(case: StreamCase, step: Callable[..., Any], xs: List[torch.Tensor]
               ) -> Callable[[], Tuple[torch.Tensor, ...]]:
    """A run of len(xs) calls of ``step`` from a zero state; returns (outputs of the last call)."""
    shape = state_shape(case)
    if case.kind == "GRU":
        def run_gru() -> Tuple[torch.Tensor, ...]:
            h = torch.zeros(shape)
            y = h
            with torch.inference_mode():
                for xt in xs:
                    y, h = step(xt, h)
            return y, h
        return run_gru

    def run_lstm() -> Tuple[torch.Tensor, ...]:
        h, c = torch.zeros(shape), torch.zeros(shape)
        y = h
        with torch.inference_mode():
            for xt in xs:
                y, h, c = step(xt, h, c)
        return y, h, c
    return run_lstm


def eager_step(case: StreamCase, module: torch.nn.Module) -> Callable[..., Any]:
    """The module called as a user calls it: ``module(x_t, state)``, flattened to step's form."""
    if case.kind == "GRU":
        return lambda x, h: module(x, h)
    if is_cell(case):
        def cell(x: torch.Tensor, h: torch.Tensor, c: torch.Tensor) -> Tuple[torch.Tensor, ...]:
            h1, c1 = module(x, (h, c))
            return h1, h1, c1
        return cell

    def layer(x: torch.Tensor, h: torch.Tensor, c: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        y, (h1, c1) = module(x, (h, c))
        return y, h1, c1
    return layer


def wrapper(case: StreamCase, module: torch.nn.Module) -> torch.nn.Module:
    if case.kind == "GRU":
        return GRUStep(module)
    return LSTMCellStep(module) if is_cell(case) else LSTMStep(module)


def scripted(case: StreamCase, module: torch.nn.Module) -> torch.nn.Module:
    with warnings.catch_warnings():  # "torch.jit.script is deprecated": it is still what users run
        warnings.simplefilter("ignore")
        return torch.jit.script(wrapper(case, module))


def reference(case: StreamCase, module: torch.nn.Module, steps: int = STEPS) -> Dict[str, np.ndarray]:
    """PyTorch stepping the module ``steps`` times from a zero state (seed 1 for the input):
    input [T, 1, I], output [T, 1, H] (each call's output), h_n and c_n in the module's shapes
    (a layer's [1, 1, H], a cell's [1, H])."""
    torch.manual_seed(1)
    x = torch.randn(steps, 1, case.input_size)
    step = eager_step(case, module)
    shape = state_shape(case)
    h, c = torch.zeros(shape), torch.zeros(shape)
    outputs = []
    with torch.inference_mode():
        for xt in slice_steps(case, x):
            if case.kind == "GRU":
                y, h = step(xt, h)
            else:
                y, h, c = step(xt, h, c)
            outputs.append(y.reshape(1, case.hidden))
    ref = {"input": x.numpy(), "output": torch.stack(outputs).numpy(), "h_n": h.numpy()}
    if has_cell_state(case):
        ref["c_n"] = c.numpy()
    return ref


def layer_twin(case: StreamCase, state: Dict[str, torch.Tensor], ref: Dict[str, np.ndarray]
               ) -> Tuple[Dict[str, torch.Tensor], Dict[str, np.ndarray]]:
    """A cell's weights under a one-layer module's keys (``weight_ih`` -> ``weight_ih_l0``), and its
    reference in a layer's shapes (h_n, c_n [1, 1, H]): the same maths, runnable over a whole
    sequence by today's ``--verify``."""
    twin = {key + "_l0": value for key, value in state.items()}
    twin_ref = dict(ref)
    for key in ("h_n", "c_n"):
        if key in ref:
            twin_ref[key] = ref[key].reshape(1, 1, case.hidden)
    return twin, twin_ref


class Built(NamedTuple):
    module: torch.nn.Module
    ref: Dict[str, np.ndarray]
    model: str  # NAME.pt: the module's state dict
    ref_path: str  # NAME.npz
    whole_model: str  # what whole-sequence --verify runs: NAME.pt, or the cell's layer twin
    whole_ref: str
    onnx: Dict[str, str]  # export label -> .onnx path: "" the module as it is, "lstm-op" a cell's twin


def build(case: StreamCase, folder: str) -> Built:
    """Writes NAME.pt, NAME.npz, NAME.onnx (one step, state in and out), and for a cell its layer
    twin, also exported (NAME_lstmop.onnx: torch exports a cell as 15 small nodes, and its twin as
    ONNX's one LSTM node, the faster form for an ORT user); returns the module and the paths."""
    module = make_module(case)
    ref = reference(case, module)
    path = os.path.join(folder, case.name)
    torch.save(module.state_dict(), path + ".pt")
    np.savez(path + ".npz", **ref)
    whole_model, whole_ref = path + ".pt", path + ".npz"
    if is_cell(case):
        twin, twin_ref = layer_twin(case, module.state_dict(), ref)
        whole_model, whole_ref = path + "_layer.pt", path + "_layer.npz"
        torch.save(twin, whole_model)
        np.savez(whole_ref, **twin_ref)
    onnx = {"": path + ".onnx"}
    if is_cell(case):
        twin_module = torch.nn.LSTM(case.input_size, case.hidden).eval()
        twin_module.load_state_dict(twin)
        onnx["lstm-op"] = path + "_lstmop.onnx"
    for label, onnx_path in list(onnx.items()):
        exported = twin_module if label else module
        shape = (1, 1, case.hidden) if label else state_shape(case)
        x = torch.zeros((1, 1, case.input_size) if label else step_input_shape(case))
        if case.kind == "GRU":
            args: Tuple[torch.Tensor, ...] = (x, torch.zeros(shape))
            inputs, outputs = ["input", "h0"], ["output", "h_n"]
        else:
            args = (x, torch.zeros(shape), torch.zeros(shape))
            inputs, outputs = ["input", "h0", "c0"], ["output", "h_n", "c_n"]
        step = LSTMStep(exported) if label else wrapper(case, exported)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(step, args, onnx_path, input_names=inputs, output_names=outputs, dynamo=False)
        except Exception as e:
            print(f"  {case.name}: no ONNX export ({type(e).__name__}: {str(e).splitlines()[0][:100]})", flush=True)
            del onnx[label]
    return Built(module, ref, path + ".pt", path + ".npz", whole_model, whole_ref, onnx)


def ort_session(onnx_path: str) -> Any:
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(onnx_path, options, providers=["CPUExecutionProvider"])


def ort_loops(case: StreamCase, session: Any, xs: List[np.ndarray], shape: Tuple[int, ...]
              ) -> Dict[str, Callable[[], List[np.ndarray]]]:
    """The two ways to stream through ONNX Runtime, each a run of len(xs) calls from a zero state
    returning the last call's (output, h_n[, c_n]):

    * ``run``: ``session.run(None, {input, h0, c0})`` with numpy arrays, the outputs fed back;
    * ``iobinding``: the inputs as OrtValues made before timing; two IOBindings built once, each
      binding one pair of state OrtValues as inputs and the other pair as outputs, used in turn,
      so that a call binds only its frame's input and runs.

    ``xs`` are the model's per-call inputs and ``shape`` its state's."""
    import onnxruntime as ort
    names = ["h0", "c0"] if has_cell_state(case) else ["h0"]
    outs = ["h_n", "c_n"] if has_cell_state(case) else ["h_n"]
    zero = np.zeros(shape, np.float32)

    def run() -> List[np.ndarray]:
        state = [zero] * len(names)
        result: List[np.ndarray] = []
        for xt in xs:
            feed = {"input": xt}
            feed.update(zip(names, state))
            result = session.run(None, feed)
            state = result[1:]
        return result

    values = [ort.OrtValue.ortvalue_from_numpy(xt) for xt in xs]
    buffers = [[ort.OrtValue.ortvalue_from_numpy(zero.copy()) for _ in names] for _ in range(2)]
    output = ort.OrtValue.ortvalue_from_numpy(np.zeros(case.hidden, np.float32).reshape(shape))
    bindings = []
    for k in range(2):
        binding = session.io_binding()
        binding.bind_ortvalue_output("output", output)
        for name, out, source, target in zip(names, outs, buffers[k], buffers[1 - k]):
            binding.bind_ortvalue_input(name, source)
            binding.bind_ortvalue_output(out, target)
        bindings.append(binding)

    def iobinding() -> List[np.ndarray]:
        for value in buffers[0]:
            value.update_inplace(zero)
        for t, xt in enumerate(values):
            binding = bindings[t % 2]
            binding.bind_ortvalue_input("input", xt)
            session.run_with_iobinding(binding)
        last = buffers[len(values) % 2]
        return [output.numpy()] + [v.numpy() for v in last]

    return {"run": run, "iobinding": iobinding}


def check_final(ref: Dict[str, np.ndarray], outputs: List[np.ndarray], who: str) -> None:
    """A peer's last call must give the reference's h_n (and c_n): each peer is timed doing the
    reference's computation, not something cheaper."""
    for got, key in zip(outputs[1:], ("h_n", "c_n")):
        if not np.allclose(np.asarray(got).reshape(-1), ref[key].reshape(-1), rtol=1e-4, atol=1e-5):
            raise SystemExit(f"{who}: {key} after {STEPS} calls differs from PyTorch's reference by "
                             f"{np.abs(np.asarray(got).reshape(-1) - ref[key].reshape(-1)).max():.2e}")


class PtloadRun(NamedTuple):
    seconds_per_call: Optional[float]  # None: the run did not happen (why in note)
    passed: bool
    worst: float
    kernels: str
    note: str


def ptload_command(binary: str, model: str, ref: str, repeat: int, chunk: Optional[int]) -> List[str]:
    """ptload's command line for a streamed run (``--chunk N``) or a whole-sequence one (None)."""
    argv = [binary, model, "--verify", ref]
    if chunk is not None:
        argv += ["--chunk", str(chunk)]
    return argv + ["--repeat", str(repeat), "--threads", "1", "--json"]


def parse_ptload(report: Dict[str, Any], steps: int, streamed: bool) -> PtloadRun:
    """Seconds per call of a ptload --json report: a streamed run's forward_s / stream.chunks, a
    whole-sequence run's forward_s / steps."""
    worst = max((c["max_abs_error"] for c in report.get("comparisons", [])), default=float("nan"))
    kernels = ",".join(report.get("module_kernels", []))
    forward = report["timings"]["forward_s"]
    if streamed:
        stream = report.get("stream")
        if not stream:
            return PtloadRun(None, report["passed"], worst, kernels, "the report has no \"stream\": did not stream")
        return PtloadRun(forward / stream["chunks"], report["passed"], worst, kernels,
                         f"{stream['chunks']} chunks of {stream['chunk']}")
    return PtloadRun(forward / steps, report["passed"], worst, kernels, "whole sequence")


def run_ptload(binary: str, model: str, ref: str, repeat: int, chunk: Optional[int]) -> PtloadRun:
    out = subprocess.run(ptload_command(binary, model, ref, repeat, chunk), capture_output=True, text=True)
    if out.returncode not in (0, 1):
        line = (out.stderr.strip().splitlines() or ["no message"])[-1]
        return PtloadRun(None, False, float("nan"), "", f"exit {out.returncode}: {line[:120]}")
    return parse_ptload(json.loads(out.stdout), STEPS, chunk is not None)


def fmt_us(seconds: Optional[float]) -> str:
    return "-" if seconds is None else f"{seconds * 1e6:.1f}"


HEADER = ["case", "module", "torch µs", "jit µs", "onnxrt µs (way)", "ptload µs", "best peer / ptload",
          "whole-seq µs/step", "kernel share", "GEMM-rate µs", "verified whole / streamed", "ptload kernels"]


def stream_table(binary: str, folder: str, wanted: List[str], repeat: int, rounds: int, markdown: bool) -> None:
    """Measures the streaming rows named in ``wanted`` and prints their table (one thread)."""
    import onnxruntime as ort

    torch.set_num_threads(1)
    from ptload_tools.bench.rnn import gemm_peak, median_time
    peak = max(gemm_peak(repeat) for _ in range(3))
    print(f"streaming rows: {STEPS} calls of one step at batch 1, the state carried; 1 thread everywhere "
          f"(torch {torch.get_num_threads()}, onnxruntime intra/inter 1, ptload --threads 1); single-precision "
          f"GEMM (torch.mm 2048², 1 thread): {peak:.1f} GFLOP/s; onnxruntime {ort.__version__}")
    rows = []
    for case in STREAM_CASES:
        if case.name not in wanted:
            continue
        built = build(case, folder)
        xs = slice_steps(case, torch.from_numpy(built.ref["input"]))
        eager = torch_loop(case, eager_step(case, built.module), xs)
        jit = torch_loop(case, scripted(case, built.module), xs)
        check_final(built.ref, [t.numpy() for t in eager()], "torch")
        check_final(built.ref, [t.numpy() for t in jit()], "torch.jit.script")
        ort_ways: Dict[str, Callable[[], List[np.ndarray]]] = {}
        for label, onnx_path in built.onnx.items():
            session = ort_session(onnx_path)
            inputs = [x.numpy().reshape(1, 1, case.input_size) if label else x.numpy() for x in xs]
            loops = ort_loops(case, session, inputs, (1, 1, case.hidden) if label else state_shape(case))
            for way, loop in loops.items():
                name = f"{way}, {label}" if label else way
                check_final(built.ref, loop(), f"onnxruntime ({name})")
                ort_ways[name] = loop
        times: Dict[str, List[float]] = {k: [] for k in ["torch", "jit", "stream", "whole"] + list(ort_ways)}
        streamed: Optional[PtloadRun] = None
        whole: Optional[PtloadRun] = None
        passed_whole = passed_stream = True
        worst = 0.0
        for _ in range(rounds):
            times["torch"].append(median_time(eager, repeat) / STEPS)
            times["jit"].append(median_time(jit, repeat) / STEPS)
            for way, loop in ort_ways.items():
                times[way].append(median_time(loop, repeat) / STEPS)
            whole = run_ptload(binary, built.whole_model, built.whole_ref, repeat, None)
            if whole.seconds_per_call is not None:
                times["whole"].append(whole.seconds_per_call)
                worst = max(worst, whole.worst)
            passed_whole = passed_whole and whole.passed
            streamed = run_ptload(binary, built.model, built.ref_path, repeat, 1)
            if streamed.seconds_per_call is not None:
                times["stream"].append(streamed.seconds_per_call)
                worst = max(worst, streamed.worst)
            passed_stream = passed_stream and streamed.passed
        med = {k: statistics.median(v) if v else None for k, v in times.items()}
        if len(ort_ways) > 1:
            print(f"  {case.name}: onnxruntime µs per call by way: "
                  + ", ".join(f"{w} {fmt_us(med[w])}" for w in ort_ways), flush=True)
        t_ort, way = min(((med[w], w) for w in ort_ways), default=(None, "-"))  # type: ignore[type-var]
        best = min(t for t in (med["torch"], med["jit"], t_ort) if t is not None)
        t_pt, t_whole = med["stream"], med["whole"]
        assert streamed is not None and whole is not None
        verdict_whole = ("PASS" if passed_whole else "FAIL") if t_whole is not None else whole.note
        verdict_stream = ("PASS" if passed_stream else "FAIL") if t_pt is not None else streamed.note
        twin = " (layer twin)" if is_cell(case) else ""
        rows.append([case.name, case.description, fmt_us(med["torch"]), fmt_us(med["jit"]),
                     f"{fmt_us(t_ort)} ({way})",
                     fmt_us(t_pt),
                     "-" if t_pt is None else f"{best / t_pt:.2f}",
                     fmt_us(t_whole) + twin,
                     "-" if t_pt is None or t_whole is None else f"{100 * t_whole / t_pt:.0f}%",
                     f"{step_flops(case) / (peak * 1e9) * 1e6:.2f}",
                     f"{verdict_whole} / {verdict_stream} ({worst:.1e})", streamed.kernels or whole.kernels])
        print("  ".join(rows[-1]), flush=True)
    print_table(HEADER, rows, markdown)


def print_table(header: List[str], rows: List[List[str]], markdown: bool) -> None:
    if not rows:
        return
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    print()
    for r in [header] + rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))
    if markdown:
        print()
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for r in rows:
            print("| " + " | ".join(r) + " |")
