"""The exporter's API and command line, apart from the zoo: what it refuses and why, what it
leaves as it found it, export_module's own folder, the manifest's fields."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import List

import numpy as np
import pytest
import torch
from torch import nn

import ptload_golden
import zoo

PACKAGE_PARENT = str(Path(ptload_golden.__file__).resolve().parents[1])
TESTS = str(Path(__file__).resolve().parent)


def cli(args: List[str], cwd: Path) -> subprocess.CompletedProcess:
    """`python -m ptload_golden ARGS` (the console script's code), the zoo importable."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([PACKAGE_PARENT, TESTS]))
    return subprocess.run([sys.executable, "-m", "ptload_golden"] + args, cwd=str(cwd), env=env,
                          capture_output=True, text=True, timeout=300)


def verify(ptload: str, checkpoint: Path, manifest: Path) -> subprocess.CompletedProcess:
    return subprocess.run([ptload, str(checkpoint), "--verify", str(manifest)], capture_output=True, text=True,
                          timeout=300)


def test_manifest_fields(tmp_path: Path) -> None:
    manifest = zoo.half(tmp_path).exported[0].manifest
    assert manifest["format"] == "ptload-golden" and manifest["format_version"] == 2
    assert manifest["exporter"] == "ptload-golden %s" % ptload_golden.__version__
    assert manifest["checkpoint"] == "model.pt" and manifest["model_class"] == "zoo.Tagger"
    plain, pipeline = manifest["cases"]  # type: ignore[misc]
    assert plain == {"name": "lstm", "npz": "lstm.npz", "module": "lstm", "pipeline": None, "kind": "LSTM", "call": 0,
                     "batch_first": False, "nonlinearity": None, "dtype": "float16", "input_dtype": "float16",
                     "truth": "float64", "lengths": False, "torch_distance": plain["torch_distance"]}
    assert pipeline["pipeline"] == ["embed", "lstm", "tag"] and pipeline["input_dtype"] == "int64"
    assert pipeline["npz"] == "pipeline.embed_lstm_tag.npz"
    with np.load(tmp_path / "lstm.npz") as npz:
        assert sorted(npz.files) == ["c_n", "h_n", "input", "output", "torch_c_n", "torch_h_n", "torch_output"]
        assert npz["input"].dtype == np.float16 and npz["torch_output"].dtype == np.float16
    assert json.loads((tmp_path / "golden.json").read_text()) == manifest


def test_bfloat16_stored_widened(tmp_path: Path) -> None:
    case = zoo.bfloat16(tmp_path).exported[0].manifest["cases"][0]  # type: ignore[index]
    assert (case["dtype"], case["input_dtype"], case["batch_first"]) == ("bfloat16", "bfloat16", True)
    with np.load(tmp_path / case["npz"]) as npz:
        assert npz["input"].dtype == np.float32 and npz["h0"].dtype == np.float32
        assert npz["torch_output"].dtype == np.float32
        # exactly representable in bfloat16: widening lost nothing
        x = torch.from_numpy(npz["input"])
        assert torch.equal(x.bfloat16().float(), x)


def test_packed_lengths_and_order(tmp_path: Path) -> None:
    manifest = zoo.packed(tmp_path).exported[0].manifest
    encoder, gru = manifest["cases"]  # type: ignore[misc]
    assert encoder["lengths"] and gru["lengths"] and gru["batch_first"]
    with np.load(tmp_path / "encoder.npz") as npz:
        assert npz["lengths"].tolist() == [3, 6, 1, 4] and npz["lengths"].dtype == np.int64
        assert npz["input"].shape == (6, 4, 3) and npz["output"].shape == (6, 4, 10)
        assert not npz["output"][3:, 0].any()  # zeros past each length, as pad_packed_sequence gives


def test_traced_config_from_graph(tmp_path: Path) -> None:
    result = zoo.traced(tmp_path)
    gru, rnn = (e.manifest["cases"][0] for e in result.exported)  # type: ignore[index]
    assert (gru["kind"], gru["batch_first"], gru["module"]) == ("GRU", True, "gru")
    assert (rnn["kind"], rnn["nonlinearity"], rnn["batch_first"]) == ("RNN", "relu", False)
    assert result.exported[0].manifest["checkpoint"] == "model.jit"
    assert not (tmp_path / "gru" / "model.pt").exists()


def test_scripted_error_names_modules_and_api() -> None:
    model = torch.jit.script(zoo.Scriptable())
    with pytest.raises(ptload_golden.ScriptedModulesError) as caught:
        ptload_golden.export(model, (torch.randn(2, 5, 4),), "/nonexistent/never-written")
    text = str(caught.value)
    assert "encoder (LSTM), decoder (GRUCell)" in text
    assert "ptload_golden.export_module(model.encoder, args, 'golden/', path='encoder')" in text
    assert "ptload-golden module model.jit --path encoder" in text
    assert caught.value.modules == [("encoder", "LSTM"), ("decoder", "GRUCell")]
    assert ptload_golden.find_recurrent(model) == [("encoder", "LSTM"), ("decoder", "GRUCell")]


def test_export_module_alone_verifies_on_its_own(tmp_path: Path, ptload: str) -> None:
    torch.manual_seed(0)
    cell = torch.jit.script(nn.LSTMCell(3, 4))
    args = (torch.randn(2, 3), (torch.randn(2, 4), torch.randn(2, 4)))
    manifest = ptload_golden.export_module(cell, args, str(tmp_path))
    case = manifest["cases"][0]
    assert (case["name"], case["module"], case["kind"]) == ("rnn", "rnn", "LSTMCell")
    assert sorted(torch.load(str(tmp_path / "model.pt"), weights_only=True)) == [
        "rnn.bias_hh", "rnn.bias_ih", "rnn.weight_hh", "rnn.weight_ih"]
    run = verify(ptload, tmp_path / "model.pt", tmp_path / "golden.json")
    assert run.returncode == 0, run.stdout + run.stderr


def test_float64_model_has_no_distance(tmp_path: Path, ptload: str) -> None:
    torch.manual_seed(1)
    model = nn.GRU(3, 5, num_layers=2).double()
    manifest = ptload_golden.export(model, (torch.randn(4, 2, 3, dtype=torch.float64),), str(tmp_path))
    case = manifest["cases"][0]
    assert case["name"] == "root" and case["dtype"] == "float64" and case["input_dtype"] == "float64"
    assert max(case["torch_distance"].values()) <= 1e-15
    run = verify(ptload, tmp_path / "model.pt", tmp_path / "golden.json")
    assert run.returncode == 0, run.stdout + run.stderr


def test_model_left_as_found(tmp_path: Path) -> None:
    """Training flags restored, the global generator untouched, no hook left behind."""
    model = zoo.Tagger().train()
    model.tag.eval()
    before = {n: m.training for n, m in model.named_modules()}
    tokens = torch.randint(0, 20, (5, 2))
    state = torch.get_rng_state()
    ptload_golden.export(model, (tokens,), str(tmp_path))
    assert {n: m.training for n, m in model.named_modules()} == before
    assert torch.equal(torch.get_rng_state(), state)
    assert all(not m._forward_hooks for m in model.modules())


def test_refusals(tmp_path: Path) -> None:
    with pytest.raises(ptload_golden.ExportError, match="holds no nn.RNN/LSTM/GRU or cell"):
        ptload_golden.export(nn.Linear(2, 2), (torch.randn(1, 2),), str(tmp_path))

    class Unused(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rnn, self.fc = nn.GRU(2, 2), nn.Linear(2, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(x)

    with pytest.raises(ptload_golden.ExportError, match=r"called none of its recurrent modules \(rnn\)"):
        ptload_golden.export(Unused(), (torch.randn(1, 2),), str(tmp_path))

    class Trains(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rnn = nn.LSTM(2, 3, num_layers=2, dropout=0.5)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            self.rnn.train()
            return self.rnn(x)[0]

    with pytest.raises(ptload_golden.ExportError, match="training mode with dropout=0.5"):
        ptload_golden.export(Trains(), (torch.randn(3, 1, 2),), str(tmp_path))
    with pytest.raises(ptload_golden.ExportError, match=r"not torch\.nn\.modules\.linear\.Linear$"):
        ptload_golden.export_module(nn.Linear(2, 2), (torch.randn(1, 2),), str(tmp_path))
    traced = torch.jit.trace(nn.Sequential(nn.LSTM(2, 3)), (torch.randn(3, 1, 2),), check_trace=False)
    with pytest.raises(ptload_golden.ExportError, match="batch_first=True was given, but the module has batch_first=False"):
        ptload_golden.export_module(getattr(traced, "0"), (torch.randn(3, 1, 2),), str(tmp_path), batch_first=True)


def test_overflow_is_refused(tmp_path: Path) -> None:
    rnn = nn.RNN(2, 2, nonlinearity="relu").half()
    with torch.no_grad():
        for p in rnn.parameters():
            p.fill_(200.0)
    with pytest.raises(ptload_golden.ExportError, match="NaN or infinity"):
        ptload_golden.export(rnn, (torch.full((3, 1, 2), 100.0).half(),), str(tmp_path))


def test_cli_factory_and_module(tmp_path: Path, ptload: str) -> None:
    torch.manual_seed(3)
    model = zoo.Keywords()
    torch.save(model.state_dict(), str(tmp_path / "ckpt.pt"))
    args = (torch.randn(5, 2, 4), torch.randn(1, 2, 5), torch.randn(1, 2, 5))
    torch.save(args, str(tmp_path / "inputs.pt"))
    run = cli(["--factory", "zoo:Keywords", "--checkpoint", "ckpt.pt", "--inputs", "inputs.pt", "--out", "golden"],
              tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "golden/golden.json: 2 cases from zoo.Keywords"
    assert verify(ptload, tmp_path / "golden" / "model.pt", tmp_path / "golden" / "golden.json").returncode == 0

    scripted = torch.jit.script(zoo.Scriptable())
    torch.jit.save(scripted, str(tmp_path / "model.jit"))
    run = cli(["--jit", "model.jit", "--inputs", "inputs.pt", "--out", "whole"], tmp_path)
    assert run.returncode == 1 and "ptload-golden module model.jit --path encoder" in run.stderr
    run = cli(["list", "model.jit"], tmp_path)
    assert run.stdout == "encoder\tLSTM\ndecoder\tGRUCell\n"
    torch.save((torch.randn(2, 5, 4),), str(tmp_path / "args.pt"))
    run = cli(["module", "model.jit", "--path", "encoder", "--inputs", "args.pt", "--out", "enc"], tmp_path)
    assert run.returncode == 0, run.stderr
    assert "verify with: ptload model.jit --verify enc/golden.json" in run.stdout
    assert verify(ptload, tmp_path / "model.jit", tmp_path / "enc" / "golden.json").returncode == 0
    run = cli(["module", "model.jit", "--path", "nothing.here", "--inputs", "args.pt", "--out", "x"], tmp_path)
    assert run.returncode == 1 and "no submodule 'nothing.here' (recurrent submodules: encoder, decoder)" in run.stderr


def test_in_place_change_breaks_the_pipeline(tmp_path: Path) -> None:
    """An Embedding's output scaled in place before the LSTM is no longer the Embedding's: no
    pipeline case (its truth would start from unscaled vectors)."""
    class Scaled(zoo.Tagger):
        def forward(self, tokens: torch.Tensor) -> torch.Tensor:
            x = self.embed(tokens)
            x *= 2.0
            out = self.lstm(x)[0]
            out.relu_()
            return self.tag(out)

    manifest = ptload_golden.export(Scaled(), (torch.randint(0, 20, (4, 2)),), str(tmp_path))
    assert [c["name"] for c in manifest["cases"]] == ["lstm"]


def test_custom_forward_warns(tmp_path: Path) -> None:
    class Flattening(nn.GRU):
        def forward(self, x, hx=None):  # type: ignore[no-untyped-def,override]
            self.flatten_parameters()
            return super().forward(x, hx)

    with pytest.warns(UserWarning, match="<root> override forward"):
        manifest = ptload_golden.export(Flattening(3, 4), (torch.randn(5, 1, 3),), str(tmp_path))
    assert max(manifest["cases"][0]["torch_distance"].values()) < 1e-6
