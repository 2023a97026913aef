#!/usr/bin/env python3
"""Golden-fixture generator for ptload.

Run from the repository root with a Python that has real PyTorch + numpy:

    /tmp/torch-venv/bin/python tools/make_fixtures.py

It deletes and rewrites ``Fixtures/checkpoints/`` entirely.  Every checkpoint
in there is written by real PyTorch (``torch.save`` / ``torch.jit.save``), or
is a byte-level rewrite of such a file (big-endian, deflated, zip64) or a
hand-built file mirroring torch's layout (``rebuild_v1.pt``,
``legacy_storage_view.pt``); every one is loaded back with ``torch.load`` /
``torch.jit.load`` and the ground truth in ``NAME.expected.json`` is taken from
that loaded result.

The Swift tests never run Python: they read the checkpoints and the sidecars.

Sidecar schema (one ``NAME.expected.json`` per fixture file ``NAME.EXT``)::

    file, format ("zip" | "legacy" | "torchscript"), archive (zip folder or null),
    pickle_protocol (PROTO's argument of the main pickle; null when the pickle
        has no PROTO opcode, i.e. protocol 0 and 1 pickles),
    loads, load_error (extra fields: did torch.load(weights_only=False) /
        torch.jit.load read it at all; tensors is [] when it did not),
    loads_with_weights_only, weights_only_error (first line of the exception
        message or null), weights_only_error_detail (the specific reason line
        torch puts after "WeightsUnpickler error:", or null; extra field),
    tensors: [ {key, dtype, shape, stride, storage_offset, storage_key,
                storage_numel, storage_dtype, requires_grad, bytes_hex, values} ],
    modules: {dotted path: {class, config}}   ({} unless a full nn.Module was pickled),
    opaque_classes: [...], globals: [...],
    constants: [...]                           (TorchScript only)

See ``flatten_state`` for the key convention and ``tensor_entry`` for how each
tensor is described.  Notes on conventions:

* ``storage_offset`` is in elements of the tensor dtype, relative to the start
  of the *record* (``data/KEY`` in a zip, the root storage in the legacy format).
  For the (hand-built) legacy storage views, it is therefore the view offset
  plus the tensor's own offset into the view.
* ``storage_numel`` is the element count given in the persistent id
  (``numel`` field).  For ``torch.UntypedStorage`` (``_rebuild_tensor_v3``
  dtypes such as uint16/uint32/uint64/float8/complex32) that count is in
  bytes and ``storage_dtype`` is ``"uint8"``.
* ``bytes_hex`` is the little-endian (host) representation of the tensor as
  loaded, ``t.contiguous()`` in row-major order.  For ``big_endian.pt`` the
  records on disk are big-endian; ``bytes_hex`` still holds the loaded
  little-endian bytes.
* ``values``: floats via float64, "nan" / "inf" / "-inf" strings for
  non-finite values; uint64 as decimal strings; complex as [re, im] pairs;
  null when torch cannot convert the dtype to float64 (float4_e2m1fn_x2).
"""

from __future__ import annotations

import os
import sys

# String hashing decides set/dict-of-names orders inside torch.jit's generated
# code and some pickle memo sharing; pin it so the output is byte-stable.
if __name__ == "__main__" and os.environ.get("PYTHONHASHSEED") != "0":
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable] + sys.argv)

import argparse
import collections
import contextlib
import datetime
import hashlib
import io
import json
import math
import pickle
import pickletools
import platform
import re
import shutil
import struct
import tempfile
import warnings
import zipfile

import numpy as np
import torch
import torch.nn as nn

warnings.filterwarnings("ignore")

SEED = 1234
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(REPO_ROOT, "Fixtures", "checkpoints")
ALIGN = 64  # torch.save aligns every zip record's payload to 64 bytes

# Filled while generating; written into manifest.json.
NOTES: list[str] = []
FIXTURES: list[dict] = []


def seed(offset: int = 0) -> None:
    torch.manual_seed(SEED + offset)
    np.random.seed(SEED + offset)


# ---------------------------------------------------------------------------
# Pickle inspection (pickletools)
# ---------------------------------------------------------------------------

_STRING_OPS = {
    "SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE",
    "STRING", "BINSTRING", "SHORT_BINSTRING",
}


def analyze_pickle(data: bytes) -> tuple[int | None, list[str]]:
    """Return (protocol, sorted globals) of one pickle using pickletools.genops.

    protocol is PROTO's argument (None if the pickle has no PROTO opcode).
    Globals come from GLOBAL / INST (argument "module name") and from
    STACK_GLOBAL, whose two string operands are tracked through the memo
    (protocol 4+ memoizes "torch" once and BINGETs it later).
    """
    protocol = None
    found: set[str] = set()
    memo: dict[int, object] = {}
    recent: list[object] = []  # values pushed, strings or None for "something else"
    for op, arg, _pos in pickletools.genops(data):
        name = op.name
        if name == "PROTO":
            if protocol is None:
                protocol = arg
        elif name in ("FRAME", "STOP"):
            pass
        elif name in ("GLOBAL", "INST"):
            mod, qual = arg.split(" ", 1)
            found.add(f"{mod}.{qual}")
            recent.append(None)
        elif name == "STACK_GLOBAL":
            mod, qual = recent[-2], recent[-1]
            if not isinstance(mod, str) or not isinstance(qual, str):
                raise RuntimeError("could not resolve STACK_GLOBAL operands")
            found.add(f"{mod}.{qual}")
            recent[-2:] = [None]
        elif name in _STRING_OPS:
            recent.append(arg.decode("latin1") if isinstance(arg, bytes) else arg)
        elif name == "MEMOIZE":
            memo[len(memo)] = recent[-1] if recent else None
        elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
            memo[arg] = recent[-1] if recent else None
        elif name in ("GET", "BINGET", "LONG_BINGET"):
            recent.append(memo.get(arg))
        else:
            recent.append(None)
    return protocol, sorted(found)


def opaque_classes(globals_: list[str]) -> list[str]:
    """Non-torch, non-builtin globals a reader has to treat as opaque objects.

    Excluded: module ``torch`` and ``torch.*``; ``collections.OrderedDict``;
    ``builtins.*`` / ``__builtin__.*``; the pickle helpers ``_codecs.encode``
    and ``copyreg._reconstructor``.  Everything else is kept, including
    ``__main__.*``, ``argparse.Namespace``, numpy's scalar/dtype helpers and
    TorchScript's ``__torch__.*`` classes.
    """
    out = []
    for g in globals_:
        mod = g.rsplit(".", 1)[0]
        if mod == "torch" or g.startswith("torch."):
            continue
        if g == "collections.OrderedDict":
            continue
        if g.startswith("builtins.") or g.startswith("__builtin__."):
            continue
        if g in ("_codecs.encode", "copyreg._reconstructor"):
            continue
        out.append(g)
    return sorted(out)


