"""ptload_tools.bench.sharded's own pieces: Hugging Face's size strings and shard grouping (the
numbers docs/SHARDED.md measured with huggingface_hub), and the output comparison that gates the
timings."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ptload_tools.bench.sharded import compare_outputs, parse_size, split_into_shards


def test_parse_size_is_huggingface_hubs() -> None:
    assert [parse_size(s) for s in ("5GB", "200KB", "200kb", "1.5MB", " 10 mb ")] == [
        5000000000, 200000, 200000, 1500000, 10000000]
    for bad in ("2GiB", "100"):
        with pytest.raises(ValueError):
            parse_size(bad)


def test_split_is_greedy_and_gives_an_oversized_tensor_its_own_shard_first() -> None:
    # huggingface_hub's split_torch_state_dict_into_shards(max_shard_size=300) on these sizes.
    sizes = [("a", 80), ("big", 400), ("b", 120), ("c", 240)]
    assert split_into_shards(sizes, 300) == [["big"], ["a", "b"], ["c"]]


def test_split_matches_huggingface_hub_when_installed() -> None:
    hub = pytest.importorskip("huggingface_hub")
    torch = pytest.importorskip("torch")
    lengths = [7, 300, 50, 50, 1, 120, 80, 80, 260, 3]
    state = {"t%d" % i: torch.zeros(n) for i, n in enumerate(lengths)}
    split = hub.split_torch_state_dict_into_shards(state, max_shard_size=1000)
    ordered = sorted(split.filename_to_tensors.items())
    assert split_into_shards([(k, 4 * v.numel()) for k, v in state.items()], 1000) == [names for _, names in ordered]


def _write(folder: Path, tensors: dict) -> None:
    save_file = pytest.importorskip("safetensors.numpy").save_file
    folder.mkdir()
    save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})


def test_compare_outputs_accepts_equal_tensors_and_names_what_differs(tmp_path: Path) -> None:
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    _write(tmp_path / "peer", {"w": x, "b": np.ones(2, np.float32)})
    _write(tmp_path / "same", {"b": np.ones(2, np.float32), "w": x.copy()})
    assert compare_outputs(tmp_path / "peer", tmp_path / "same") == (
        "2 tensors, 56 bytes, equal; safetensors files byte-identical: 1 of 1")
    y = x.copy()
    y[2, 3] = -1
    _write(tmp_path / "bytes", {"w": y, "b": np.ones(2, np.float32)})
    with pytest.raises(SystemExit, match="^w: the bytes differ$"):
        compare_outputs(tmp_path / "peer", tmp_path / "bytes")
    _write(tmp_path / "shape", {"w": x.reshape(4, 3), "b": np.ones(2, np.float32)})
    with pytest.raises(SystemExit, match=r"^w: the peer wrote F32 \(3, 4\), ptload F32 \(4, 3\)$"):
        compare_outputs(tmp_path / "peer", tmp_path / "shape")
    _write(tmp_path / "names", {"w": x, "c": np.ones(2, np.float32)})
    with pytest.raises(SystemExit, match=r"only the peer's \['b'\], only ptload's \['c'\]"):
        compare_outputs(tmp_path / "peer", tmp_path / "names")
