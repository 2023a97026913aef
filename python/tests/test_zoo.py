"""The zoo: every model exported, its truths checked against an independent numpy float64
reference, verified by the built ptload, then caught by ptload when one recurrent module's bias
moves by 1e-3."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Callable, Dict, Mapping, Tuple

import numpy as np
import pytest
import torch

import reference
from zoo import ZOO, ZooResult

# How far PyTorch's own result may be from the truth, by the parameters' dtype: a sanity bound.
DISTANCE_BOUND = {"float32": 1e-3, "float16": 0.05, "bfloat16": 0.25, "float64": 1e-12}


def checkpoint_state(path: Path) -> Dict[str, torch.Tensor]:
    if path.suffix == ".jit":
        return {k: v for k, v in torch.jit.load(str(path)).state_dict().items()}
    return torch.load(str(path), weights_only=True)


def float64_state(state: Mapping[str, torch.Tensor]) -> Dict[str, np.ndarray]:
    return {k: (v.double() if v.is_floating_point() else v).numpy() for k, v in state.items()}


def verify(ptload: str, checkpoint: Path, folder: Path) -> Tuple[int, Dict[str, bool], str]:
    """ptload CHECKPOINT --verify FOLDER/golden.json --json: exit status and each case's verdict."""
    run = subprocess.run([ptload, str(checkpoint), "--verify", str(folder / "golden.json"), "--json"],
                         capture_output=True, text=True, timeout=600)
    verdicts: Dict[str, bool] = {}
    if run.stdout.strip().startswith("{"):
        report = json.loads(run.stdout)
        verdicts = {c["name"]: bool(c.get("report", {}).get("passed")) for c in report["cases"]}
    return run.returncode, verdicts, run.stdout[-4000:] + run.stderr


@pytest.fixture(scope="session")
def zoo_exports(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], ZooResult]:
    """Each zoo model exported once per session, on first use."""
    done: Dict[str, ZooResult] = {}

    def get(name: str) -> ZooResult:
        if name not in done:
            torch.set_num_threads(1)
            done[name] = ZOO[name](tmp_path_factory.mktemp(name))
        return done[name]
    return get


@pytest.fixture(params=sorted(ZOO))
def exported(request: pytest.FixtureRequest, zoo_exports: Callable[[str], ZooResult]) -> Tuple[str, ZooResult]:
    return request.param, zoo_exports(request.param)


def test_cases_and_truths(exported: Tuple[str, ZooResult]) -> None:
    """The expected cases; truths equal to the numpy reference on the checkpoint's weights;
    torch_distance the distance of the stored torch_* results, within its dtype's bound."""
    name, result = exported
    assert [[c["name"] for c in e.manifest["cases"]] for e in result.exported] == result.cases  # type: ignore[index,union-attr]
    for e in result.exported:
        on_disk = json.loads((e.folder / "golden.json").read_text())
        assert on_disk["format_version"] == 2 and on_disk["format"] == "ptload-golden"
        state = float64_state(checkpoint_state(e.checkpoint))
        for case in on_disk["cases"]:
            with np.load(e.folder / case["npz"]) as npz:
                arrays = {k: npz[k] for k in npz.files}
            expected = reference.run_case(case, arrays, state)
            outputs = [n for n in ["output", "h_n", "c_n"] if n in arrays]
            assert outputs and set(outputs) == set(case["torch_distance"])
            for out in outputs:
                assert arrays[out].dtype == np.float64
                np.testing.assert_allclose(arrays[out], expected[out], rtol=0, atol=1e-10,
                                           err_msg="%s %s %s" % (name, case["name"], out))
                own = arrays["torch_" + out].astype(np.float64)
                assert case["torch_distance"][out] == pytest.approx(float(np.abs(own - arrays[out]).max()), rel=0, abs=0)
                assert case["torch_distance"][out] <= DISTANCE_BOUND[case["dtype"]], (name, case["name"], out)
                if case["dtype"] != "float64":
                    assert case["torch_distance"][out] > 0
            stored = "float32" if case["input_dtype"] == "bfloat16" else case["input_dtype"]
            assert arrays["input"].dtype == np.dtype(stored)


def test_ptload_passes_then_catches_a_moved_bias(exported: Tuple[str, ZooResult], ptload: str,
                                                 tmp_path: Path) -> None:
    """Every case passes; with 1e-3 added to one bias of one recurrent module, exactly that
    module's cases fail (exit 1) and the others pass."""
    name, result = exported
    for e in result.exported:
        code, verdicts, text = verify(ptload, e.checkpoint, e.folder)
        assert code == 0 and verdicts and all(verdicts.values()), "%s: %s" % (name, text)
    state = checkpoint_state(result.exported[0].checkpoint)
    key = next(k for k in ["%s.bias_ih_l0" % result.target, "%s.bias_ih" % result.target] if k in state)
    with torch.no_grad():
        state[key] = state[key] + 1e-3
    perturbed = tmp_path / "perturbed.pt"
    torch.save(state, str(perturbed))
    failed_somewhere = False
    for e in result.exported:
        code, verdicts, text = verify(ptload, perturbed, e.folder)
        expected = {c["name"]: c["module"] != result.target for c in e.manifest["cases"]}  # type: ignore[union-attr]
        assert verdicts == expected, "%s: %s" % (name, text)
        assert code == (0 if all(expected.values()) else 1), "%s: %s" % (name, text)
        failed_somewhere |= not all(expected.values())
    assert failed_somewhere


def test_deep_long_drift_needs_the_allowance(zoo_exports: Callable[[str], ZooResult]) -> None:
    """The speaker encoder: PyTorch's own float32 result is beyond float32's atol from the truth."""
    result = zoo_exports("deep_long")
    distance = result.exported[0].manifest["cases"][0]["torch_distance"]  # type: ignore[index]
    print("deep_long torch_distance:", distance)
    assert max(distance.values()) > 1e-5