def split_legacy(raw: bytes) -> dict:
    """Split a legacy (non-zip) torch.save stream.

    Layout: pickle(MAGIC_NUMBER), pickle(PROTOCOL_VERSION), pickle(sys_info),
    main pickle, pickle(sorted storage keys), then per key: int64 LE element
    count followed by the raw bytes.
    """
    f = io.BytesIO(raw)
    spans = []
    for _ in range(5):
        start = f.tell()
        for _op in pickletools.genops(f):
            pass
        spans.append((start, f.tell()))
    return {"spans": spans, "storage_data_offset": f.tell()}


# ---------------------------------------------------------------------------
# Loading with storage bookkeeping
# ---------------------------------------------------------------------------

def dtype_name(dt: torch.dtype) -> str:
    return str(dt).replace("torch.", "")


def _storage_type_dtype(stype) -> torch.dtype:
    if stype is torch.UntypedStorage or getattr(stype, "__name__", "") == "UntypedStorage":
        return torch.uint8
    return stype.dtype


class StorageRecorder:
    """Maps a loaded StorageImpl (``_cdata``) to where it came from."""

    def __init__(self):
        self.by_cdata: dict[int, dict] = {}
        self.persistent_ids: list[tuple] = []
        self.executed_globals: set[str] = set()

    def on_storage(self, pid, res):
        self.persistent_ids.append(pid)
        if not isinstance(pid, tuple) or pid[0] != "storage":
            return
        stype, key, _loc, numel = pid[1], pid[2], pid[3], pid[4]
        view = pid[5] if len(pid) > 5 else None
        self.by_cdata[res._untyped_storage._cdata] = {
            "key": str(key),
            "numel": int(numel),
            "dtype": _storage_type_dtype(stype),
            # element offset of a legacy view inside its root storage
            "view_offset": int(view[1]) if view is not None else 0,
        }

    def lookup(self, t: torch.Tensor) -> dict:
        return self.by_cdata[t.untyped_storage()._cdata]


def recording_pickle_module(rec: StorageRecorder):
    """A pickle module for torch.load(pickle_module=...) that records every
    persistent id / resolved storage and every global actually resolved."""

    class RecordingUnpickler(pickle._Unpickler):  # pure-python: persistent_load looked up per call
        def __setattr__(self, name, value):
            if name == "persistent_load" and callable(value):
                inner = value

                def wrapped(pid):
                    res = inner(pid)
                    rec.on_storage(pid, res)
                    return res

                value = wrapped
            object.__setattr__(self, name, value)

        def find_class(self, module, name):
            rec.executed_globals.add(f"{module}.{name}")
            return super().find_class(module, name)

    mod = type(sys)("ptload_recording_pickle")
    mod.Unpickler = RecordingUnpickler
    mod.Pickler = pickle.Pickler
    mod.load = pickle.load
    mod.loads = pickle.loads
    mod.dump = pickle.dump
    mod.dumps = pickle.dumps
    return mod


class _JitObject:
    """Stand-in for a TorchScript ``__torch__.*`` object: keeps BUILD's state."""

    qualname = "?"

    def __setstate__(self, state):
        self.__dict__["state"] = state


class ZipRecordUnpickler(pickle._Unpickler):
    """Unpickles a TorchScript pickle (data.pkl / constants.pkl) in Python,
    resolving storages from ``ARCHIVE/<storage_dir>/KEY`` records."""

    def __init__(self, data: bytes, zf: zipfile.ZipFile, archive: str,
                 storage_dir: str, rec: StorageRecorder):
        super().__init__(io.BytesIO(data), encoding="utf-8")
        self.zf, self.archive, self.storage_dir, self.rec = zf, archive, storage_dir, rec
        self.cache: dict[str, object] = {}
        self.classes: dict[str, type] = {}

    def find_class(self, module, name):
        self.rec.executed_globals.add(f"{module}.{name}")
        if module.startswith("__torch__"):
            q = f"{module}.{name}"
            if q not in self.classes:
                self.classes[q] = type(name, (_JitObject,), {"qualname": q})
            return self.classes[q]
        if "Storage" in name and module == "torch":
            return torch.serialization.StorageType(name)
        return super().find_class(module, name)

    def persistent_load(self, pid):
        assert pid[0] == "storage", pid
        stype, key, _loc, numel = pid[1], str(pid[2]), pid[3], pid[4]
        dt = _storage_type_dtype(stype)
        if key not in self.cache:
            raw = self.zf.read(f"{self.archive}/{self.storage_dir}/{key}")
            us = torch.UntypedStorage.from_buffer(raw, dtype=torch.uint8) if raw else torch.UntypedStorage(0)
            self.cache[key] = torch.storage.TypedStorage(wrap_storage=us, dtype=dt, _internal=True)
        res = self.cache[key]
        self.rec.on_storage(pid, res)
        return res


# ---------------------------------------------------------------------------
# The flattening convention (mirror this in Swift)
# ---------------------------------------------------------------------------

def _join(prefix: str, key) -> str:
    """Dotted key join; non-str dict keys (ints of optimizer state) as str()."""
    k = key if isinstance(key, str) else str(key)
    return f"{prefix}.{k}" if prefix else k


def flatten_state(obj, prefix: str = "") -> list[tuple[str, torch.Tensor]]:
    """Flatten a torch.load result to (dotted key, tensor) pairs, in order.

    * Tensor (also Parameter / tensor subclass): one entry under ``prefix``.
    * nn.Module (full pickled module, or a TorchScript module): the keys of
      ``module.state_dict()`` (parameters then persistent buffers of each
      module, module by module in registration order), prefixed.
    * dict / OrderedDict: each value in insertion order under ``prefix.key``;
      int keys (optimizer ``state``) become decimal strings.
    * list / tuple: each element under ``prefix.INDEX``.
    * anything else (numbers, strings, numpy scalars, Namespace, ...) holds no
      tensors for this convention and is skipped.
    """
    out: list[tuple[str, torch.Tensor]] = []
    if isinstance(obj, torch.Tensor):
        out.append((prefix, obj))
    elif isinstance(obj, nn.Module):
        for k, v in obj.state_dict(keep_vars=True).items():
            out.append((_join(prefix, k), v))
    elif isinstance(obj, dict):
        for k, v in obj.items():
            out.extend(flatten_state(v, _join(prefix, k)))
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            out.extend(flatten_state(v, _join(prefix, i)))
    return out


def collect_modules(obj, prefix: str = "") -> dict:
    """Dotted module path -> {class, config} for every nn.Module pickled whole."""
    out: dict = {}
    if isinstance(obj, nn.Module):
        for name, m in obj.named_modules():
            path = _join(prefix, name) if name else prefix
            cls = type(m)
            config = {}
            for k, v in vars(m).items():
                if k.startswith("_") or k == "training":
                    continue
                if v is None or isinstance(v, (bool, int, float, str)):
                    config[k] = v
            out[path] = {"class": f"{cls.__module__}.{cls.__qualname__}", "config": config}
    elif isinstance(obj, dict):
        for k, v in obj.items():
            out.update(collect_modules(v, _join(prefix, k)))
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            out.update(collect_modules(v, _join(prefix, i)))
    return out


