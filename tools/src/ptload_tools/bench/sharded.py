"""Sharded conversion benchmark: ptload against the Python ways, side by side in one run.

Two rows, each on a model of about 1 GB of float32 written once into the work folder:

* ``bin4_to_safetensors``: a Hugging Face folder of 4 ``.bin`` shards
  (``pytorch_model-0000k-of-00004.bin`` + ``pytorch_model.bin.index.json``, written as
  transformers 4.x writes them: ``split_torch_state_dict_into_shards``' greedy grouping, one
  ``torch.save`` of a dict per shard, the index sorted with ``total_parameters``/``total_size``).
  The peer is safetensors' conversion script's way (``bindings/python/convert.py``,
  ``convert_multi``): for each shard ``torch.load(weights_only=True)``, drop shared names
  (``_remove_duplicate_names``), ``.contiguous()``, ``save_file(metadata={"format": "pt"})`` to
  ``model-0000k-of-00004.safetensors``, then the index with the names renamed. The script's re-read
  check of every shard (``load_file`` + ``torch.equal``) is left out, which favours the peer.
  ptload: ``ptload DIR --export OUT/model.safetensors --max-shard-size SIZE`` with the input's SIZE.
* ``dcp2_to_safetensors``: a ``torch.distributed.checkpoint`` folder written by two gloo ranks on
  127.0.0.1 (``mp.spawn``; an LSTM + Linear state dict, every tensor a DTensor
  ``distribute_tensor(..., [Shard(0)])``). The peer is
  ``format_utils.dcp_to_torch_save(DIR, tmp.pt)`` then ``torch.load`` + ``safetensors.torch
  .save_file`` to one file. ptload: ``ptload DIR --export OUT/model.safetensors``.

Before timing, one warm-up run of each way (not counted; it also warms the page cache) writes its
output, and the outputs must agree: the same tensor names, dtypes, shapes and bytes (read straight
from the safetensors files, every shard of a folder). Then ROUNDS rounds, alternated, each way in
its own process, outputs removed before every run. The table gives medians: wall seconds, the peak
resident set of the whole process (Tests/PeakRSS: the child's own high-water mark, file-backed
pages included) in MB and as % of the model's tensor bytes, and time and RSS ratios peer / ptload
(> 1: ptload is faster or smaller). The numbers also go to WORK/sharded.json.

    python -m ptload_tools.bench.sharded [--rounds 3] [--gb 1.0] [--work DIR] [--rows bin4,dcp2]
        [--ptload PATH] [--peak-rss PATH] [--peer-only]

Needs torch and safetensors in the venv; builds ptload and peak-rss (release) unless given.
``--peer-only`` times the Python ways alone (and needs only peak-rss).
"""
from __future__ import annotations

import argparse
import json
import mmap
import os
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Tuple

from ptload_tools.common.paths import repo_root

BIN_INDEX = "pytorch_model.bin.index.json"
SAFE_INDEX = "model.safetensors.index.json"
ROWS = ("bin4", "dcp2")
ROW_NAMES = {"bin4": "bin4_to_safetensors", "dcp2": "dcp2_to_safetensors"}


# --- the inputs ----------------------------------------------------------------------------------

def llama_like_shapes(gigabytes: float) -> List[Tuple[str, Tuple[int, ...]]]:
    """A decoder's state dict layout (LLaMA's names, hidden 1024, MLP 2816, vocabulary 32000 — less
    below 1 GB, so that a small model still splits in 4 — untied ``lm_head``), with as many layers as
    bring it to about ``gigabytes`` × 10^9 bytes."""
    hidden, mlp, vocab = 1024, 2816, 64 * max(1, round(500 * min(1.0, gigabytes)))
    per_layer = 4 * (4 * hidden * hidden + 3 * hidden * mlp + 2 * hidden)
    fixed = 4 * (2 * vocab * hidden + hidden)
    layers = max(1, round((gigabytes * 1e9 - fixed) / per_layer))
    shapes: List[Tuple[str, Tuple[int, ...]]] = [("model.embed_tokens.weight", (vocab, hidden))]
    for i in range(layers):
        p = "model.layers.%d." % i
        shapes += [(p + "self_attn.%s_proj.weight" % n, (hidden, hidden)) for n in "qkvo"]
        shapes += [(p + "mlp.gate_proj.weight", (mlp, hidden)), (p + "mlp.up_proj.weight", (mlp, hidden)),
                   (p + "mlp.down_proj.weight", (hidden, mlp)),
                   (p + "input_layernorm.weight", (hidden,)), (p + "post_attention_layernorm.weight", (hidden,))]
    return shapes + [("model.norm.weight", (hidden,)), ("lm_head.weight", (vocab, hidden))]


