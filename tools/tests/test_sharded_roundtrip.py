"""Sharded folders through ptload and back into transformers and torch (issue 21).

* Tiny seeded GPT-2 (LM head tied to ``wte``) and BERT masked-LM (decoder tied to the word
  embeddings, decoder bias shared with ``cls.predictions.bias``), saved by transformers 4.x with
  ``save_pretrained(d, max_shard_size="20KB", safe_serialization=False)``: ``ptload d --export
  out/model.safetensors --max-shard-size 20KB``; then ``from_pretrained(out, use_safetensors=True)``
  reports and logs no missing or unexpected key and gives the original's logits exactly, and the
  shards and the index equal ``save_pretrained(d2, max_shard_size="20KB",
  safe_serialization=True)``'s byte for byte (a difference is described: which keys, which bytes).
* A one-process ``torch.distributed.checkpoint.save`` of an LSTM + Linear state dict: ``ptload DIR
  --export x.pt`` holds the tensors ``dcp_to_torch_save`` writes, in its order, bit for bit, and
  ``--export x.safetensors`` equals ``save_file`` of them byte for byte.

Skipped when torch or transformers 4.x (5.x no longer writes ``.bin`` shards) is not importable, or
without a ptload binary ($PTLOAD, else <repo>/.build/debug/ptload).
"""
from __future__ import annotations

import difflib
import json
import logging
import os
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest

from ptload_tools.common.paths import repo_root

torch = pytest.importorskip("torch", reason="the round trip needs torch")
transformers = pytest.importorskip("transformers", reason="the round trip needs transformers (pinned 4.57.6 in "
                                   "tools/requirements.lock)")
if int(transformers.__version__.split(".")[0]) != 4:
    pytest.skip("transformers %s cannot save .bin shards (safe_serialization=False); the lock pins 4.57.6"
                % transformers.__version__, allow_module_level=True)

SHARD = "20KB"
KEY_WARNINGS = ("were not used", "newly initialized", "not initialized", "missing", "unexpected")


@pytest.fixture(scope="module")
def ptload() -> str:
    """The built ptload: $PTLOAD, or <repo>/.build/debug/ptload (swift build --product ptload)."""
    path = os.environ.get("PTLOAD") or str(repo_root() / ".build" / "debug" / "ptload")
    if not os.access(path, os.X_OK):
        pytest.skip("no ptload binary at %s: run `swift build --product ptload` or set PTLOAD" % path)
    return path


def run_ptload(ptload: str, *args: str) -> None:
    run = subprocess.run([ptload, *args], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, "ptload %s: exit %d\n%s%s" % (" ".join(args), run.returncode, run.stdout, run.stderr)


def tiny_gpt2() -> Any:
    torch.manual_seed(0)
    config = transformers.GPT2Config(vocab_size=100, n_positions=64, n_embd=32, n_layer=2, n_head=2)
    return transformers.GPT2LMHeadModel(config).eval()


def tiny_bert() -> Any:
    torch.manual_seed(0)
    config = transformers.BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                     intermediate_size=64, max_position_embeddings=64)
    return transformers.BertForMaskedLM(config).eval()