# ---------------------------------------------------------------------------
# Tensor description
# ---------------------------------------------------------------------------

def _fnum(x: float):
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def plain(t: torch.Tensor) -> torch.Tensor:
    return t.detach().as_subclass(torch.Tensor)


def tensor_bytes(t: torch.Tensor) -> bytes:
    t = plain(t)
    if t.numel() == 0:
        return b""
    return t.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()


def tensor_values(t: torch.Tensor):
    t = plain(t)
    dt = t.dtype
    flat = t.reshape(-1)
    if dt == torch.bool:
        return [bool(v) for v in flat.tolist()]
    if dt.is_complex:
        pairs = torch.view_as_real(flat.to(torch.complex128)).tolist()
        return [[_fnum(re), _fnum(im)] for re, im in pairs]
    if dt.is_floating_point:
        try:
            return [_fnum(v) for v in flat.double().tolist()]
        except Exception:  # float4_e2m1fn_x2 and friends
            return None
    if dt == torch.uint64:
        return [str(v) for v in flat.tolist()]
    try:
        return [int(v) for v in flat.tolist()]
    except Exception:
        return None


def tensor_entry(key: str, t: torch.Tensor, info: dict, requires_grad: bool | None = None) -> dict:
    base = info.get("view_offset", 0)
    # a legacy view's StorageImpl starts inside its root: add the view offset
    return {
        "key": key,
        "dtype": dtype_name(t.dtype),
        "shape": list(t.shape),
        "stride": list(t.stride()),
        "storage_offset": base + t.storage_offset(),
        "storage_key": info["key"],
        "storage_numel": info["numel"],
        "storage_dtype": dtype_name(info["dtype"]),
        "requires_grad": bool(t.requires_grad if requires_grad is None else requires_grad),
        "bytes_hex": tensor_bytes(t).hex(),
        "values": tensor_values(t),
    }


def same_tensor(a: torch.Tensor, b: torch.Tensor) -> bool:
    a, b = plain(a), plain(b)
    return (a.dtype == b.dtype and a.shape == b.shape and a.stride() == b.stride()
            and tensor_bytes(a) == tensor_bytes(b))


# ---------------------------------------------------------------------------
# Sidecar builders
# ---------------------------------------------------------------------------

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _first_line(e: BaseException) -> tuple[str, str | None]:
    """(first line of the exception message, the reason after 'WeightsUnpickler error:').
    ANSI colour codes torch puts in some messages are removed."""
    msg = _ANSI.sub("", str(e))
    lines = [ln.rstrip() for ln in msg.splitlines()]
    first = lines[0] if lines else type(e).__name__
    detail = None
    for i, ln in enumerate(lines):
        if "WeightsUnpickler error:" in ln:
            rest = ln.split("WeightsUnpickler error:", 1)[1].strip()
            if rest:
                detail = rest
            else:
                for nxt in lines[i + 1:]:
                    if nxt.strip():
                        detail = nxt.strip()
                        break
            break
    return first, detail


def try_weights_only(path: str):
    try:
        res = torch.load(path, weights_only=True)
        return True, None, None, res
    except Exception as e:  # noqa: BLE001
        first, detail = _first_line(e)
        return False, first, detail, None


def describe_torch_load(path: str, fmt: str) -> dict:
    """Sidecar for a file torch.load reads (zip or legacy)."""
    raw = open(path, "rb").read()
    if fmt == "zip":
        zf = zipfile.ZipFile(path)
        archive = zf.namelist()[0].split("/")[0]
        main = zf.read(f"{archive}/data.pkl")
    else:
        archive = None
        spans = split_legacy(raw)["spans"]
        main = raw[spans[3][0]:spans[3][1]]
    protocol, globals_ = analyze_pickle(main)

    wo_ok, wo_err, wo_detail, wo_res = try_weights_only(path)

    head = {
        "file": os.path.basename(path),
        "format": fmt,
        "archive": archive,
        "pickle_protocol": protocol,
        "loads": True,
        "load_error": None,
        "loads_with_weights_only": wo_ok,
        "weights_only_error": wo_err,
        "weights_only_error_detail": wo_detail,
    }
    tail = {"opaque_classes": opaque_classes(globals_), "globals": globals_}

    rec = StorageRecorder()
    try:
        torch.load(path, weights_only=False)
    except Exception as e:  # noqa: BLE001  (e.g. protocol-0 data.pkl: PERSID ids are str)
        head["loads"] = False
        head["load_error"] = _first_line(e)[0]
        return {**head, "tensors": [], "modules": {}, **tail}, rec
    obj = torch.load(path, weights_only=False, pickle_module=recording_pickle_module(rec))
    # The same result without the recording shim (C unpickler) must agree.
    obj_plain = torch.load(path, weights_only=False)
    flat = flatten_state(obj)
    flat_plain = flatten_state(obj_plain)
    assert [k for k, _ in flat] == [k for k, _ in flat_plain], path
    for (k, a), (_, b) in zip(flat, flat_plain):
        assert same_tensor(a, b), (path, k)
    if wo_ok:
        flat_wo = flatten_state(wo_res)
        assert [k for k, _ in flat] == [k for k, _ in flat_wo], path
        for (k, a), (_, b) in zip(flat, flat_wo):
            assert same_tensor(a, b), (path, k)
    # every global the unpickler resolved must be in the pickletools list
    # (torch resolves *Storage names itself, so those never reach find_class)
    missing = rec.executed_globals - set(globals_)
    assert not missing, (path, missing)

    return {
        **head,
        "tensors": [tensor_entry(k, t, rec.lookup(t)) for k, t in flat],
        "modules": collect_modules(obj),
        **tail,
    }, rec


def _navigate(tree, dotted: str):
    node = tree
    for part in dotted.split("."):
        node = node.state[part] if isinstance(node, _JitObject) else node[part]
    return node


def describe_torchscript(path: str) -> dict:
    zf = zipfile.ZipFile(path)
    archive = zf.namelist()[0].split("/")[0]
    data_pkl = zf.read(f"{archive}/data.pkl")
    protocol, globals_ = analyze_pickle(data_pkl)
    wo_ok, wo_err, wo_detail, _ = try_weights_only(path)

    m = torch.jit.load(path)
    sd = m.state_dict(keep_vars=True)

    rec = StorageRecorder()
    tree = ZipRecordUnpickler(data_pkl, zf, archive, "data", rec).load()
    tensors = []
    for key, t in sd.items():
        py_t = _navigate(tree, key)
        assert same_tensor(py_t, t), (path, key)
        assert py_t.requires_grad == t.requires_grad, (path, key)
        info = rec.lookup(py_t)
        tensors.append(tensor_entry(key, t, info))
    missing = rec.executed_globals - set(globals_)
    assert not missing, (path, missing)

    constants = []
    cname = f"{archive}/constants.pkl"
    if cname in zf.namelist():
        crec = StorageRecorder()
        consts = ZipRecordUnpickler(zf.read(cname), zf, archive, "constants", crec).load()
        for i, c in enumerate(consts):
            if isinstance(c, torch.Tensor):
                e = tensor_entry(str(i), c, crec.lookup(c))
                e = {"index": i, **{k: v for k, v in e.items() if k != "key"}}
                constants.append(e)
    return {
        "file": os.path.basename(path),
        "format": "torchscript",
        "archive": archive,
        "pickle_protocol": protocol,
        "loads": True,
        "load_error": None,
        "loads_with_weights_only": wo_ok,
        "weights_only_error": wo_err,
        "weights_only_error_detail": wo_detail,
        "tensors": tensors,
        "modules": {},
        "opaque_classes": opaque_classes(globals_),
        "globals": globals_,
        "constants": constants,
    }, tree, m


