"""ptload_tools.bench.stream's own pieces: the step's flops, ptload's command line and report
parsing, and the references and peers it times (PyTorch stepping the module; the cell's layer twin;
ONNX Runtime's two ways), on small modules; and ptload streaming each reference, the cell's too."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any, Dict

import numpy as np
import pytest

from ptload_tools.bench.stream import (STREAM_CASES, StreamCase, parse_ptload, ptload_command, step_flops)
from ptload_tools.common.paths import repo_root


def test_step_flops_are_the_matrix_products_of_one_step() -> None:
    assert [(c.name, step_flops(c)) for c in STREAM_CASES] == [
        ("stream_lstm_b1", 2 * 4 * 128 * (64 + 128)),  # 196,608: the "about 0.2 MFLOP"
        ("stream_gru_b1", 2 * 3 * 128 * (64 + 128)),
        ("stream_cell_b1", 2 * 4 * 128 * (128 + 128)),
    ]


def test_ptload_command_is_the_streaming_contract() -> None:
    assert ptload_command("ptload", "m.pt", "r.npz", 11, 1) == [
        "ptload", "m.pt", "--verify", "r.npz", "--chunk", "1", "--repeat", "11", "--threads", "1", "--json"]
    assert ptload_command("ptload", "m.pt", "r.npz", 5, None) == [
        "ptload", "m.pt", "--verify", "r.npz", "--repeat", "5", "--threads", "1", "--json"]


def _report(**extra: Any) -> Dict[str, Any]:
    report: Dict[str, Any] = {"passed": True, "timings": {"forward_s": 0.004},
                              "comparisons": [{"max_abs_error": 1e-7}, {"max_abs_error": 3e-7}],
                              "module_kernels": ["avx512"]}
    report.update(extra)
    return report


def test_a_streamed_report_gives_seconds_per_chunk() -> None:
    run = parse_ptload(_report(stream={"chunk": 1, "chunks": 1000}), 1000, streamed=True)
    assert run.seconds_per_call == pytest.approx(4e-6)
    assert (run.passed, run.worst, run.kernels, run.note) == (True, 3e-7, "avx512", "1000 chunks of 1")


def test_a_report_without_stream_is_not_taken_for_a_streamed_run() -> None:
    run = parse_ptload(_report(), 1000, streamed=True)
    assert run.seconds_per_call is None
    assert run.note == 'the report has no "stream": did not stream'


def test_a_whole_sequence_report_gives_seconds_per_step() -> None:
    run = parse_ptload(_report(), 500, streamed=False)
    assert run.seconds_per_call == pytest.approx(8e-6)
    assert run.note == "whole sequence"


SMALL = (StreamCase("t_lstm", "LSTM", 3, 5, ""), StreamCase("t_gru", "GRU", 3, 5, ""),
         StreamCase("t_cell", "LSTMCell", 4, 5, ""))


@pytest.mark.parametrize("case", SMALL, ids=lambda c: c.name)
def test_the_reference_is_pytorch_stepping_and_equals_the_whole_sequence(case: StreamCase) -> None:
    torch = pytest.importorskip("torch")
    from ptload_tools.bench.stream import layer_twin, make_module, reference

    module = make_module(case)
    ref = reference(case, module, steps=7)
    cell = case.kind == "LSTMCell"
    state = (1, 5) if cell else (1, 1, 5)
    assert {k: v.shape for k, v in ref.items()} == {
        "input": (7, 1, case.input_size), "output": (7, 1, 5), "h_n": state,
        **({} if case.kind == "GRU" else {"c_n": state})}
    layer: Any = module
    expected = ref
    if cell:
        twin, expected = layer_twin(case, module.state_dict(), ref)
        assert sorted(twin) == ["bias_hh_l0", "bias_ih_l0", "weight_hh_l0", "weight_ih_l0"]
        layer = torch.nn.LSTM(case.input_size, 5).eval()
        layer.load_state_dict(twin)
    with torch.inference_mode():
        output, final = layer(torch.from_numpy(ref["input"]))
    finals = final if isinstance(final, tuple) else (final,)
    np.testing.assert_allclose(output.numpy(), expected["output"], rtol=1.3e-6, atol=1e-5)
    for key, value in zip(("h_n", "c_n"), finals):
        assert expected[key].shape == tuple(value.shape)
        np.testing.assert_allclose(value.numpy(), expected[key], rtol=1.3e-6, atol=1e-5)


@pytest.mark.parametrize("case", SMALL, ids=lambda c: c.name)
def test_every_peer_reaches_the_references_state(case: StreamCase, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    from ptload_tools.bench.stream import (build, check_final, eager_step, ort_loops, ort_session, scripted,
                                           slice_steps, state_shape, torch_loop)

    built = build(case, str(tmp_path))
    cell = case.kind == "LSTMCell"
    assert sorted(os.listdir(tmp_path)) == sorted(
        [case.name + e for e in (".pt", ".npz", ".onnx")]
        + ([case.name + e for e in ("_layer.pt", "_layer.npz", "_lstmop.onnx")] if cell else []))
    assert sorted(built.onnx) == (["", "lstm-op"] if cell else [""])
    xs = slice_steps(case, torch.from_numpy(built.ref["input"]))
    assert len(xs) == 1000 and tuple(xs[0].shape) == ((1, case.input_size) if cell else (1, 1, case.input_size))
    check_final(built.ref, [t.numpy() for t in torch_loop(case, eager_step(case, built.module), xs)()], "torch")
    check_final(built.ref, [t.numpy() for t in torch_loop(case, scripted(case, built.module), xs)()], "jit")
    for label, path in built.onnx.items():
        shape = (1, 1, case.hidden) if label else state_shape(case)
        inputs = [x.numpy().reshape(1, 1, -1) if label else x.numpy() for x in xs]
        loops = ort_loops(case, ort_session(path), inputs, shape)
        assert sorted(loops) == ["iobinding", "run"]
        for way, loop in loops.items():
            for _ in range(2):  # a second run starts from a zero state again
                check_final(built.ref, loop(), f"{way} {label}")


def _ptload() -> str:
    for path in (os.environ.get("PTLOAD", ""), str(repo_root() / ".build/release/ptload"),
                 str(repo_root() / ".build/debug/ptload")):
        if path and os.path.exists(path):
            return path
    pytest.skip("no ptload binary (PTLOAD, or swift build)")
    return ""


@pytest.mark.parametrize("case", SMALL, ids=lambda c: c.name)
def test_todays_whole_sequence_verify_passes_on_the_references(case: StreamCase, tmp_path: Path) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    from ptload_tools.bench.stream import build

    built = build(case, str(tmp_path))
    out = subprocess.run(ptload_command(_ptload(), built.whole_model, built.whole_ref, 1, None),
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    run = parse_ptload(json.loads(out.stdout), 1000, streamed=False)
    assert run.passed and run.seconds_per_call is not None


@pytest.mark.parametrize("case", SMALL, ids=lambda c: c.name)
def test_ptload_streams_each_reference_one_call_per_step(case: StreamCase, tmp_path: Path) -> None:
    """What the row times: ``--chunk 1`` on NAME.pt and NAME.npz, the cell itself (not its twin)
    included, passing, with one call per step."""
    pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    from ptload_tools.bench.stream import build

    built = build(case, str(tmp_path))
    out = subprocess.run(ptload_command(_ptload(), built.model, built.ref_path, 1, 1), capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["stream"]["chunk"] == 1 and report["stream"]["chunks"] == 1000
    assert sorted(c["name"] for c in report["comparisons"]) == sorted(
        ["output", "h_n"] + ([] if case.kind == "GRU" else ["c_n"]))
    run = parse_ptload(report, 1000, streamed=True)
    assert run.passed and run.seconds_per_call is not None and run.note == "1000 chunks of 1"