class KeyWarnings(logging.Handler):
    """Collects transformers' log records at WARNING and above (its loggers do not propagate)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: List[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())

    def __enter__(self) -> "KeyWarnings":
        logging.getLogger("transformers").addHandler(self)
        return self

    def __exit__(self, *_: object) -> None:
        logging.getLogger("transformers").removeHandler(self)


def load_without_key_warnings(cls: Any, folder: Path) -> Any:
    """``cls.from_pretrained(folder, use_safetensors=True)``, failing on any missing, unexpected or
    mismatched key, whether reported in the loading info or logged, and on any tensor left on the
    meta device: transformers 4.57 reports no missing key for a GPT-2 folder that holds
    ``lm_head.weight`` instead of ``transformer.wte.weight`` (huggingface_hub's choice of alias, the
    alphabetically first) yet leaves both unloaded."""
    with KeyWarnings() as warnings:
        model, info = cls.from_pretrained(folder, use_safetensors=True, output_loading_info=True)
    assert {k: list(v) for k, v in info.items()} == {
        "missing_keys": [], "unexpected_keys": [], "mismatched_keys": [], "error_msgs": []}, info
    assert [w for w in warnings.lines if any(k in w.lower() for k in KEY_WARNINGS)] == [], warnings.lines
    assert [k for k, v in model.state_dict().items() if v.device.type == "meta"] == [], "left unloaded (meta)"
    return model.eval()


def safetensors_header(path: Path) -> Tuple[Dict[str, Any], int]:
    raw = path.read_bytes()
    length = struct.unpack("<Q", raw[:8])[0]
    return json.loads(raw[8:8 + length]), 8 + length


def why_different(expected: Path, found: Path) -> str:
    """Why two files that should be equal are not: a diff of the text (JSON), or for safetensors
    the header entries that differ, or the first differing byte and the tensor it lies in."""
    a, b = expected.read_bytes(), found.read_bytes()
    if expected.suffix == ".json":
        return "\n".join(difflib.unified_diff(a.decode().splitlines(), b.decode().splitlines(), str(expected),
                                              str(found), lineterm="", n=1))
    try:
        (ha, start), (hb, _) = safetensors_header(expected), safetensors_header(found)
    except (ValueError, struct.error) as error:
        return "not both safetensors files (%s): %d bytes vs %d, starting %r vs %r" % (
            error, len(a), len(b), a[:16], b[:16])
    if ha != hb:
        keys = sorted(set(ha) | set(hb))
        return "headers differ: " + "; ".join("%s: %s vs %s" % (k, ha.get(k), hb.get(k))
                                              for k in keys if ha.get(k) != hb.get(k))
    if a[:start] != b[:start]:
        return "same header entries, different header bytes: %r vs %r" % (a[8:start], b[8:start])
    if len(a) != len(b):
        return "%d bytes vs %d bytes" % (len(a), len(b))
    first = next(i for i in range(len(a)) if a[i] != b[i])
    tensor = [k for k, v in ha.items() if k != "__metadata__" and v["data_offsets"][0] <= first - start < v[
        "data_offsets"][1]]
    return "byte %d differs (data of %s)" % (first, tensor)


def assert_same_files(expected: Path, found: Path) -> None:
    """The shards and the index of ``found`` equal those ``save_pretrained`` wrote into ``expected``."""
    names = sorted(p.name for p in expected.iterdir() if p.suffix == ".safetensors" or p.name.endswith(".index.json"))
    assert names and names == sorted(p.name for p in found.iterdir()
                                     if p.suffix == ".safetensors" or p.name.endswith(".index.json"))
    different = {n: why_different(expected / n, found / n) for n in names
                 if (expected / n).read_bytes() != (found / n).read_bytes()}
    assert different == {}, "\n".join("%s: %s" % item for item in different.items())


@pytest.mark.parametrize("make", [tiny_gpt2, tiny_bert], ids=["gpt2", "bert"])
def test_bin_shards_to_safetensors_shards_load_in_transformers(make: Any, ptload: str, tmp_path: Path) -> None:
    model = make()
    bins, reference, out = tmp_path / "bin", tmp_path / "safetensors", tmp_path / "out"
    model.save_pretrained(bins, max_shard_size=SHARD, safe_serialization=False)
    model.save_pretrained(reference, max_shard_size=SHARD, safe_serialization=True)
    assert (bins / "pytorch_model.bin.index.json").exists() and (reference / "model.safetensors.index.json").exists()
    out.mkdir()
    run_ptload(ptload, str(bins), "--export", str(out / "model.safetensors"), "--max-shard-size", SHARD)
    for name in ("config.json", "generation_config.json"):  # what ptload does not convert
        if (bins / name).exists() and not (out / name).exists():
            shutil.copy(bins / name, out / name)
    loaded = load_without_key_warnings(type(model), out)
    ids = torch.randint(0, model.config.vocab_size, (2, 16), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(loaded(ids).logits, model(ids).logits)
    assert_same_files(reference, out)


def dcp_tensors() -> Iterator[Tuple[str, Any]]:
    torch.manual_seed(0)
    lstm, fc = torch.nn.LSTM(8, 16, num_layers=2), torch.nn.Linear(16, 4)
    yield from (("lstm." + k, v) for k, v in lstm.state_dict().items())
    yield from (("fc." + k, v) for k, v in fc.state_dict().items())


def test_dcp_folder_to_pt_and_safetensors_equals_dcp_to_torch_save(ptload: str, tmp_path: Path) -> None:
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.format_utils import dcp_to_torch_save
    folder = tmp_path / "dcp"
    dcp.save(dict(dcp_tensors()), checkpoint_id=folder)
    (tmp_path / "torch").mkdir()
    (tmp_path / "ptload").mkdir()
    dcp_to_torch_save(folder, tmp_path / "torch" / "model.pt")
    run_ptload(ptload, str(folder), "--export", str(tmp_path / "ptload" / "model.pt"))
    expected = torch.load(tmp_path / "torch" / "model.pt", weights_only=True)
    found = torch.load(tmp_path / "ptload" / "model.pt", weights_only=True)
    assert list(found) == list(expected)
    for name, tensor in expected.items():
        got = found[name]
        assert (got.dtype, got.shape, got.stride()) == (tensor.dtype, tensor.shape, tensor.stride()), name
        assert got.numpy().tobytes() == tensor.numpy().tobytes(), name
    # One .safetensors: byte for byte what save_file writes for dcp_to_torch_save's tensors.
    from safetensors.torch import save_file
    save_file(expected, str(tmp_path / "torch" / "model.safetensors"), metadata={"format": "pt"})
    run_ptload(ptload, str(folder), "--export", str(tmp_path / "ptload" / "model.safetensors"))
    assert_same_files(tmp_path / "torch", tmp_path / "ptload")