def write_sidecar(name: str, sidecar: dict, out_dir: str = None) -> None:
    out_dir = out_dir or OUT_DIR
    stem = name.rsplit(".", 1)[0]
    with open(os.path.join(out_dir, f"{stem}.expected.json"), "w") as fh:
        json.dump(sidecar, fh, indent=1, allow_nan=False)
        fh.write("\n")


def register(name: str, fmt: str, what: str, sidecar: dict) -> None:
    write_sidecar(name, sidecar)
    FIXTURES.append({"name": name, "format": fmt, "what": what, "loads": sidecar["loads"],
                     "loads_with_weights_only": sidecar["loads_with_weights_only"]})


# ---------------------------------------------------------------------------
# Zip helpers
# ---------------------------------------------------------------------------

def record_names(path: str) -> list[str]:
    return zipfile.ZipFile(path).namelist()


@contextlib.contextmanager
def _all_zip64():
    """Make python's zipfile write zip64 everywhere it can: central-directory
    zip64 extras (sizes for non-empty entries, offsets for entries past 0) and
    the zip64 end-of-central-directory record + locator."""
    saved = (zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT)
    zipfile.ZIP64_LIMIT = 0
    zipfile.ZIP_FILECOUNT_LIMIT = 0
    try:
        yield
    finally:
        zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT = saved


def write_zip(dst: str, entries: list[tuple[str, bytes]], *, compress=zipfile.ZIP_STORED,
              zip64: bool = False, align: int = ALIGN) -> None:
    """Write entries with python's zipfile; STORED payloads are aligned to
    ``align`` bytes with a torch/miniz-style 'FB' padding extra field."""
    ctx = _all_zip64() if zip64 else contextlib.nullcontext()
    with open(dst, "wb") as fh, ctx:
        with zipfile.ZipFile(fh, "w", allowZip64=True) as zout:
            for name, data in entries:
                zi = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
                zi.compress_type = compress
                zi.file_size = len(data)
                if compress == zipfile.ZIP_STORED and align:
                    off = zout.fp.tell()
                    hdr = 30 + len(name.encode("utf-8")) + (20 if zip64 else 0)
                    pad = (-(off + hdr)) % align
                    if 0 < pad < 4:
                        pad += align
                    if pad:
                        zi.extra = struct.pack("<HH", 0x4246, pad - 4) + b"Z" * (pad - 4)
                with zout.open(zi, "w", force_zip64=zip64) as w:
                    w.write(data)
    check = zipfile.ZipFile(dst)
    assert check.testzip() is None, dst
    if compress == zipfile.ZIP_STORED and align:
        raw = open(dst, "rb").read()
        for info in check.infolist():
            assert payload_offset(raw, info) % align == 0, (dst, info.filename)


def payload_offset(raw: bytes, info: zipfile.ZipInfo) -> int:
    o = info.header_offset
    nl, el = struct.unpack("<HH", raw[o + 26:o + 30])
    return o + 30 + nl + el


def zip_entries(path: str) -> list[tuple[str, bytes]]:
    zf = zipfile.ZipFile(path)
    return [(n, zf.read(n)) for n in zf.namelist()]


def save_named(obj, name: str, **kw) -> bytes:
    """torch.save into a temp file called NAME so the archive folder is its stem."""
    with tempfile.TemporaryDirectory() as td:
        p = os.path.join(td, name)
        torch.save(obj, p, **kw)
        return open(p, "rb").read()


# ---------------------------------------------------------------------------
# Models and objects
# ---------------------------------------------------------------------------

class TinyLM(nn.Module):
    """embedding -> lstm -> fc, for the training checkpoint."""

    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(10, 4)
        self.lstm = nn.LSTM(4, 3, batch_first=True)
        self.fc = nn.Linear(3, 2)

    def forward(self, x):
        y, _ = self.lstm(self.embedding(x))
        return self.fc(y)


class Net(nn.Module):
    """Pickled whole as __main__.Net in full_net.pt."""

    def __init__(self):
        super().__init__()
        self.vocab = 10
        self.tag = "net-v1"
        self.dropout_p = 0.5
        self.extra = None
        self.emb = nn.Embedding(10, 4)
        self.rnn = nn.GRU(4, 3, batch_first=True)
        self.fc = nn.Linear(3, 2)
        self.register_buffer("scale", torch.tensor([0.5, 2.0]))
        self.heads = nn.ModuleDict({"aux": nn.Sequential(nn.RNN(4, 3, nonlinearity="relu"))})

    def forward(self, x):
        y, _ = self.rnn(self.emb(x))
        return self.fc(y) * self.scale


class MyTensor(torch.Tensor):
    """A tensor subclass: pickled via torch._tensor._rebuild_from_type_v2."""


class _StorageRef:
    def __init__(self, key: str, stype, numel: int, view=None):
        self.key, self.stype, self.numel, self.view = key, stype, numel, view


class _V1Tensor:
    """Pickles as torch._utils._rebuild_tensor(storage, offset, size, stride)."""

    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, tuple(size), tuple(stride))

    def __reduce__(self):
        return (torch._utils._rebuild_tensor, self.args)


class _V2Tensor:
    """Pickles as torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())."""

    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, tuple(size), tuple(stride), False, collections.OrderedDict())

    def __reduce__(self):
        return (torch._utils._rebuild_tensor_v2, self.args)


class _ZipPickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, _StorageRef):
            return ("storage", obj.stype, obj.key, "cpu", obj.numel)
        return None


class _LegacyPickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, _StorageRef):
            return ("storage", obj.stype, obj.key, "cpu", obj.numel, obj.view)
        return None


def lstm_state_dict():
    seed(1)
    return nn.LSTM(4, 3, num_layers=2, bidirectional=True).state_dict()


def proto_state():
    seed(2)
    return {
        "weight": torch.randn(2, 3),
        "meta": {"name": "proto", "n": 3, "ratio": 0.5, "flags": [True, False],
                 "inner": {"bias": torch.arange(3, dtype=torch.int64)}},
        "step": 5,
    }


INF, NAN = float("inf"), float("nan")