def split_into_shards(sizes: List[Tuple[str, int]], max_shard_size: int) -> List[List[str]]:
    """``huggingface_hub.split_torch_state_dict_into_shards``' grouping for tensors that share no
    storage (docs/SHARDED.md §1): greedy in state-dict order; a tensor bigger than the limit gets its
    own shard at once, before the one being filled."""
    shards: List[List[str]] = []
    current: List[str] = []
    filled = 0
    for name, size in sizes:
        if size > max_shard_size:
            shards.append([name])
            continue
        if filled + size > max_shard_size:
            shards.append(current)
            current, filled = [], 0
        current.append(name)
        filled += size
    if current:
        shards.append(current)
    return shards


def parse_size(text: str) -> int:
    """``huggingface_hub.utils.parse_size_to_int``: decimal ``TB GB MB KB`` (docs/SHARDED.md §1)."""
    units = {"TB": 10 ** 12, "GB": 10 ** 9, "MB": 10 ** 6, "KB": 10 ** 3}
    text = text.strip()
    unit = text[-2:].upper()
    if unit not in units:
        raise ValueError("unit of %r is not one of %s" % (text, ", ".join(units)))
    return int(float(text[:-2].strip()) * units[unit])


def four_shard_size(sizes: List[Tuple[str, int]]) -> str:
    """The smallest whole number of MB for which the grouping gives exactly 4 shards."""
    total = sum(size for _, size in sizes)
    megabytes = -(-total // 4 // 10 ** 6)
    while len(split_into_shards(sizes, megabytes * 10 ** 6)) > 4:
        megabytes += 1
    if len(split_into_shards(sizes, megabytes * 10 ** 6)) != 4:
        raise SystemExit("no shard size splits this model into exactly 4 shards")
    return "%dMB" % megabytes


def make_bin4(folder: Path, gigabytes: float) -> str:
    """Writes the 4-shard ``.bin`` folder (once: kept when its index is there); its shard size."""
    import torch
    shapes = llama_like_shapes(gigabytes)
    sizes = [(name, 4 * _volume(shape)) for name, shape in shapes]
    size_text = four_shard_size(sizes)
    if (folder / BIN_INDEX).exists():
        return size_text
    folder.mkdir(parents=True, exist_ok=True)
    generator = torch.Generator().manual_seed(0)
    shape_of = dict(shapes)
    groups = split_into_shards(sizes, parse_size(size_text))
    weight_map: Dict[str, str] = {}
    for k, names in enumerate(groups):
        file = "pytorch_model-%05d-of-%05d.bin" % (k + 1, len(groups))
        shard = {name: torch.randn(shape_of[name], generator=generator) * 0.02 for name in names}
        torch.save(shard, folder / file)
        weight_map.update({name: file for name in names})
    index = {"metadata": {"total_parameters": sum(_volume(s) for _, s in shapes),
                          "total_size": sum(size for _, size in sizes)},
             "weight_map": weight_map}
    # transformers' save_pretrained: json.dumps(index, indent=2, sort_keys=True) + "\n".
    (folder / BIN_INDEX).write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")
    return size_text


def lstm_linear_sizes(gigabytes: float) -> Tuple[int, int]:
    """LSTM layers (input 1024, hidden 2048) and the outputs of a Linear after them (32000, less
    below 1 GB) that make about ``gigabytes`` × 10^9 bytes."""
    hidden, inputs, vocab = 2048, 1024, 64 * max(1, round(500 * min(1.0, gigabytes)))
    first = 4 * 4 * hidden * (inputs + hidden + 2)
    rest = 4 * 4 * hidden * (2 * hidden + 2)
    head = 4 * vocab * (hidden + 1)
    return max(1, 1 + round((gigabytes * 1e9 - first - head) / rest)), vocab


def _dcp_rank(rank: int, folder: str, port: int, layers: int, vocab: int) -> None:
    """One of the two ranks that write the DCP folder (``mp.spawn`` target)."""
    import torch
    import torch.distributed as dist
    import torch.distributed.checkpoint as dcp
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.tensor import Shard, distribute_tensor

    dist.init_process_group("gloo", init_method="tcp://127.0.0.1:%d" % port, rank=rank, world_size=2)
    try:
        torch.manual_seed(0)
        with torch.no_grad():
            model = torch.nn.ModuleDict({"lstm": torch.nn.LSTM(1024, 2048, num_layers=layers),
                                         "fc": torch.nn.Linear(2048, vocab)})
        mesh = init_device_mesh("cpu", (2,))
        state = {name: distribute_tensor(t.detach(), mesh, [Shard(0)]) for name, t in model.state_dict().items()}
        del model
        dcp.save(state, checkpoint_id=folder)
        dist.barrier()
    finally:
        dist.destroy_process_group()


def make_dcp2(folder: Path, gigabytes: float) -> None:
    """Writes the two-rank DCP folder (once: kept when its ``.metadata`` is there)."""
    import torch.multiprocessing as mp
    if (folder / ".metadata").exists():
        return
    folder.mkdir(parents=True, exist_ok=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_dcp_rank, args=(str(folder), port, *lstm_linear_sizes(gigabytes)), nprocs=2, join=True)


def _volume(shape: Tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


# --- the peers (each run as its own process: python -m ptload_tools.bench.sharded --peer ROW IN OUT)

def peer_bin4(src: Path, dst: Path) -> None:
    """safetensors' ``convert.py`` ``convert_multi``/``convert_file``, on a local folder."""
    import torch
    from safetensors.torch import _remove_duplicate_names, save_file

    def rename(name: str) -> str:
        return name.replace(".bin", ".safetensors").replace("pytorch_model", "model")

    data = json.loads((src / BIN_INDEX).read_text())
    dst.mkdir(parents=True, exist_ok=True)
    for file in sorted(set(data["weight_map"].values())):
        loaded = torch.load(src / file, map_location="cpu", weights_only=True)
        metadata = {"format": "pt"}
        for kept, removed in _remove_duplicate_names(loaded).items():
            for name in removed:
                metadata.setdefault(name, kept)
                del loaded[name]
        loaded = {k: v.contiguous() for k, v in loaded.items()}
        save_file(loaded, str(dst / rename(file)), metadata=metadata)
        del loaded
    new = dict(data)
    new["weight_map"] = {k: rename(v) for k, v in data["weight_map"].items()}
    with open(dst / SAFE_INDEX, "w") as f:
        json.dump(new, f, indent=4)


def peer_dcp2(src: Path, dst: Path) -> None:
    """``dcp_to_torch_save`` to a ``.pt`` beside the output, ``torch.load``, ``save_file``."""
    import torch
    from safetensors.torch import save_file
    from torch.distributed.checkpoint.format_utils import dcp_to_torch_save

    dst.mkdir(parents=True, exist_ok=True)
    consolidated = dst / "consolidated.pt"
    dcp_to_torch_save(src, consolidated)
    state = torch.load(consolidated, map_location="cpu", weights_only=True)
    save_file(state, str(dst / "model.safetensors"), metadata={"format": "pt"})
    del state
    consolidated.unlink()


PEERS: Dict[str, Callable[[Path, Path], None]] = {"bin4": peer_bin4, "dcp2": peer_dcp2}


# --- comparing outputs ---------------------------------------------------------------------------

def safetensors_entries(path: Path) -> Iterator[Tuple[str, str, Tuple[int, ...], memoryview]]:
    """(name, dtype, shape, bytes) of every tensor of one ``.safetensors`` file, read from its
    header and a read-only map of the file (no torch, nothing copied)."""
    with open(path, "rb") as f:
        length = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(length))
        data_start = 8 + length
        mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if os.path.getsize(path) > 0 else None
    view = memoryview(mapped) if mapped is not None else memoryview(b"")
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        yield name, entry["dtype"], tuple(entry["shape"]), view[data_start + begin:data_start + end]


def output_tensors(folder: Path) -> Dict[str, Tuple[str, Tuple[int, ...], memoryview]]:
    """Every tensor of every ``.safetensors`` file in an output folder; a name in two files, or an
    index whose ``weight_map`` disagrees with the files, is an error."""
    found: Dict[str, Tuple[str, Tuple[int, ...], memoryview]] = {}
    where: Dict[str, str] = {}
    for path in sorted(folder.glob("*.safetensors")):
        for name, dtype, shape, data in safetensors_entries(path):
            if name in found:
                raise SystemExit("%s: %s is in %s and in %s" % (folder, name, where[name], path.name))
            found[name], where[name] = (dtype, shape, data), path.name
    index = folder / SAFE_INDEX
    if index.exists():
        weight_map = json.loads(index.read_text())["weight_map"]
        if weight_map != where:
            wrong = sorted(set(weight_map.items()) ^ set(where.items()))[:3]
            raise SystemExit("%s: the index's weight_map disagrees with the shards: %s" % (index, wrong))
    return found


def compare_outputs(peer: Path, ours: Path) -> str:
    """Raises ``SystemExit`` unless both folders hold the same tensors, byte for byte; a line saying
    what agrees, and which files are byte-identical."""
    a, b = output_tensors(peer), output_tensors(ours)
    if set(a) != set(b):
        raise SystemExit("tensor names differ: only the peer's %s, only ptload's %s"
                         % (sorted(set(a) - set(b))[:5], sorted(set(b) - set(a))[:5]))
    for name in a:
        if a[name][:2] != b[name][:2]:
            raise SystemExit("%s: the peer wrote %s %s, ptload %s %s" % (name, *a[name][:2], *b[name][:2]))
        if a[name][2] != b[name][2]:
            raise SystemExit("%s: the bytes differ" % name)
    nbytes = sum(len(v[2]) for v in a.values())
    files = sorted(p.name for p in peer.glob("*.safetensors"))
    same = [f for f in files if (ours / f).exists() and _same_file(peer / f, ours / f)]
    return "%d tensors, %d bytes, equal; safetensors files byte-identical: %d of %d" % (
        len(a), nbytes, len(same), len(files))


def _same_file(x: Path, y: Path) -> bool:
    if x.stat().st_size != y.stat().st_size:
        return False
    with open(x, "rb") as f, open(y, "rb") as g:
        while True:
            p, q = f.read(1 << 24), g.read(1 << 24)
            if p != q:
                return False
            if not p:
                return True


# --- timing --------------------------------------------------------------------------------------

def build(products: List[str]) -> None:
    root = str(repo_root())
    for product in products:
        subprocess.run(["swift", "build", "-c", "release", "--product", product], cwd=root, check=True,
                       stdout=sys.stderr)


def measure(peak_rss: str, argv: List[str], report: Path) -> Tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one run of argv, as Tests/PeakRSS measures it."""
    start = time.monotonic()
    run = subprocess.run([peak_rss, "600", str(report)] + argv, capture_output=True, text=True,
                         env=_child_env())
    seconds = time.monotonic() - start
    if run.returncode != 0:
        raise SystemExit("%s failed (exit %d): %s%s" % (" ".join(argv), run.returncode, run.stdout, run.stderr))
    kib, _, timed_out = report.read_text().split()
    report.unlink()
    if timed_out != "0":
        raise SystemExit("%s timed out" % " ".join(argv))
    return seconds, int(kib) / 1024


def _child_env() -> Dict[str, str]:
    """This environment, with this package importable by the peer processes."""
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def model_bytes(row: str, folder: Path) -> int:
    """The tensor bytes of an input: the index's ``total_size``, or the DCP tensors' volume × 4."""
    if row == "bin4":
        return int(json.loads((folder / BIN_INDEX).read_text())["metadata"]["total_size"])
    import torch.distributed.checkpoint as dcp
    metadata = dcp.FileSystemReader(str(folder)).read_metadata()
    return sum(4 * _volume(tuple(v.size)) for v in metadata.state_dict_metadata.values() if hasattr(v, "size"))


def run_row(row: str, a: argparse.Namespace, ptload: Optional[str], peak_rss: str) -> Dict[str, object]:
    work = Path(a.work)
    source = work / ("bin4" if row == "bin4" else "dcp2")
    if row == "bin4":
        shard_size: Optional[str] = make_bin4(source, a.gb)
    else:
        make_dcp2(source, a.gb)
        shard_size = None
    size = model_bytes(row, source)
    outputs = {"peer": work / (row + "-peer"), "ptload": work / (row + "-ptload")}
    ways: Dict[str, List[str]] = {
        "peer": [sys.executable, "-m", "ptload_tools.bench.sharded", "--peer", row, str(source), str(outputs["peer"])]}
    if ptload is not None:
        argv = [ptload, str(source), "--export", str(outputs["ptload"] / "model.safetensors")]
        ways["ptload"] = argv + (["--max-shard-size", shard_size] if shard_size else [])
    times: Dict[str, List[float]] = {k: [] for k in ways}
    rss: Dict[str, List[float]] = {k: [] for k in ways}
    agreement = "not checked (--peer-only)"
    for round_ in range(a.rounds + 1):
        for way, argv in ways.items():
            shutil.rmtree(outputs[way], ignore_errors=True)
            outputs[way].mkdir(parents=True)
            seconds, peak = measure(peak_rss, argv, work / (row + "-" + way + ".rss"))
            if round_ > 0:
                times[way].append(seconds)
                rss[way].append(peak)
        if round_ == 0 and ptload is not None:
            agreement = compare_outputs(outputs["peer"], outputs["ptload"])
            print("%s: %s" % (ROW_NAMES[row], agreement), file=sys.stderr)
    for way in ways:
        shutil.rmtree(outputs[way], ignore_errors=True)
    result: Dict[str, object] = {"row": ROW_NAMES[row], "input": str(source), "model_bytes": size,
                                 "max_shard_size": shard_size, "rounds": a.rounds, "outputs": agreement,
                                 "argv": {k: v for k, v in ways.items()}}
    for way in ways:
        result[way] = {"median_s": statistics.median(times[way]), "seconds": times[way],
                       "median_peak_rss_mb": statistics.median(rss[way]), "peak_rss_mb": rss[way],
                       "peak_rss_percent_of_model": 100 * statistics.median(rss[way]) * 2 ** 20 / size}
    if ptload is not None:
        peer, ours = result["peer"], result["ptload"]
        assert isinstance(peer, dict) and isinstance(ours, dict)
        result["time_ratio_peer_over_ptload"] = peer["median_s"] / ours["median_s"]
        result["rss_ratio_peer_over_ptload"] = peer["median_peak_rss_mb"] / ours["median_peak_rss_mb"]
    return result


def print_table(results: List[Dict[str, object]]) -> None:
    print("| row | model MB | way | median s | peer / ptload time | peak RSS MB | RSS / model | peer / ptload RSS |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        for way in ("peer", "ptload"):
            w = r.get(way)
            if not isinstance(w, dict):
                continue
            ratios = ("%.2f" % r["time_ratio_peer_over_ptload"], "%.2f" % r["rss_ratio_peer_over_ptload"]) \
                if way == "ptload" and "time_ratio_peer_over_ptload" in r else ("", "")
            print("| %s | %.0f | %s | %.2f | %s | %.0f | %.1f%% | %s |" % (
                r["row"], int(r["model_bytes"]) / 1e6, way, w["median_s"], ratios[0], w["median_peak_rss_mb"],
                w["peak_rss_percent_of_model"], ratios[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds after the warm-up one (default 3)")
    parser.add_argument("--gb", type=float, default=1.0, help="model size in 10^9 bytes (default 1.0)")
    parser.add_argument("--work", default=str(repo_root() / ".build" / "bench" / "sharded"),
                        help="where the inputs are built once and the outputs written (default .build/bench/sharded)")
    parser.add_argument("--rows", default=",".join(ROWS), help="comma-separated, of: %s" % ", ".join(ROWS))
    parser.add_argument("--ptload", help="the ptload binary (default: build .build/release/ptload)")
    parser.add_argument("--peak-rss", help="the peak-rss binary (default: build .build/release/peak-rss)")
    parser.add_argument("--peer-only", action="store_true", help="time the Python ways only")
    parser.add_argument("--peer", nargs=3, metavar=("ROW", "IN", "OUT"), help=argparse.SUPPRESS)
    a = parser.parse_args()
    if a.peer:
        PEERS[a.peer[0]](Path(a.peer[1]), Path(a.peer[2]))
        return
    rows = [r.strip() for r in a.rows.split(",") if r.strip()]
    if not rows or any(r not in ROWS for r in rows):
        parser.error("--rows takes a comma-separated list of %s" % ", ".join(ROWS))
    build([p for p, given in (("ptload", a.ptload or a.peer_only), ("peak-rss", a.peak_rss)) if not given])
    release = repo_root() / ".build" / "release"
    ptload = None if a.peer_only else (a.ptload or str(release / "ptload"))
    peak_rss = a.peak_rss or str(release / "peak-rss")
    Path(a.work).mkdir(parents=True, exist_ok=True)
    results = [run_row(row, a, ptload, peak_rss) for row in rows]
    import torch
    print("work folder %s; %d rounds after a warm-up one, medians; torch %s" % (a.work, a.rounds, torch.__version__))
    for r in results:
        print("%s: %s; outputs: %s" % (r["row"], r["input"], r["outputs"]))
    print_table(results)
    (Path(a.work) / "sharded.json").write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