def dtype_tensors(which=None) -> dict:
    f32max = torch.finfo(torch.float32).max
    d = collections.OrderedDict()
    d["float32"] = torch.tensor([0.0, -0.0, 1.0, -2.5, INF, -INF, NAN, 2.0 ** -149, f32max,
                                 2.0 ** -126, 3.14159265, -1e-20], dtype=torch.float32).reshape(2, 6)
    d["float64"] = torch.tensor([0.0, -0.0, 1.0, -2.5, INF, -INF, NAN, 5e-324, 1.7976931348623157e308,
                                 2.2250738585072014e-308, math.pi, 0.1], dtype=torch.float64)
    d["float16"] = torch.tensor([0.0, -0.0, 1.0, -2.5, INF, -INF, NAN, 2.0 ** -24, 65504.0,
                                 2.0 ** -14, 0.1, -65504.0], dtype=torch.float16).reshape(3, 4)
    bmax = torch.finfo(torch.bfloat16).max
    d["bfloat16"] = torch.tensor([0.0, -0.0, 1.0, -2.5, INF, -INF, NAN, 2.0 ** -133, bmax,
                                  2.0 ** -126, 0.1, -bmax], dtype=torch.bfloat16)
    d["int8"] = torch.tensor([-128, -1, 0, 1, 127], dtype=torch.int8)
    d["int16"] = torch.tensor([-32768, -1, 0, 1, 256, 32767], dtype=torch.int16)
    d["int32"] = torch.tensor([-2 ** 31, -1, 0, 1, 65536, 2 ** 31 - 1], dtype=torch.int32)
    d["int64"] = torch.tensor([-2 ** 63, -1, 0, 1, 2 ** 32, 2 ** 63 - 1], dtype=torch.int64).reshape(2, 3)
    d["uint8"] = torch.tensor([0, 1, 127, 128, 200, 254, 255, 7], dtype=torch.uint8).reshape(2, 4)
    d["bool"] = torch.tensor([True, False, True, True, False, False]).reshape(2, 3)
    d["complex64"] = torch.tensor([1 + 2j, -1.5 - 0.25j, complex(-0.0, 0.0), complex(INF, -INF),
                                   complex(NAN, 1.0), complex(f32max, 2.0 ** -149)],
                                  dtype=torch.complex64).reshape(2, 3)
    d["complex128"] = torch.tensor([1 + 2j, -1.5 - 0.25j, complex(-0.0, 0.0), complex(INF, NAN),
                                    complex(5e-324, -1.7976931348623157e308)], dtype=torch.complex128)
    d["uint16"] = torch.tensor([0, 1, 256, 32768, 65535], dtype=torch.uint16)
    d["uint32"] = torch.tensor([0, 1, 65536, 2 ** 31, 2 ** 32 - 1], dtype=torch.uint32)
    d["uint64"] = torch.tensor([0, 1, 2 ** 32, 2 ** 63, 2 ** 64 - 1], dtype=torch.uint64)
    # float8: every one of the 256 bit patterns, as a 16x16 table
    for name in ("float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz"):
        if hasattr(torch, name):
            d[name] = torch.arange(256, dtype=torch.int32).to(torch.uint8).view(getattr(torch, name)).reshape(16, 16)
    if which is not None:
        d = collections.OrderedDict((k, v) for k, v in d.items() if k in which)
    return d


def exotic_dtype_tensors() -> dict:
    d = collections.OrderedDict()
    if hasattr(torch, "complex32"):
        d["complex32"] = torch.tensor([1 + 2j, -0.5 - 0j, complex(INF, 0.0), complex(65504.0, 2.0 ** -24)],
                                      dtype=torch.complex64).to(torch.complex32)
    if hasattr(torch, "float8_e8m0fnu"):
        d["float8_e8m0fnu"] = torch.arange(256, dtype=torch.int32).to(torch.uint8).view(torch.float8_e8m0fnu).reshape(16, 16)
    if hasattr(torch, "float4_e2m1fn_x2"):
        d["float4_e2m1fn_x2"] = torch.tensor([0x00, 0x12, 0x7F, 0x80, 0xAB, 0xFF], dtype=torch.uint8).view(torch.float4_e2m1fn_x2)
    return d


def layouts_dict() -> dict:
    seed(3)
    base = torch.arange(24, dtype=torch.float32)
    grid = base.view(4, 6)
    ints = torch.arange(10, dtype=torch.int64) * 3 - 7
    d = collections.OrderedDict()
    d["base"] = base                        # the shared storage, 24 floats
    d["offset_slice"] = base[3:9]           # storage_offset 3
    d["strided"] = base[::2]                # stride 2
    d["grid"] = grid                        # 4x6 view of base
    d["transposed"] = grid.t()              # 6x4, stride (1, 6)
    d["column"] = grid[:, 2]                # offset 2, stride 6
    d["block"] = grid[1:3, 2:5]             # offset 8, stride (6, 1), non-contiguous
    d["reshaped_4d"] = base.view(2, 3, 2, 2)
    d["expanded"] = torch.tensor([1.0, 2.0, 3.0, 4.0]).expand(3, 4)  # stride (0, 1)
    d["empty"] = torch.zeros(0, 5)
    d["scalar"] = torch.tensor(3.5)
    d["four_d"] = torch.randn(2, 1, 3, 2)
    d["ints"] = ints
    d["ints_tail"] = ints[7:]
    d["permuted_4d"] = torch.randn(2, 3, 4, 2).permute(3, 1, 0, 2)
    return d


def flat_lstm_state_dict():
    seed(4)
    lstm = nn.LSTM(4, 3, 2)
    params = list(lstm.parameters())
    total = sum(p.numel() for p in params)
    flat = torch.empty(total)
    with torch.no_grad():
        a = 0
        for p in params:
            b = a + p.numel()
            flat[a:b].copy_(p.detach().reshape(-1))
            p.data = flat[a:b].view_as(p)
            a = b
    sd = lstm.state_dict()
    ptrs = {t.untyped_storage().data_ptr() for t in sd.values()}
    assert len(ptrs) == 1, "flat_lstm: parameters do not share one storage"
    return sd


# ---------------------------------------------------------------------------
# Fixture writers
# ---------------------------------------------------------------------------

def out(name: str) -> str:
    return os.path.join(OUT_DIR, name)


def zip_fixture(name: str, obj, what: str, **save_kw):
    torch.save(obj, out(name), **save_kw)
    side, rec = describe_torch_load(out(name), "zip")
    register(name, "zip", what, side)
    return side, rec


def make_zip_fixtures():
    zip_fixture("lstm_sd.pt", lstm_state_dict(),
                "state dict of nn.LSTM(4, 3, num_layers=2, bidirectional=True) (torch.save default zip)")

    seed(5)
    buf = io.BytesIO()
    torch.save(nn.Linear(3, 2).state_dict(), buf)
    with open(out("buffer_archive.pt"), "wb") as fh:
        fh.write(buf.getvalue())
    side, _ = describe_torch_load(out("buffer_archive.pt"), "zip")
    assert side["archive"] == "archive"
    register("buffer_archive.pt", "zip", "torch.save to io.BytesIO: zip folder is 'archive'", side)

    for proto in range(0, 6):
        name = f"proto{proto}.pt"
        what = f"nested str-keyed dict saved with pickle_protocol={proto}"
        if proto == 0:
            what += (" (torch.save writes it, but PERSID ids are the str() of the tuple, so torch.load "
                     "cannot read it back: loads=false; a reader should reject it cleanly)")
        try:
            side, _ = zip_fixture(name, proto_state(), what, pickle_protocol=proto)
            if not side["loads"]:
                NOTES.append(f"{name}: torch.save(pickle_protocol={proto}) writes a file torch.load "
                             f"cannot read ({side['load_error']}); kept with loads=false, tensors=[]")
        except Exception as e:  # noqa: BLE001
            NOTES.append(f"{name}: torch.save(pickle_protocol={proto}) failed: {e!r}; skipped")

    zip_fixture("dtypes.pt", dtype_tensors(),
                "one tensor per dtype incl. uint16/32/64 + float8 (_rebuild_tensor_v3, UntypedStorage) with "
                "-0.0, nan, inf, subnormals, extremes; float8 = all 256 bit patterns")
    ex = exotic_dtype_tensors()
    if ex:
        zip_fixture("dtypes_exotic.pt", ex,
                    "optional exotic dtypes: " + ", ".join(ex) + " (float4 values are null)")

    zip_fixture("layouts.pt", layouts_dict(),
                "storage offsets, shared storage views, transposed/permuted non-contiguous, stride-0 expand, "
                "zero-size [0,5], 0-d scalar, 4-d, ::2 slice")
    zip_fixture("flat_lstm.pt", flat_lstm_state_dict(),
                "nn.LSTM(4, 3, 2) with every parameter a view into ONE flat storage (cuDNN-style)")

    make_big_endian()
    make_deflated()
    make_zip64()
    make_train_ckpt()
    make_full_modules()
    make_param_state()
    make_rebuild_v1()


def _byteswap_record(data: bytes, dtype: torch.dtype) -> bytes:
    es = torch._utils._element_size(dtype)
    if dtype.is_complex:
        es //= 2
    if es == 1 or not data:
        return data
    return np.frombuffer(data, dtype=np.dtype(f"<u{es}")).byteswap().tobytes()


def make_big_endian():
    name = "big_endian.pt"
    seed(6)
    content = dtype_tensors(which={"float32", "float64", "int64", "float16", "complex64", "bool",
                                   "int16", "bfloat16", "complex128", "int32"})
    content["randn"] = torch.randn(3, 4)
    raw = save_named(content, name)
    src = out("_tmp_" + name)
    with open(src, "wb") as fh:
        fh.write(raw)
    rec = StorageRecorder()
    torch.load(src, weights_only=False, pickle_module=recording_pickle_module(rec))
    key_dtype = {info["key"]: info["dtype"] for info in rec.by_cdata.values()}
    entries = []
    for rname, data in zip_entries(src):
        rel = rname.split("/", 1)[1]
        if rel.startswith("data/"):
            data = _byteswap_record(data, key_dtype[rel[len("data/"):]])
        elif rel == "byteorder":
            assert data == b"little"
            data = b"big"
        entries.append((rname, data))
    os.remove(src)
    write_zip(out(name), entries)
    loaded = torch.load(out(name), weights_only=False)
    for k, v in content.items():
        assert same_tensor(loaded[k], v), f"big_endian: {k} differs after byte swap"
    side, _ = describe_torch_load(out(name), "zip")
    register(name, "zip", "records byte-swapped to big-endian (complex: each half), byteorder='big'; "
                          "re-zipped by python zipfile, stored, 64-byte aligned", side)


def make_deflated():
    name = "deflated.pt"
    seed(7)
    sd = nn.Linear(4, 3).state_dict()
    raw = save_named(sd, name)
    tmp = out("_tmp_" + name)
    with open(tmp, "wb") as fh:
        fh.write(raw)
    entries = zip_entries(tmp)
    os.remove(tmp)
    write_zip(out(name), entries, compress=zipfile.ZIP_DEFLATED)
    loaded = torch.load(out(name), weights_only=False)
    for k, v in sd.items():
        assert same_tensor(loaded[k], v)
    side, _ = describe_torch_load(out(name), "zip")
    register(name, "zip", "state dict re-zipped with every entry ZIP_DEFLATED", side)


def make_zip64():
    name = "zip64.pt"
    seed(8)
    sd = nn.Conv1d(2, 3, 2).state_dict()
    raw = save_named(sd, name)
    tmp = out("_tmp_" + name)
    with open(tmp, "wb") as fh:
        fh.write(raw)
    entries = zip_entries(tmp)
    os.remove(tmp)
    write_zip(out(name), entries, zip64=True)
    try:
        loaded = torch.load(out(name), weights_only=False)
        for k, v in sd.items():
            assert same_tensor(loaded[k], v)
        side, _ = describe_torch_load(out(name), "zip")
    except Exception as e:  # noqa: BLE001
        NOTES.append(f"{name}: torch.load refused the zip64 rewrite: {e!r}")
        first, detail = _first_line(e)
        side = {"file": name, "format": "zip", "archive": "zip64", "pickle_protocol": 2,
                "loads": False, "load_error": first,
                "loads_with_weights_only": False, "weights_only_error": first,
                "weights_only_error_detail": detail, "tensors": [], "modules": {},
                "opaque_classes": [], "globals": []}
    register(name, "zip", "state dict re-zipped with zip64 local extras on every entry, zip64 central "
                          "extras and zip64 end-of-central-directory record", side)


def make_train_ckpt():
    name = "train_ckpt.pt"
    seed(9)
    model = TinyLM()
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    x = torch.randint(0, 10, (2, 5))
    loss = model(x).pow(2).mean()
    loss.backward()
    opt.step()
    ckpt = {
        "epoch": 7,
        "model_state_dict": model.state_dict(),
        "optimizer_state_dict": opt.state_dict(),
        "loss": 0.25,
        "best_acc": np.float64(0.9),
        "steps": np.int64(100),
        "args": argparse.Namespace(lr=0.01, hidden=3),
        "history": [1.0, 0.5],
        "name": "run-1",
    }
    zip_fixture(name, ckpt, "training checkpoint: model + Adam state (int keys, tensor 'step'), "
                            "numpy scalars, argparse.Namespace, list, str")


_PINNED_NAMES: list[str] = []


def _pin_parameter_names(*modules: nn.Module) -> None:
    """RNN modules keep their parameter names twice: as setattr keys (which
    Python interns) and in _flat_weights_names (fresh f-strings).  Whether the
    two are the *same* str object - and so whether pickle memoizes one and
    BINGETs it for the other - depends on whether an equal interned string is
    still alive from an earlier module.  Keep one alive for good so the
    pickle bytes do not depend on garbage collection."""
    for m in modules:
        for name, _ in m.named_parameters():
            _PINNED_NAMES.append(sys.intern(name.rsplit(".", 1)[-1]))


def make_full_modules():
    _pin_parameter_names(nn.LSTM(4, 3, batch_first=True, proj_size=2), Net())
    seed(10)
    lstm = nn.LSTM(4, 3, batch_first=True, proj_size=2)
    zip_fixture("full_lstm.pt", lstm, "whole nn.LSTM(4, 3, batch_first=True, proj_size=2) pickled (weight_hr_l0)")

    assert Net.__module__ == "__main__", "run this file as a script so Net pickles as __main__.Net"
    seed(11)
    net = Net()
    zip_fixture("full_net.pt", net, "whole __main__.Net: Embedding, GRU, Linear, buffer 'scale', "
                                    "ModuleDict -> Sequential -> RNN(relu)")


def make_param_state():
    name = "param_state.pt"
    seed(12)
    p = nn.Parameter(torch.randn(2, 3))
    p.my_tag = "hello"
    p.lr_scale = 0.5
    frozen = nn.Parameter(torch.randn(3), requires_grad=False)
    sub = torch.randn(4).as_subclass(MyTensor)
    sub.note = "subclass-attr"
    obj = {"param": p, "frozen": frozen, "sub": sub,
           "grad_leaf": torch.randn(2, requires_grad=True), "plain": torch.ones(2, 2)}
    side, _ = zip_fixture(name, obj, "Parameter with python attrs (_rebuild_parameter_with_state), plain "
                                     "Parameter, tensor subclass (_rebuild_from_type_v2), requires_grad leaf")
    g = set(side["globals"])
    for need in ("torch._utils._rebuild_parameter_with_state", "torch._tensor._rebuild_from_type_v2"):
        assert need in g, f"param_state: {need} not in globals {sorted(g)}"
    loaded = torch.load(out(name), weights_only=False)
    assert loaded["param"].my_tag == "hello" and type(loaded["sub"]).__name__ == "MyTensor"


def torch_like_zip_entries(archive: str, data_pkl: bytes, storages: list[tuple[str, bytes]]) -> list:
    """Records in torch.save's order: data.pkl, .format_version, .storage_alignment,
    byteorder, data/KEY..., version, .data/serialization_id."""
    entries = [(f"{archive}/data.pkl", data_pkl),
               (f"{archive}/.format_version", b"1"),
               (f"{archive}/.storage_alignment", b"64"),
               (f"{archive}/byteorder", b"little")]
    entries += [(f"{archive}/data/{k}", v) for k, v in storages]
    entries.append((f"{archive}/version", b"3\n"))
    sid = hashlib.sha1(data_pkl).hexdigest()[:40]  # any 40-char id; torch uses a content hash
    entries.append((f"{archive}/.data/serialization_id", sid.encode()))
    return entries


def make_rebuild_v1():
    name = "rebuild_v1.pt"
    seed(13)
    w = torch.randn(2, 3)
    b = torch.arange(8, dtype=torch.float64) / 4
    s0 = _StorageRef("0", torch.FloatStorage, w.numel())
    s1 = _StorageRef("1", torch.DoubleStorage, b.numel())
    obj = collections.OrderedDict([
        ("weight", _V1Tensor(s0, 0, (2, 3), (3, 1))),
        ("weight_t", _V1Tensor(s0, 0, (3, 2), (1, 3))),
        ("bias_tail", _V1Tensor(s1, 2, (5,), (1,))),
        ("bias_every_other", _V1Tensor(s1, 1, (2, 2), (4, 2))),
    ])
    buf = io.BytesIO()
    _ZipPickler(buf, protocol=2).dump(obj)
    entries = torch_like_zip_entries("rebuild_v1", buf.getvalue(),
                                     [("0", tensor_bytes(w)), ("1", tensor_bytes(b))])
    write_zip(out(name), entries)
    loaded = torch.load(out(name), weights_only=False)
    assert same_tensor(loaded["weight"], w)
    assert same_tensor(loaded["weight_t"], w.t())
    assert same_tensor(loaded["bias_tail"], b[2:7])
    assert same_tensor(loaded["bias_every_other"], b.as_strided((2, 2), (4, 2), 1))
    side, _ = describe_torch_load(out(name), "zip")
    assert "torch._utils._rebuild_tensor" in side["globals"]
    register(name, "zip", "hand-built zip (torch.save layout) whose data.pkl uses the 4-arg "
                          "torch._utils._rebuild_tensor (v1)", side)


# ---------------------------------------------------------------------------
# Legacy
# ---------------------------------------------------------------------------

def legacy_fixture(name: str, obj, what: str):
    torch.save(obj, out(name), _use_new_zipfile_serialization=False)
    side, rec = describe_torch_load(out(name), "legacy")
    register(name, "legacy", what, side)
    return side, rec


def make_legacy_fixtures():
    legacy_fixture("legacy_lstm.pt", lstm_state_dict(),
                   "legacy (non-zip) save of the lstm_sd.pt state dict (same values)")
    legacy_fixture("legacy_layouts.pt", layouts_dict(),
                   "legacy save of the layouts dict: offsets, shared storage, non-contiguous, empty, 0-d")
    wanted = ["float32", "float64", "float16", "bfloat16", "int8", "int16", "int32", "int64", "uint8",
              "bool", "complex64", "complex128", "uint16", "uint32", "uint64", "float8_e4m3fn", "float8_e5m2"]
    all_d = dtype_tensors()
    ok = collections.OrderedDict()
    for k in wanted:
        if k not in all_d:
            continue
        b = io.BytesIO()
        stage = "torch.save"
        try:
            torch.save({k: all_d[k]}, b, _use_new_zipfile_serialization=False)
            b.seek(0)
            stage = "torch.load"
            r = torch.load(b, weights_only=False)[k]
            assert same_tensor(r, all_d[k])
            ok[k] = all_d[k]
        except Exception as e:  # noqa: BLE001
            NOTES.append(f"legacy_dtypes.pt: dtype {k} left out: {stage} fails in the legacy format "
                         f"({type(e).__name__}: {e})")
    legacy_fixture("legacy_dtypes.pt", ok, "legacy save, dtypes: " + ", ".join(ok))
    make_legacy_storage_view()


def make_legacy_storage_view():
    """Hand-built legacy file whose persistent ids carry view metadata
    (view_key, offset, size), as PyTorch < 1.x wrote for storage slices.
    Modern torch.save always writes None there."""
    name = "legacy_storage_view.pt"
    seed(14)
    root = torch.arange(10, dtype=torch.float32) * 1.5 - 3
    root_ref = _StorageRef("140000000000", torch.FloatStorage, 10, None)
    view_a = _StorageRef("140000000000", torch.FloatStorage, 10, ("140000000008", 2, 5))
    view_b = _StorageRef("140000000000", torch.FloatStorage, 10, ("140000000016", 4, 6))
    obj = collections.OrderedDict([
        ("whole", _V2Tensor(root_ref, 0, (10,), (1,))),
        ("view_a", _V2Tensor(view_a, 1, (3,), (1,))),       # root elements 3..5
        ("view_b", _V2Tensor(view_b, 0, (2, 3), (3, 1))),   # root elements 4..9
        ("view_a_again", _V2Tensor(view_a, 0, (5,), (1,))),  # root elements 2..6
    ])
    f = io.BytesIO()
    pickle.dump(torch.serialization.MAGIC_NUMBER, f, protocol=2)
    pickle.dump(torch.serialization.PROTOCOL_VERSION, f, protocol=2)
    pickle.dump({"protocol_version": torch.serialization.PROTOCOL_VERSION, "little_endian": True,
                 "type_sizes": {"short": 2, "int": 4, "long": 4}}, f, protocol=2)
    _LegacyPickler(f, protocol=2).dump(obj)
    pickle.dump(["140000000000"], f, protocol=2)
    f.write(struct.pack("<q", 10))
    f.write(tensor_bytes(root))
    with open(out(name), "wb") as fh:
        fh.write(f.getvalue())
    loaded = torch.load(out(name), weights_only=False)
    assert same_tensor(loaded["whole"], root)
    assert same_tensor(loaded["view_a"], root[3:6])
    assert same_tensor(loaded["view_b"], root[4:10].view(2, 3))
    assert same_tensor(loaded["view_a_again"], root[2:7])
    side, _ = describe_torch_load(out(name), "legacy")
    exp = {"whole": 0, "view_a": 3, "view_b": 4, "view_a_again": 2}
    for t in side["tensors"]:
        assert t["storage_offset"] == exp[t["key"]] and t["storage_key"] == "140000000000", t
    register(name, "legacy", "hand-built legacy file with 6-field persistent ids carrying view metadata "
                             "(view_key, offset, numel); storage_offset is relative to the root", side)


# ---------------------------------------------------------------------------
# TorchScript
# ---------------------------------------------------------------------------

class DecoderRNN(nn.Module):
    """silero-vad-like decoder: LSTMCell + Sequential(Dropout, ReLU, Conv1d, Sigmoid)."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTMCell(4, 3)
        self.decoder = nn.Sequential(nn.Dropout(0.1), nn.ReLU(), nn.Conv1d(3, 1, kernel_size=1), nn.Sigmoid())

    def forward(self, x: torch.Tensor, state: torch.Tensor = torch.zeros(0)) -> tuple[torch.Tensor, torch.Tensor]:
        if state.numel() > 0:
            h, c = self.rnn(x, (state[0], state[1]))
        else:
            h, c = self.rnn(x)
        y = self.decoder(h.unsqueeze(-1))
        return y, torch.stack([h, c])


class VADModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.decoder = DecoderRNN()
        self.register_buffer("window", torch.hann_window(4))  # storage of 5 floats, tensor of 4

    def forward(self, x: torch.Tensor,
                scale: torch.Tensor = torch.tensor([0.5, 2.0, -1.5, 4.0])) -> torch.Tensor:
        y, s = self.decoder(x * self.window * scale)
        return y


class VADWrapper(nn.Module):
    def __init__(self):
        super().__init__()
        self._model = VADModel()
        self.sample_rate = 16000

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._model(x)


def make_torchscript():
    name = "script_vad.jit"
    seed(15)
    m = torch.jit.script(VADWrapper().eval())
    torch.jit.save(m, out(name))
    side, _tree, loaded = describe_torchscript(out(name))
    assert side["constants"], "script_vad.jit: constants.pkl holds no tensor"
    # cross-check constants against the default values torch.jit.load exposes
    default = loaded._model.forward.schema.arguments[2].default_value
    c_bytes = [c["bytes_hex"] for c in side["constants"]]
    assert tensor_bytes(default).hex() in c_bytes, "scale default not among constants"
    x = torch.randn(2, 4)
    assert torch.allclose(loaded(x), m(x))
    register(name, "torchscript", "torch.jit.save of a scripted silero-vad-like module: _model.decoder.rnn "
                                  "LSTMCell(4,3), decoder Sequential Conv1d, buffer with a larger storage, "
                                  "tensor constants in constants.pkl", side)


# ---------------------------------------------------------------------------
# silero-vad (outside the repo)
# ---------------------------------------------------------------------------

def describe_external_jit(path: str, out_json: str) -> None:
    side, _tree, _m = describe_torchscript(path)
    with open(out_json, "w") as fh:
        json.dump(side, fh, indent=1, allow_nan=False)
        fh.write("\n")


# ---------------------------------------------------------------------------

README_HEAD = """# ptload golden fixtures

Generated by `tools/make_fixtures.py` (run `/tmp/torch-venv/bin/python tools/make_fixtures.py`
from the repo root; it rewrites this folder). Each `NAME.EXT` has a ground-truth sidecar
`NAME.expected.json`; `manifest.json` records the versions, seed, date and command.
Conventions (flattened keys, storage_offset, bytes_hex, values) are documented at the top
of the generator and in `flatten_state` / `tensor_entry`.
Legacy files written by torch.save use memory addresses as storage keys, so they (and their
sidecars' storage_key) change on every regeneration; zip/TorchScript files are byte-stable.

| fixture | weights_only | exercises |
| --- | --- | --- |
"""


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--silero", metavar="JIT", help="also describe an external TorchScript file "
                    "(e.g. silero_vad.jit) and write JIT's sidecar next to it; nothing goes into the repo")
    args = ap.parse_args(argv)

    if args.silero:
        stem = os.path.splitext(args.silero)[0]
        describe_external_jit(args.silero, stem + ".expected.json")
        print(f"wrote {stem}.expected.json")
        return 0

    shutil.rmtree(OUT_DIR, ignore_errors=True)
    os.makedirs(OUT_DIR)
    torch.set_num_threads(1)

    make_zip_fixtures()
    make_legacy_fixtures()
    make_torchscript()

    for f in os.listdir(OUT_DIR):
        assert not f.startswith("_tmp_"), f

    manifest = {
        "generator": "tools/make_fixtures.py",
        "command": "/tmp/torch-venv/bin/python tools/make_fixtures.py",
        "argv": [os.path.relpath(os.path.abspath(sys.argv[0]), REPO_ROOT)] + sys.argv[1:],
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "python_version": platform.python_version(),
        "pythonhashseed": os.environ.get("PYTHONHASHSEED"),
        "seeds": {"base": SEED, "rule": "torch.manual_seed(base + k) / np.random.seed(base + k) per fixture"},
        "fixtures": [f["name"] for f in FIXTURES],
        "details": FIXTURES,
        "notes": NOTES,
    }
    with open(out("manifest.json"), "w") as fh:
        json.dump(manifest, fh, indent=1)
        fh.write("\n")

    lines = [README_HEAD]
    for f in FIXTURES:
        wo = "yes" if f["loads_with_weights_only"] else "no"
        if not f["loads"]:
            wo = "no (torch.load fails)"
        lines.append(f"| `{f['name']}` ({f['format']}) | {wo} | {f['what']} |\n")
    if NOTES:
        lines.append("\nNotes:\n\n" + "".join(f"- {n}\n" for n in NOTES))
    with open(out("README.md"), "w") as fh:
        fh.write("".join(lines))

    total = sum(os.path.getsize(out(f)) for f in os.listdir(OUT_DIR))
    print(f"wrote {len(FIXTURES)} fixtures, {total} bytes, to {OUT_DIR}")
    for n in NOTES:
        print("note:", n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
