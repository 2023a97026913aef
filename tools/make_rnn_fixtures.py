#!/usr/bin/env python3
"""Golden-fixture generator for ptload's recurrent layers (``ptload MODEL --verify REF.npz``).

Run from the repository root with a Python that has real PyTorch + numpy:

    /tmp/torch-venv/bin/python tools/make_rnn_fixtures.py

It deletes and rewrites ``Fixtures/rnn/`` entirely: one model file (``.pt``) and one reference
(``.npz``, written by ``np.savez``, uncompressed) per case, plus ``cases.json`` (the case list the
Swift tests read), ``manifest.json`` (versions, seeds, date, command, and the covering-array
construction with its proof) and ``README.md``.  The Swift tests never run Python.

Reference members (exactly these names; absent ones are simply not in the file):

* ``input``   float32 (float64 for the float64 case; int64 token ids when the first stage is an
              Embedding).  [T, N, I], or [N, T, I] with batch_first, [T, I] unbatched;
              cells: [N, I] or [I].
* ``h0``/``c0`` optional initial state, [L*D, N, Hout] ([L*D, Hout] unbatched; batch_first never
              changes it); cells: [N, H] / [H].  LSTM with proj_size: h is proj_size wide,
              c is hidden_size wide.  ``c0`` only for LSTM / LSTMCell, and only together with h0.
* ``lengths`` optional int64 [N]: the batch went through
              ``pack_padded_sequence(..., enforce_sorted=False)`` and
              ``pad_packed_sequence(..., total_length=T)``.
* ``output``  [T, N, D*Hout] (or [N, T, D*Hout], or [T, D*Hout]); zeros past each length
              (except in a pipeline, where the last stage is applied to the padded output).
              Cells have no ``output``.
* ``h_n``/``c_n`` final states, same layout as h0/c0 (``c_n`` for LSTM / LSTMCell only).

Everything is computed by real PyTorch under ``torch.no_grad()`` in eval mode.  Every case is
then checked three ways: the model file is loaded back (``torch.load(weights_only=True)`` where
possible, else ``weights_only=False`` / ``torch.jit.load``) into a freshly built module, which must
reproduce the reference bit for bit; an independent float64 numpy implementation of the
recurrences must agree within tolerance; and for variable-length batches each sequence is re-run
alone (batch of one, truncated to its length) to confirm ``h_n``'s batch order and the zero padding.
"""

from __future__ import annotations

import os
import sys

# String hashing decides set/dict-of-names orders inside torch.jit's generated code; pin it so
# the TorchScript files are byte-stable.
if __name__ == "__main__" and os.environ.get("PYTHONHASHSEED") != "0":
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable] + sys.argv)

import contextlib
import datetime
import itertools
import json
import platform
import random
import shutil
import time
import warnings
import zipfile

import numpy as np
import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

warnings.filterwarnings("ignore")

SEED = 4321
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(REPO_ROOT, "Fixtures", "rnn")
COMMAND = "/tmp/torch-venv/bin/python tools/make_rnn_fixtures.py"

# Small sizes (see the brief): input 5, hidden 4, projection 3, batch 3, sequence 6.
I, H, P, N, T = 5, 4, 3, 3, 6
VOCAB, EMB = 11, 5
T_LONG, N_LONG = 120, 2

# Unsorted length patterns for T = 6, N = 3: each holds T and 1 and is neither ascending nor
# descending, so enforce_sorted=False really has to permute.
LENGTH_PATTERNS = [[6, 1, 4], [2, 6, 1], [1, 6, 3], [4, 6, 1], [6, 1, 3], [3, 1, 6]]

CASES: list[dict] = []
NOTES: list[str] = []
SURPRISES: list[str] = []
_seed_counter = itertools.count()


def out(name: str) -> str:
    return os.path.join(OUT_DIR, name)


def next_seed() -> int:
    s = SEED + next(_seed_counter)
    torch.manual_seed(s)
    np.random.seed(s)
    return s


# ---------------------------------------------------------------------------
# Byte-stable np.savez: zipfile stamps every member with time.localtime(time.time()); pin it to
# 1980-01-01 00:00:00 (the zip epoch) while np.savez runs.  The member bytes are np.savez's own.
# ---------------------------------------------------------------------------

class _FixedTime:
    def __getattr__(self, name):
        return getattr(time, name)

    @staticmethod
    def time():
        return 315532800.0

    @staticmethod
    def localtime(_secs=None):
        return time.struct_time((1980, 1, 1, 0, 0, 0, 1, 1, 0))


@contextlib.contextmanager
def fixed_zip_time():
    saved = zipfile.time
    zipfile.time = _FixedTime()
    try:
        yield
    finally:
        zipfile.time = saved


REF_ORDER = ["input", "h0", "c0", "lengths", "output", "h_n", "c_n"]


def write_npz(name: str, members: dict) -> None:
    assert set(members) <= set(REF_ORDER), members.keys()
    ordered = {k: np.ascontiguousarray(members[k]) for k in REF_ORDER if k in members}
    with fixed_zip_time():
        np.savez(out(name), **ordered)
    assert os.path.exists(out(name))


def npy(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy().copy()


# ---------------------------------------------------------------------------
# Building and running modules
# ---------------------------------------------------------------------------

SEQ_KINDS = {"RNN": nn.RNN, "LSTM": nn.LSTM, "GRU": nn.GRU}
CELL_KINDS = {"RNNCell": nn.RNNCell, "LSTMCell": nn.LSTMCell, "GRUCell": nn.GRUCell}


def seq_config(kind, *, input_size=I, hidden_size=H, num_layers=1, bidirectional=False,
               batch_first=False, bias=True, proj_size=0, nonlinearity=None, dropout=0.0):
    if kind == "RNN":
        nonlinearity = nonlinearity or "tanh"
    else:
        assert nonlinearity is None
    if kind != "LSTM":
        assert proj_size == 0
    return {"input_size": input_size, "hidden_size": hidden_size, "num_layers": num_layers,
            "bidirectional": bidirectional, "batch_first": batch_first, "bias": bias,
            "proj_size": proj_size, "nonlinearity": nonlinearity, "dropout": dropout}


def cell_config(kind, *, input_size=I, hidden_size=H, bias=True, nonlinearity=None):
    if kind == "RNNCell":
        nonlinearity = nonlinearity or "tanh"
    # Same keys as the sequence modules so one schema decodes every case; a cell is one layer,
    # one direction, no batch_first, no projection, no dropout.
    return {"input_size": input_size, "hidden_size": hidden_size, "num_layers": 1,
            "bidirectional": False, "batch_first": False, "bias": bias, "proj_size": 0,
            "nonlinearity": nonlinearity, "dropout": 0.0}


def build(kind: str, cfg: dict) -> nn.Module:
    if kind in SEQ_KINDS:
        kw = dict(input_size=cfg["input_size"], hidden_size=cfg["hidden_size"],
                  num_layers=cfg["num_layers"], bias=cfg["bias"], batch_first=cfg["batch_first"],
                  dropout=cfg["dropout"], bidirectional=cfg["bidirectional"])
        if kind == "RNN":
            kw["nonlinearity"] = cfg["nonlinearity"]
        if kind == "LSTM":
            kw["proj_size"] = cfg["proj_size"]
        m = SEQ_KINDS[kind](**kw)
    else:
        kw = dict(input_size=cfg["input_size"], hidden_size=cfg["hidden_size"], bias=cfg["bias"])
        if kind == "RNNCell":
            kw["nonlinearity"] = cfg["nonlinearity"]
        m = CELL_KINDS[kind](**kw)
    return m.eval()


def state_shape(kind, cfg, batch, unbatched, cell_state=False):
    """Shape of h0 / h_n (or c0 / c_n with cell_state=True)."""
    if kind in CELL_KINDS:
        return [cfg["hidden_size"]] if unbatched else [batch, cfg["hidden_size"]]
    ld = cfg["num_layers"] * (2 if cfg["bidirectional"] else 1)
    width = cfg["hidden_size"] if (cell_state or not cfg["proj_size"]) else cfg["proj_size"]
    return [ld, width] if unbatched else [ld, batch, width]


def make_inputs(kind, cfg, *, seq_len, batch, unbatched, has_h0, lengths_pattern, dtype):
    """Random input (and h0/c0, lengths) in PyTorch's layout for this module."""
    if kind in CELL_KINDS:
        x = torch.randn([cfg["input_size"]] if unbatched else [batch, cfg["input_size"]], dtype=dtype)
    elif unbatched:
        x = torch.randn(seq_len, cfg["input_size"], dtype=dtype)
    elif cfg["batch_first"]:
        x = torch.randn(batch, seq_len, cfg["input_size"], dtype=dtype)
    else:
        x = torch.randn(seq_len, batch, cfg["input_size"], dtype=dtype)
    h0 = c0 = None
    if has_h0:
        h0 = 0.5 * torch.randn(state_shape(kind, cfg, batch, unbatched), dtype=dtype)
        if kind in ("LSTM", "LSTMCell"):
            c0 = 0.5 * torch.randn(state_shape(kind, cfg, batch, unbatched, cell_state=True), dtype=dtype)
    lengths = None
    if lengths_pattern is not None:
        lengths = list(lengths_pattern)
        assert len(lengths) == batch and max(lengths) == seq_len and min(lengths) == 1
        assert lengths != sorted(lengths) and lengths != sorted(lengths, reverse=True)
    return x, h0, c0, lengths


def run_module(m, kind, batch_first, x, h0, c0, lengths, total_length=None):
    """Run a recurrent module exactly as the reference does; returns (output, h_n, c_n)."""
    with torch.no_grad():
        if kind in CELL_KINDS:
            if kind == "LSTMCell":
                h, c = m(x, None if h0 is None else (h0, c0))
                return None, h, c
            return None, m(x, h0), None
        hx = None
        if h0 is not None:
            hx = (h0, c0) if kind == "LSTM" else h0
        if lengths is not None:
            packed = pack_padded_sequence(x, torch.tensor(lengths, dtype=torch.int64),
                                          batch_first=batch_first, enforce_sorted=False)
            o, hn = m(packed, hx)
            o, out_lens = pad_packed_sequence(o, batch_first=batch_first, total_length=total_length)
            assert out_lens.tolist() == list(lengths), (out_lens, lengths)
        else:
            o, hn = m(x, hx)
        if kind == "LSTM":
            return o, hn[0], hn[1]
        return o, hn, None


def reference_members(x, h0, c0, lengths, o, hn, cn) -> dict:
    ref = {"input": npy(x)}
    if h0 is not None:
        ref["h0"] = npy(h0)
    if c0 is not None:
        ref["c0"] = npy(c0)
    if lengths is not None:
        ref["lengths"] = np.array(lengths, dtype=np.int64)
    if o is not None:
        ref["output"] = npy(o)
    ref["h_n"] = npy(hn)
    if cn is not None:
        ref["c_n"] = npy(cn)
    return ref


# ---------------------------------------------------------------------------
# Independent float64 numpy implementation (documents the semantics ptload must implement)
# ---------------------------------------------------------------------------

def _sig(v):
    return 1.0 / (1.0 + np.exp(-v))


def np_cell_step(kind, nonlin, p, sfx, x, h, c):
    """One step. p: dict of float64 arrays; sfx: '' for cells, '_l0', '_l1_reverse', ..."""
    Wih, Whh = p["weight_ih" + sfx], p["weight_hh" + sfx]
    bih = p.get("bias_ih" + sfx, np.zeros(Wih.shape[0]))
    bhh = p.get("bias_hh" + sfx, np.zeros(Whh.shape[0]))
    gi = Wih @ x + bih
    gh = Whh @ h + bhh
    if kind in ("RNN", "RNNCell"):
        v = gi + gh
        return (np.tanh(v) if nonlin == "tanh" else np.maximum(v, 0.0)), None
    if kind in ("GRU", "GRUCell"):
        hs = Whh.shape[1]
        r = _sig(gi[:hs] + gh[:hs])
        z = _sig(gi[hs:2 * hs] + gh[hs:2 * hs])
        n = np.tanh(gi[2 * hs:] + r * gh[2 * hs:])
        return (1.0 - z) * n + z * h, None
    hs = Wih.shape[0] // 4
    g = gi + gh
    i_, f_, g_, o_ = _sig(g[:hs]), _sig(g[hs:2 * hs]), np.tanh(g[2 * hs:3 * hs]), _sig(g[3 * hs:])
    c2 = f_ * c + i_ * g_
    h2 = o_ * np.tanh(c2)
    if ("weight_hr" + sfx) in p:
        h2 = p["weight_hr" + sfx] @ h2
    return h2, c2


def np_reference(kind, cfg, params, x, h0, c0, lengths, unbatched):
    """float64 outputs (output, h_n, c_n) in PyTorch's layouts."""
    p = {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}
    x = np.asarray(x, dtype=np.float64)
    h0 = None if h0 is None else np.asarray(h0, dtype=np.float64)
    c0 = None if c0 is None else np.asarray(c0, dtype=np.float64)
    nonlin = cfg["nonlinearity"]
    Hs = cfg["hidden_size"]
    if kind in CELL_KINDS:
        xb = x[None] if unbatched else x
        nb = xb.shape[0]
        hb = np.zeros((nb, Hs)) if h0 is None else (h0[None] if unbatched else h0)
        cb = np.zeros((nb, Hs)) if c0 is None else (c0[None] if unbatched else c0)
        hs, cs = [], []
        for b in range(nb):
            h2, c2 = np_cell_step(kind, nonlin, p, "", xb[b], hb[b], cb[b])
            hs.append(h2)
            cs.append(c2)
        hn = np.stack(hs)
        cn = np.stack(cs) if kind == "LSTMCell" else None
        if unbatched:
            hn = hn[0]
            cn = None if cn is None else cn[0]
        return None, hn, cn
    # sequences: bring to [T, N, I]
    if unbatched:
        xt = x[:, None, :]
        h0 = None if h0 is None else h0[:, None, :]
        c0 = None if c0 is None else c0[:, None, :]
    elif cfg["batch_first"]:
        xt = x.transpose(1, 0, 2)
    else:
        xt = x
    Tn, Nn, _ = xt.shape
    L, D = cfg["num_layers"], 2 if cfg["bidirectional"] else 1
    Hout = cfg["proj_size"] or Hs
    lens = list(lengths) if lengths is not None else [Tn] * Nn
    hn = np.zeros((L * D, Nn, Hout))
    cn = np.zeros((L * D, Nn, Hs))
    layer_in = xt
    for layer in range(L):
        outs = []
        for d in range(D):
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            o = np.zeros((Tn, Nn, Hout))
            for b in range(Nn):
                h = np.zeros(Hout) if h0 is None else h0[layer * D + d, b]
                c = np.zeros(Hs) if c0 is None else c0[layer * D + d, b]
                steps = range(lens[b]) if d == 0 else reversed(range(lens[b]))
                for t in steps:
                    h, c2 = np_cell_step(kind, nonlin, p, sfx, layer_in[t, b], h, c)
                    if c2 is not None:
                        c = c2
                    o[t, b] = h
                hn[layer * D + d, b] = h
                cn[layer * D + d, b] = c
            outs.append(o)
        layer_in = np.concatenate(outs, axis=-1)
    output = layer_in
    if unbatched:
        output, hn, cn = output[:, 0], hn[:, 0], cn[:, 0]
    elif cfg["batch_first"]:
        output = output.transpose(1, 0, 2)
    return output, hn, (cn if kind == "LSTM" else None)


# ---------------------------------------------------------------------------
# Case bookkeeping and verification
# ---------------------------------------------------------------------------

def args_for(kind, cfg, extra=()):
    a = list(extra)
    if cfg.get("batch_first") and kind in SEQ_KINDS:
        a.append("--batch-first")
    if cfg.get("nonlinearity") == "relu":
        a += ["--nonlinearity", "relu"]
    return a


def add_case(name, *, group, kind, cfg, model, reference, args, module, dtype, compute_dtype,
             ref, seed, unbatched=False, seq_len=None, batch=None, expect_exit=0, notes="",
             load="weights_only", extra=None, check=None):
    """Record a case; ``ref`` is the dict of reference members (already written)."""
    if seq_len is None:
        seq_len = 1 if kind in CELL_KINDS else ref["input"].shape[0 if (unbatched or not cfg["batch_first"]) else 1]
    if batch is None:
        if unbatched:
            batch = 1
        else:
            batch = ref["input"].shape[1 if (kind in SEQ_KINDS and not cfg["batch_first"]) else 0]
    case = {
        "name": name, "model": model, "reference": reference, "args": args, "kind": kind,
        "config": cfg, "module": module, "dtype": dtype, "compute_dtype": compute_dtype,
        "has_h0": "h0" in ref, "has_lengths": "lengths" in ref, "unbatched": unbatched,
        "seq_len": int(seq_len), "batch": int(batch), "expect_exit": expect_exit, "notes": notes,
        "group": group, "seed": seed, "load": load,
    }
    if extra:
        case.update(extra)
    case["_check"] = check
    CASES.append(case)
    return case


def fresh_from_state(kind, cfg, sd, dtype):
    torch.manual_seed(999_999)  # different init: everything must come from the file
    m = build(kind, cfg)
    if dtype == torch.float64:
        m = m.double()
    m.load_state_dict(sd, strict=True)
    return m.eval()


def strip_prefix(sd: dict, prefix: str) -> dict:
    if not prefix:
        return dict(sd)
    pre = prefix + "."
    return {k[len(pre):]: v for k, v in sd.items() if k.startswith(pre)}


def load_model_file(case):
    path = out(case["model"])
    how = case["load"]
    if how == "weights_only":
        return torch.load(path, weights_only=True)
    if how == "full":
        return torch.load(path, weights_only=False)
    if how == "jit":
        return torch.jit.load(path)
    raise ValueError(how)


def expected_members(case) -> dict:
    """Member names and shapes the reference must have, derived from the case record alone."""
    kind, cfg = case["kind"], case["config"]
    unb, Tn, Nn = case["unbatched"], case["seq_len"], case["batch"]
    shapes = {}
    if kind in CELL_KINDS:
        shapes["input"] = [cfg["input_size"]] if unb else [Nn, cfg["input_size"]]
    else:
        feat = [] if "stages" in case else [cfg["input_size"]]  # pipelines: token ids
        if unb:
            shapes["input"] = [Tn] + feat
        elif cfg["batch_first"]:
            shapes["input"] = [Nn, Tn] + feat
        else:
            shapes["input"] = [Tn, Nn] + feat
    if case["has_h0"]:
        shapes["h0"] = state_shape(kind, cfg, Nn, unb)
        if kind in ("LSTM", "LSTMCell"):
            shapes["c0"] = state_shape(kind, cfg, Nn, unb, cell_state=True)
    if case["has_lengths"]:
        shapes["lengths"] = [Nn]
    if kind in SEQ_KINDS:
        if "stages" in case:
            shapes["output"] = shapes["input"] + [case["output_width"]]
        else:
            width = (2 if cfg["bidirectional"] else 1) * (cfg["proj_size"] or cfg["hidden_size"])
            shapes["output"] = shapes["input"][:-1] + [width]
    shapes["h_n"] = state_shape(kind, cfg, Nn, unb)
    if kind in ("LSTM", "LSTMCell"):
        shapes["c_n"] = state_shape(kind, cfg, Nn, unb, cell_state=True)
    return shapes


def verify_all():
    report = []
    for case in CASES:
        ref_npz = np.load(out(case["reference"]))
        ref = {k: ref_npz[k] for k in ref_npz.files}
        exp = expected_members(case)
        assert list(ref) == [k for k in REF_ORDER if k in exp], (case["name"], list(ref), list(exp))
        for k, shp in exp.items():
            assert list(ref[k].shape) == shp, (case["name"], k, ref[k].shape, shp)
        want_in = {"float32": np.float32, "float64": np.float64}[case["compute_dtype"]]
        if "stages" in case:
            want_in = np.int64
        assert ref["input"].dtype == want_in, (case["name"], ref["input"].dtype)
        for k in ("h0", "c0", "output", "h_n", "c_n"):
            if k in ref:
                assert ref[k].dtype == {"float32": np.float32, "float64": np.float64}[case["compute_dtype"]], (case["name"], k)
        if "lengths" in ref:
            assert ref["lengths"].dtype == np.int64
        detail = case["_check"](case, ref)
        report.append((case["name"], case["expect_exit"], detail))
    return report


def compare_exact(name, got: dict, ref: dict, keys=("output", "h_n", "c_n")):
    for k in keys:
        if k in ref:
            g = got[k]
            assert g is not None, (name, k)
            g = npy(g) if isinstance(g, torch.Tensor) else g
            assert g.dtype == ref[k].dtype and g.shape == ref[k].shape, (name, k, g.dtype, g.shape)
            assert np.array_equal(g, ref[k]), (name, k, float(np.abs(g - ref[k]).max()))


def compare_numpy(name, kind, cfg, params, ref, unbatched, tol):
    o, hn, cn = np_reference(kind, cfg, params, ref["input"], ref.get("h0"), ref.get("c0"),
                             ref.get("lengths"), unbatched)
    worst = 0.0
    for k, v in (("output", o), ("h_n", hn), ("c_n", cn)):
        if k in ref:
            d = float(np.abs(v - ref[k].astype(np.float64)).max())
            worst = max(worst, d)
            assert d <= tol, (name, k, d)
    return worst


def check_lengths_individually(name, m, kind, cfg, ref):
    """Re-run every sequence alone, truncated to its length: output rows, zero padding, h_n order."""
    bf = cfg["batch_first"]
    x = torch.from_numpy(ref["input"])
    worst = 0.0
    for b, ln in enumerate(ref["lengths"].tolist()):
        xb = x[b:b + 1, :ln] if bf else x[:ln, b:b + 1]
        h0 = None if "h0" not in ref else torch.from_numpy(ref["h0"][:, b:b + 1])
        c0 = None if "c0" not in ref else torch.from_numpy(ref["c0"][:, b:b + 1])
        o, hn, cn = run_module(m, kind, bf, xb, h0, c0, None)
        ro = ref["output"][b, :ln] if bf else ref["output"][:ln, b]
        pad = ref["output"][b, ln:] if bf else ref["output"][ln:, b]
        assert not pad.any(), (name, "padding not zero", b)
        og = npy(o)[0] if bf else npy(o)[:, 0]
        worst = max(worst, float(np.abs(og - ro).max()), float(np.abs(npy(hn)[:, 0] - ref["h_n"][:, b]).max()))
        if cn is not None:
            worst = max(worst, float(np.abs(npy(cn)[:, 0] - ref["c_n"][:, b]).max()))
    assert worst <= 1e-6, (name, "per-sequence rerun differs", worst)
    # The padded input positions must hold garbage so a reader ignoring lengths fails.
    for b, ln in enumerate(ref["lengths"].tolist()):
        tail = ref["input"][b, ln:] if bf else ref["input"][ln:, b]
        assert tail.size == 0 or np.all(tail != 0), (name, "padded input should be nonzero garbage")
    return worst


def tensors_from_ref(ref):
    def t(k):
        return None if k not in ref else torch.from_numpy(ref[k])
    lengths = None if "lengths" not in ref else ref["lengths"].tolist()
    return t("input"), t("h0"), t("c0"), lengths


def standard_check(case, ref, *, prefix="", direct=None):
    """Reload the file into a fresh module, rerun, compare exactly; numpy cross-check."""
    name, kind, cfg = case["name"], case["kind"], case["config"]
    obj = load_model_file(case)
    if case["load"] == "jit":
        sd = obj.state_dict()
    elif isinstance(obj, nn.Module):
        sd = obj.state_dict()
    else:
        sd = obj
    if case.get("state_path"):
        for part in case["state_path"]:
            sd = sd[part]
    sd = strip_prefix(sd, prefix)
    file_dtypes = {str(v.dtype).replace("torch.", "") for v in sd.values()}
    assert file_dtypes == {case["dtype"]}, (name, file_dtypes)
    cdt = torch.float64 if case["compute_dtype"] == "float64" else torch.float32
    m = fresh_from_state(kind, cfg, sd, cdt)
    x, h0, c0, lengths = tensors_from_ref(ref)
    Tn = case["seq_len"]
    o, hn, cn = run_module(m, kind, cfg["batch_first"], x, h0, c0, lengths, total_length=Tn)
    compare_exact(name, {"output": o, "h_n": hn, "c_n": cn}, ref)
    notes = []
    if case["load"] == "full":
        try:
            torch.load(out(case["model"]), weights_only=True)
            notes.append("weights_only=True also loads it")
        except Exception as e:  # expected: a pickled nn.Module is not on the weights_only allowlist
            first = str(e).split("\n")
            why = next((l.strip() for l in first if "Unsupported global" in l), first[0].strip())
            why = why.split(" was not")[0]
            notes.append("weights_only=True refuses it (" + why[:90] + ")")
    if direct is not None:  # the loaded object itself (full pickle / TorchScript) must agree too
        o2, hn2, cn2 = direct(obj, x, h0, c0, lengths)
        keys = ("output", "h_n", "c_n") if o2 is not None else ("h_n", "c_n")
        compare_exact(name, {"output": o2, "h_n": hn2, "c_n": cn2}, ref, keys)
        notes.append("loaded object reproduces")
    params = {k: v.to(torch.float64).numpy() for k, v in sd.items()}
    tol = 1e-12 if cdt == torch.float64 else 2e-5
    worst = compare_numpy(name, kind, cfg, params, ref, case["unbatched"], tol)
    notes.append(f"numpy64 max|diff| {worst:.1e}")
    if lengths is not None:
        w = check_lengths_individually(name, m, kind, cfg, ref)
        notes.append(f"per-seq rerun max|diff| {w:.1e}")
    return "exact; " + "; ".join(notes)


# ---------------------------------------------------------------------------
# Case generators
# ---------------------------------------------------------------------------

def seq_case(name, group, kind, cfg, *, has_h0=False, lengths_pattern=None, unbatched=False,
             seq_len=T, batch=N, file_dtype="float32", notes="", save_dropout_note=True):
    """A bare recurrent module saved as a plain state dict."""
    seed = next_seed()
    m = build(kind, cfg)
    compute = torch.float32
    if file_dtype == "float64":
        m = m.double()
        compute = torch.float64
    x, h0, c0, lengths = make_inputs(kind, cfg, seq_len=seq_len, batch=batch, unbatched=unbatched,
                                     has_h0=has_h0, lengths_pattern=lengths_pattern, dtype=compute)
    if file_dtype in ("float16", "bfloat16"):
        low = torch.float16 if file_dtype == "float16" else torch.bfloat16
        m = m.to(low)
        torch.save(m.state_dict(), out(name + ".pt"))
        m = m.float()  # the SAME weights, widened: the reference's weights
        notes = (notes + " " if notes else "") + (f"weights stored as {file_dtype}; reference computed in "
                                                  f"float32 from those weights widened (m.to({file_dtype}).float()).")
    else:
        torch.save(m.state_dict(), out(name + ".pt"))
    o, hn, cn = run_module(m, kind, cfg["batch_first"], x, h0, c0, lengths, total_length=seq_len)
    ref = reference_members(x, h0, c0, lengths, o, hn, cn)
    write_npz(name + ".npz", ref)
    if cfg.get("dropout"):
        notes = (notes + " " if notes else "") + "dropout=0.3 (a no-op in eval mode)."
    return add_case(name, group=group, kind=kind, cfg=cfg, model=name + ".pt", reference=name + ".npz",
                    args=args_for(kind, cfg), module="", dtype=file_dtype,
                    compute_dtype="float64" if file_dtype == "float64" else "float32", ref=ref, seed=seed,
                    unbatched=unbatched, notes=notes.strip(), check=standard_check)


def cell_case(name, group, kind, cfg, *, has_h0, unbatched=False, batch=N, notes=""):
    seed = next_seed()
    m = build(kind, cfg)
    x, h0, c0, _ = make_inputs(kind, cfg, seq_len=1, batch=batch, unbatched=unbatched,
                               has_h0=has_h0, lengths_pattern=None, dtype=torch.float32)
    torch.save(m.state_dict(), out(name + ".pt"))
    o, hn, cn = run_module(m, kind, False, x, h0, c0, None)
    ref = reference_members(x, h0, c0, None, o, hn, cn)
    write_npz(name + ".npz", ref)
    return add_case(name, group=group, kind=kind, cfg=cfg, model=name + ".pt", reference=name + ".npz",
                    args=args_for(kind, cfg), module="", dtype="float32", compute_dtype="float32",
                    ref=ref, seed=seed, unbatched=unbatched, seq_len=1, notes=notes, check=standard_check)


# --- covering array --------------------------------------------------------

FACTORS = [
    ("kind", ["rnn_tanh", "rnn_relu", "lstm", "lstm_proj", "gru"]),
    ("num_layers", [1, 2, 3]),
    ("bidirectional", [False, True]),
    ("batch_first", [False, True]),
    ("bias", [True, False]),
    ("h0", [False, True]),
    ("lengths", [False, True]),
]


def all_pairs():
    need = set()
    for (i, (_, li)), (j, (_, lj)) in itertools.combinations(enumerate(FACTORS), 2):
        for a in range(len(li)):
            for b in range(len(lj)):
                need.add((i, a, j, b))
    return need


def row_pairs(row):
    return {(i, row[i], j, row[j]) for i, j in itertools.combinations(range(len(row)), 2)}


def covering_array():
    """Strength-2 covering array: the full product kind x num_layers (15 rows), binary factors
    chosen greedily (AETG-style, ties broken by a seeded RNG) to cover the most new pairs; rows
    are added only if some pair is left.  Returns rows of level indices."""
    rng = random.Random(SEED)
    need = all_pairs()
    rows = []
    binaries = list(itertools.product(range(2), repeat=len(FACTORS) - 2))
    for k, nl in itertools.product(range(5), range(3)):
        best, best_gain = None, -1
        cands = binaries[:]
        rng.shuffle(cands)
        for bvec in cands:
            r = (k, nl) + bvec
            gain = len(row_pairs(r) & need)
            if gain > best_gain:
                best, best_gain = r, gain
        rows.append(best)
        need -= row_pairs(best)
    while need:
        best, best_gain = None, -1
        for k, nl in itertools.product(range(5), range(3)):
            for bvec in binaries:
                r = (k, nl) + bvec
                gain = len(row_pairs(r) & need)
                if gain > best_gain:
                    best, best_gain = r, gain
        rows.append(best)
        need -= row_pairs(best)
    return rows


def matrix_name(row_vals):
    kind, nl, bi, bf, bias, h0, ln = row_vals
    ktok = {"rnn_tanh": "rnn_tanh", "rnn_relu": "rnn_relu", "lstm": "lstm", "lstm_proj": "lstmp", "gru": "gru"}[kind]
    return "_".join([ktok, f"l{nl}", "bi" if bi else "uni", "bf" if bf else "tf",
                     "bias" if bias else "nobias", "h0" if h0 else "noh0", "len" if ln else "full"])


def make_matrix():
    rows = covering_array()
    names = []
    multi = 0
    for idx, row in enumerate(rows):
        vals = tuple(FACTORS[i][1][row[i]] for i in range(len(FACTORS)))
        kind_l, nl, bi, bf, bias, h0, ln = vals
        kind = {"rnn_tanh": "RNN", "rnn_relu": "RNN", "lstm": "LSTM", "lstm_proj": "LSTM", "gru": "GRU"}[kind_l]
        dropout = 0.0
        if nl > 1:
            multi += 1
            dropout = 0.3 if multi % 2 == 1 else 0.0
        cfg = seq_config(kind, num_layers=nl, bidirectional=bi, batch_first=bf, bias=bias,
                         proj_size=P if kind_l == "lstm_proj" else 0,
                         nonlinearity={"rnn_tanh": "tanh", "rnn_relu": "relu"}.get(kind_l), dropout=dropout)
        name = matrix_name(vals)
        pattern = LENGTH_PATTERNS[idx % len(LENGTH_PATTERNS)] if ln else None
        notes = "covering-array row %d." % idx
        if kind_l == "lstm_proj":
            notes += f" proj_size={P}: h is {P} wide, c is {H} wide; output width {(2 if bi else 1) * P}."
        if ln:
            notes += f" lengths {pattern} (unsorted), garbage input past each length."
        seq_case(name, "matrix", kind, cfg, has_h0=h0, lengths_pattern=pattern, notes=notes)
        names.append(name)
    # proof
    pairs_total = all_pairs()
    covered = set()
    for r in rows:
        covered |= row_pairs(r)
    per_value = {}
    for i, (fname, levels) in enumerate(FACTORS):
        per_value[fname] = {json.dumps(lv): [names[r] for r, row in enumerate(rows) if row[i] == li]
                            for li, lv in enumerate(levels)}
    pair_proof = {}
    for (i, (fi, li)), (j, (fj, lj)) in itertools.combinations(enumerate(FACTORS), 2):
        tab = {}
        for a, va in enumerate(li):
            for b, vb in enumerate(lj):
                hits = [names[r] for r, row in enumerate(rows) if row[i] == a and row[j] == b]
                tab[f"{json.dumps(va)},{json.dumps(vb)}"] = hits
        pair_proof[f"{fi} x {fj}"] = tab
    full_product = 1
    for _, lv in FACTORS:
        full_product *= len(lv)
    kind_layer_full = all(any(r[0] == k and r[1] == l for r in rows) for k in range(5) for l in range(3))
    return {
        "strength": 2,
        "factors": [{"name": f, "levels": lv} for f, lv in FACTORS],
        "full_product_size": full_product,
        "rows": len(rows),
        "lower_bound_rows": 15,
        "construction": ("rows start as the full product kind x num_layers (15 rows, in order); for each the "
                         "five binary factors are chosen greedily (AETG-style) to cover the most not-yet-covered "
                         "pairs, candidates shuffled by random.Random(%d) to break ties; further rows are added "
                         "only while a pair is uncovered (none were needed if rows == 15). 15 is the lower bound "
                         "(|kind| x |num_layers|). dropout=0.3 is set on every other multi-layer row "
                         "(not a factor). Level mapping: kind lstm_proj = LSTM with proj_size=%d." % (SEED, P)),
        "matrix_cases": names,
        "table": [dict(zip([f for f, _ in FACTORS], [FACTORS[i][1][row[i]] for i in range(len(FACTORS))]),
                       case=names[k]) for k, row in enumerate(rows)],
        "every_value_covered": all(per_value[f][v] for f in per_value for v in per_value[f]),
        "pairs_required": len(pairs_total),
        "pairs_covered": len(covered & pairs_total),
        "every_pair_covered": pairs_total <= covered,
        "kind_x_num_layers_full_product": kind_layer_full,
        "proof_values": per_value,
        "proof_pairs": pair_proof,
    }


# --- extra cases -------------------------------------------------------------

def make_cells():
    cell_case("rnncell_tanh", "cells", "RNNCell", cell_config("RNNCell"), has_h0=True,
              notes="RNNCell tanh, batched [N, I], h0 given.")
    cell_case("rnncell_relu", "cells", "RNNCell", cell_config("RNNCell", nonlinearity="relu"), has_h0=False,
              notes="RNNCell relu (args carry --nonlinearity relu), batched, no h0 (zeros).")
    cell_case("lstmcell", "cells", "LSTMCell", cell_config("LSTMCell"), has_h0=True,
              notes="LSTMCell batched, (h0, c0) given; h_n = h', c_n = c'.")
    cell_case("lstmcell_nobias", "cells", "LSTMCell", cell_config("LSTMCell", bias=False), has_h0=False,
              notes="LSTMCell bias=False (no bias_ih/bias_hh keys), no initial state.")
    cell_case("grucell", "cells", "GRUCell", cell_config("GRUCell"), has_h0=True,
              notes="GRUCell batched, h0 given.")
    cell_case("lstmcell_unbatched", "cells", "LSTMCell", cell_config("LSTMCell"), has_h0=True, unbatched=True,
              notes="LSTMCell unbatched: input [I], h0/c0 [H], h_n/c_n [H].")
    cell_case("grucell_unbatched", "cells", "GRUCell", cell_config("GRUCell"), has_h0=False, unbatched=True,
              notes="GRUCell unbatched: input [I], no h0, h_n [H].")
    cell_case("rnncell_relu_unbatched", "cells", "RNNCell", cell_config("RNNCell", nonlinearity="relu"),
              has_h0=True, unbatched=True, notes="RNNCell relu unbatched with h0 [H].")


def make_unbatched():
    seq_case("rnn_tanh_unbatched", "unbatched", "RNN", seq_config("RNN"),
             unbatched=True, notes="RNN tanh, input [T, I], no h0; output [T, H], h_n [1, H].")
    seq_case("rnn_tanh_unbatched_h0", "unbatched", "RNN", seq_config("RNN", num_layers=2, bidirectional=True),
             unbatched=True, has_h0=True, notes="RNN tanh 2 layers bidirectional, input [T, I], h0 [4, H].")
    seq_case("lstm_unbatched", "unbatched", "LSTM", seq_config("LSTM", proj_size=P),
             unbatched=True, notes=f"LSTM proj_size={P}, input [T, I], no h0; h_n [1, {P}], c_n [1, {H}].")
    seq_case("lstm_unbatched_h0", "unbatched", "LSTM", seq_config("LSTM", num_layers=2, bidirectional=True),
             unbatched=True, has_h0=True, notes="LSTM 2 layers bidirectional, input [T, I], h0/c0 [4, H].")
    seq_case("gru_unbatched_bf", "unbatched", "GRU", seq_config("GRU", batch_first=True),
             unbatched=True, notes="GRU built with batch_first=True (args carry --batch-first) fed an "
                                   "unbatched [T, I] input: batch_first does not change the unbatched layout.")
    seq_case("gru_unbatched_h0", "unbatched", "GRU", seq_config("GRU", num_layers=2, bidirectional=True),
             unbatched=True, has_h0=True, notes="GRU 2 layers bidirectional, input [T, I], h0 [4, H].")


def make_dtypes():
    seq_case("lstm_f64", "dtypes", "LSTM", seq_config("LSTM", num_layers=2, bidirectional=True),
             has_h0=True, lengths_pattern=[4, 6, 1], file_dtype="float64",
             notes="module.double(): float64 weights, input, states and reference.")
    seq_case("lstm_f16", "dtypes", "LSTM", seq_config("LSTM", num_layers=2, bidirectional=True),
             has_h0=True, file_dtype="float16")
    seq_case("gru_bf16", "dtypes", "GRU", seq_config("GRU", batch_first=True), has_h0=True,
             file_dtype="bfloat16")
    seq_case("rnn_relu_f16", "dtypes", "RNN", seq_config("RNN", nonlinearity="relu", proj_size=0),
             file_dtype="float16")


def make_all_on():
    """Pairwise coverage misses some three-way interactions (e.g. proj_size + bidirectional + lengths);
    one row per kind with every binary factor switched on (bias kept) closes the riskiest ones."""
    for idx, kind_l in enumerate(["rnn_tanh", "rnn_relu", "lstm", "lstm_proj", "gru"]):
        kind = {"rnn_tanh": "RNN", "rnn_relu": "RNN", "lstm": "LSTM", "lstm_proj": "LSTM", "gru": "GRU"}[kind_l]
        cfg = seq_config(kind, num_layers=2, bidirectional=True, batch_first=True, bias=True,
                         proj_size=P if kind_l == "lstm_proj" else 0,
                         nonlinearity={"rnn_tanh": "tanh", "rnn_relu": "relu"}.get(kind_l), dropout=0.3)
        pattern = LENGTH_PATTERNS[(idx + 1) % len(LENGTH_PATTERNS)]
        name = "allon_" + matrix_name((kind_l, 2, True, True, True, True, True))
        seq_case(name, "all_on", kind, cfg, has_h0=True, lengths_pattern=pattern,
                 notes=f"every binary factor on: 2 layers, bidirectional, batch_first, bias, h0, lengths {pattern}.")


def make_long():
    seq_case("lstm_long", "long", "LSTM", seq_config("LSTM"), seq_len=T_LONG, batch=N_LONG,
             notes=f"T={T_LONG}, N={N_LONG}: float32 drift over a long recurrence.")
    seq_case("gru_long", "long", "GRU", seq_config("GRU", num_layers=2, batch_first=True), has_h0=True,
             seq_len=T_LONG, batch=N_LONG, notes=f"T={T_LONG}, N={N_LONG}, 2 layers, batch_first, h0.")
    seq_case("rnn_tanh_long", "long", "RNN", seq_config("RNN"), seq_len=T_LONG, batch=N_LONG,
             notes=f"T={T_LONG}, N={N_LONG}.")
    seq_case("lstm_long_bi_len", "long", "LSTM", seq_config("LSTM", bidirectional=True), has_h0=True,
             lengths_pattern=[77, T_LONG, 1], seq_len=T_LONG, batch=3,
             notes=f"T={T_LONG}, N=3, bidirectional, lengths [77, {T_LONG}, 1] unsorted; reverse direction starts "
                   "at each sequence's own last element.")


class EmbRnnFc(nn.Module):
    def __init__(self, rnn: nn.Module, fc_in: int):
        super().__init__()
        self.emb = nn.Embedding(VOCAB, EMB)
        self.rnn = rnn
        self.fc = nn.Linear(fc_in, 3)

    def forward(self, tokens, hx=None, lengths=None, total_length=None):
        e = self.emb(tokens)
        bf = self.rnn.batch_first
        if lengths is not None:
            packed = pack_padded_sequence(e, torch.tensor(lengths, dtype=torch.int64), batch_first=bf,
                                          enforce_sorted=False)
            o, hn = self.rnn(packed, hx)
            o, _ = pad_packed_sequence(o, batch_first=bf, total_length=total_length)
        else:
            o, hn = self.rnn(e, hx)
        return self.fc(o), hn


def pipeline_check(case, ref):
    name, kind, cfg = case["name"], case["kind"], case["config"]
    sd = load_model_file(case)
    torch.manual_seed(999_999)
    net = EmbRnnFc(build(kind, cfg), case["output_width_in"]).eval()
    net.load_state_dict(sd, strict=True)
    tokens = torch.from_numpy(ref["input"])
    h0 = None if "h0" not in ref else torch.from_numpy(ref["h0"])
    c0 = None if "c0" not in ref else torch.from_numpy(ref["c0"])
    hx = None if h0 is None else ((h0, c0) if kind == "LSTM" else h0)
    lengths = None if "lengths" not in ref else ref["lengths"].tolist()
    with torch.no_grad():
        o, hn = net(tokens, hx, lengths, case["seq_len"])
    got = {"output": o, "h_n": hn[0] if kind == "LSTM" else hn, "c_n": hn[1] if kind == "LSTM" else None}
    compare_exact(name, got, ref)
    # numpy: embedding lookup -> recurrence -> linear (applied to the zero padding too)
    emb = sd["emb.weight"].double().numpy()
    x = emb[ref["input"]]
    params = {k[4:]: v.double().numpy() for k, v in sd.items() if k.startswith("rnn.")}
    ro, rhn, rcn = np_reference(kind, cfg, params, x, ref.get("h0"), ref.get("c0"), ref.get("lengths"), False)
    fo = ro @ sd["fc.weight"].double().numpy().T + sd["fc.bias"].double().numpy()
    worst = max(float(np.abs(fo - ref["output"]).max()), float(np.abs(rhn - ref["h_n"]).max()))
    if rcn is not None:
        worst = max(worst, float(np.abs(rcn - ref["c_n"]).max()))
    assert worst < 2e-5, (name, worst)
    if lengths is not None:
        bias = sd["fc.bias"].numpy()
        for b, ln in enumerate(lengths):
            tail = ref["output"][b, ln:] if cfg["batch_first"] else ref["output"][ln:, b]
            assert np.all(tail == bias), (name, "padded rows should be fc(0) = fc.bias")
    return f"exact; numpy64 max|diff| {worst:.1e}"


def make_pipelines():
    for name, kind, cfg, has_h0, pattern, fc_in in [
        ("pipe_emb_lstm_fc", "LSTM", seq_config("LSTM", input_size=EMB), False, None, H),
        ("pipe_emb_gru_fc_len", "GRU", seq_config("GRU", input_size=EMB, num_layers=2, bidirectional=True,
                                                 batch_first=True), True, [2, 6, 1], 2 * H),
    ]:
        seed = next_seed()
        net = EmbRnnFc(build(kind, cfg), fc_in).eval()
        shape = [N, T] if cfg["batch_first"] else [T, N]
        tokens = torch.randint(1, VOCAB, shape, dtype=torch.int64)  # ids 1..10: garbage past lengths is nonzero
        h0 = 0.5 * torch.randn(state_shape(kind, cfg, N, False)) if has_h0 else None
        c0 = 0.5 * torch.randn(state_shape(kind, cfg, N, False, True)) if (has_h0 and kind == "LSTM") else None
        hx = None if h0 is None else ((h0, c0) if kind == "LSTM" else h0)
        torch.save(net.state_dict(), out(name + ".pt"))
        with torch.no_grad():
            o, hn = net(tokens, hx, pattern, T)
        hn_, cn_ = (hn[0], hn[1]) if kind == "LSTM" else (hn, None)
        ref = reference_members(tokens, h0, c0, pattern, o, hn_, cn_)
        write_npz(name + ".npz", ref)
        notes = (f"state dict of Net(emb=Embedding({VOCAB}, {EMB}), rnn={kind}, fc=Linear({fc_in}, 3)); "
                 "input is int64 token ids; output = fc(rnn output); h_n/c_n are the recurrent stage's.")
        if pattern:
            notes += (f" lengths {pattern}: the rnn output is zero past each length and fc is applied to it "
                      "as PyTorch code would, so output rows past each length equal fc.bias.")
        args = ["--pipeline", "emb,rnn,fc"] + args_for(kind, cfg)
        add_case(name, group="pipeline", kind=kind, cfg=cfg, model=name + ".pt", reference=name + ".npz",
                 args=args, module="rnn", dtype="float32", compute_dtype="float32", ref=ref, seed=seed,
                 notes=notes, check=pipeline_check,
                 extra={"stages": [{"name": "emb", "kind": "Embedding", "num_embeddings": VOCAB,
                                    "embedding_dim": EMB},
                                   {"name": "rnn", "kind": kind},
                                   {"name": "fc", "kind": "Linear", "in_features": fc_in, "out_features": 3}],
                        "output_width": 3, "output_width_in": fc_in})


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(I, H, num_layers=2)
        self.proj = nn.Linear(H, P, bias=False)


class Decoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(P, H)
        self.fc = nn.Linear(H, 2)


class Seq2Seq(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = Encoder()
        self.decoder = Decoder()


class LstmNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(I, H, num_layers=2)
        self.fc = nn.Linear(H, 3)


class ScriptWrapper(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(I, H, num_layers=2)
        self.head = nn.Linear(H, 3)

    def forward(self, x):
        o, (h, c) = self.rnn(x)
        return self.head(o), h, c


def container_case(name, group, kind, cfg, module_obj, rnn, save, *, module, args, load, notes,
                   has_h0=False, lengths_pattern=None, state_path=None, prefix=None, direct=None):
    """Run ``rnn`` (a submodule of module_obj or the module itself), save with ``save(path)``."""
    x, h0, c0, lengths = make_inputs(kind, cfg, seq_len=T, batch=N, unbatched=False, has_h0=has_h0,
                                     lengths_pattern=lengths_pattern, dtype=torch.float32)
    save(out(name + ".pt"))
    o, hn, cn = run_module(rnn, kind, cfg["batch_first"], x, h0, c0, lengths, total_length=T)
    ref = reference_members(x, h0, c0, lengths, o, hn, cn)
    write_npz(name + ".npz", ref)
    pre = module if prefix is None else prefix

    def check(case, r):
        return standard_check(case, r, prefix=pre, direct=direct)

    return ref, add_case(name, group=group, kind=kind, cfg=cfg, model=name + ".pt", reference=name + ".npz",
                         args=args, module=module, dtype="float32", compute_dtype="float32", ref=ref,
                         seed=CURRENT_SEED[0], notes=notes, load=load, check=check,
                         extra={"state_path": state_path} if state_path else None)


CURRENT_SEED = [0]


def seeded():
    CURRENT_SEED[0] = next_seed()


def direct_module(obj, x, h0, c0, lengths):
    kind = type(obj).__name__
    return run_module(obj.eval(), kind, obj.batch_first, x, h0, c0, lengths, total_length=T)


def make_containers():
    # nested prefix
    seeded()
    net = Seq2Seq().eval()
    container_case("nested_encoder_gru", "nested", "GRU", seq_config("GRU", num_layers=2), net, net.encoder.rnn,
                   lambda p: torch.save(net.state_dict(), p), module="encoder.rnn",
                   args=["--module", "encoder.rnn"], load="weights_only", has_h0=True,
                   notes="state dict of a seq2seq model: encoder.rnn.* (GRU, 2 layers) beside encoder.proj.weight, "
                         "decoder.rnn.* (an LSTM(3, 4): a second recurrent module, so --module is needed) and "
                         "decoder.fc.*; reference is encoder.rnn's.")

    # training checkpoint
    seeded()
    net = LstmNet().eval()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    net.train()
    loss = net.fc(net.lstm(torch.randn(T, N, I))[0]).pow(2).mean()
    loss.backward()
    opt.step()
    opt.zero_grad()
    net.eval()
    ckpt = {"epoch": 3, "model_state_dict": net.state_dict(), "optimizer_state_dict": opt.state_dict(),
            "loss": 0.5}
    container_case("train_ckpt_lstm", "training_checkpoint", "LSTM", seq_config("LSTM", num_layers=2), net,
                   net.lstm, lambda p: torch.save(ckpt, p), module="model_state_dict.lstm",
                   args=["--module", "lstm"], load="weights_only", has_h0=True,
                   state_path=["model_state_dict"], prefix="lstm",
                   notes="training checkpoint {'epoch': 3, 'model_state_dict': {lstm.*, fc.*}, "
                         "'optimizer_state_dict': Adam state after one step, 'loss': 0.5}; --module lstm resolves "
                         "to model_state_dict.lstm (the 'module' field gives the full flattened prefix).")

    # full pickled modules
    seeded()
    gru = nn.GRU(I, H, batch_first=True).eval()
    container_case("full_gru_bf", "full_module", "GRU", seq_config("GRU", batch_first=True), gru, gru,
                   lambda p: torch.save(gru, p), module="", args=[], load="full", direct=direct_module,
                   notes="torch.save(nn.GRU(5, 4, batch_first=True)) - whole module pickled; args are empty: "
                         "batch_first must come from the pickle. Needs weights_only=False in torch.")
    seeded()
    rnn = nn.RNN(I, H, 2, nonlinearity="relu").eval()
    container_case("full_rnn_relu_l2", "full_module", "RNN", seq_config("RNN", num_layers=2, nonlinearity="relu"),
                   rnn, rnn, lambda p: torch.save(rnn, p), module="", args=[], load="full", direct=direct_module,
                   has_h0=True, lengths_pattern=[6, 1, 3],
                   notes="torch.save(nn.RNN(5, 4, 2, nonlinearity='relu')) - whole module pickled; args are "
                         "empty: nonlinearity must come from the pickle. Lengths [6, 1, 3], h0 given.")

    # legacy format
    seeded()
    lstm = nn.LSTM(I, H, num_layers=2, bidirectional=True).eval()
    container_case("legacy_lstm", "legacy", "LSTM", seq_config("LSTM", num_layers=2, bidirectional=True), lstm, lstm,
                   lambda p: torch.save(lstm.state_dict(), p, _use_new_zipfile_serialization=False),
                   module="", args=[], load="weights_only", has_h0=True,
                   notes="legacy (pre-1.6) stream, _use_new_zipfile_serialization=False; the file's storage keys "
                         "are memory addresses, so its bytes change on every regeneration.")

    # TorchScript
    def jit_direct_wrapper(obj, x, h0, c0, lengths):
        # A scripted nn.LSTM has no `forward`: its overloads are compiled as forward__0 (Tensor input)
        # and forward__1 (PackedSequence).  Check the submodule and the wrapper's forward agree.
        with torch.no_grad():
            o, (h, c) = obj.rnn.forward__0(x, None)
            y, h2, c2 = obj(x)
            sd = obj.state_dict()
            want = torch.nn.functional.linear(o, sd["head.weight"], sd["head.bias"])
        assert torch.equal(h, h2) and torch.equal(c, c2)
        assert torch.allclose(y, want, rtol=0, atol=1e-6), float((y - want).abs().max())
        return o, h, c

    seeded()
    wrap = ScriptWrapper().eval()
    scripted = torch.jit.script(wrap)
    container_case("script_wrapper_lstm", "torchscript", "LSTM", seq_config("LSTM", num_layers=2), wrap, wrap.rnn,
                   lambda p: torch.jit.save(scripted, p), module="rnn", args=["--module", "rnn"], load="jit",
                   direct=jit_direct_wrapper,
                   notes="torch.jit.save(torch.jit.script(wrapper)): wrapper holds rnn = LSTM(5, 4, 2) and "
                         "head = Linear(4, 3); reference is rnn's own output/h_n/c_n (not the head's).")

    def jit_direct_lstm(obj, x, h0, c0, lengths):
        with torch.no_grad():
            o, (h, c) = obj.forward__0(x, None)  # scripted nn.LSTM: no `forward`, see above
        return o, h, c

    seeded()
    lstm = nn.LSTM(I, H, bidirectional=True).eval()
    scripted2 = torch.jit.script(lstm)
    container_case("script_lstm", "torchscript", "LSTM", seq_config("LSTM", bidirectional=True), lstm, lstm,
                   lambda p: torch.jit.save(scripted2, p), module="", args=[], load="jit", direct=jit_direct_lstm,
                   notes="torch.jit.save(torch.jit.script(nn.LSTM(5, 4, bidirectional=True))): the scripted "
                         "LSTM is the root module.")


def make_mismatches():
    # (a) perturbed output of an LSTM matrix case without lengths
    base = next(c for c in CASES if c["group"] == "matrix" and c["kind"] == "LSTM" and not c["config"]["proj_size"]
                and not c["has_lengths"])
    ref_npz = np.load(out(base["reference"]))
    ref = {k: ref_npz[k].copy() for k in ref_npz.files}
    shape = ref["output"].shape
    idx = (shape[0] // 2, shape[1] - 1, shape[2] - 1)
    before = float(ref["output"][idx])
    ref["output"][idx] = np.float32(before + 1e-3)
    after = float(ref["output"][idx])
    name = "mismatch_lstm_output_perturbed"
    write_npz(name + ".npz", ref)

    def check_a(case, r):
        orig = np.load(out(base["reference"]))
        diff = np.argwhere(r["output"] != orig["output"])
        assert diff.tolist() == [list(idx)], diff
        assert abs(float(r["output"][idx]) - float(orig["output"][idx]) - 1e-3) < 1e-6
        for k in r:
            if k != "output":
                assert np.array_equal(r[k], orig[k]), k
        return f"differs from {base['reference']} only at output{list(idx)} by {after - before:.7f}"

    add_case(name, group="mismatch", kind=base["kind"], cfg=base["config"], model=base["model"],
             reference=name + ".npz", args=base["args"], module="", dtype="float32", compute_dtype="float32",
             ref=ref, seed=base["seed"], expect_exit=1, check=check_a,
             notes=f"reference of {base['name']} with output[{idx[0]}, {idx[1]}, {idx[2]}] moved by +1e-3 "
                   f"({before:.7f} -> {after:.7f}); everything else identical; same model file.")

    # (b) relu RNN verified without --nonlinearity relu
    base_b = next(c for c in CASES if c["group"] == "matrix" and c["config"]["nonlinearity"] == "relu"
                  and not c["has_lengths"])
    ref_npz = np.load(out(base_b["reference"]))
    refb = {k: ref_npz[k] for k in ref_npz.files}
    args_b = [a for a in base_b["args"] if a not in ("--nonlinearity", "relu")]
    assert "--nonlinearity" not in args_b

    def check_b(case, r):
        sd = torch.load(out(base_b["model"]), weights_only=True)
        cfg_t = dict(base_b["config"], nonlinearity="tanh")
        m = fresh_from_state("RNN", cfg_t, sd, torch.float32)
        x, h0, c0, lengths = tensors_from_ref(r)
        o, hn, _ = run_module(m, "RNN", cfg_t["batch_first"], x, h0, c0, lengths, total_length=case["seq_len"])
        d = max(float(np.abs(npy(o) - r["output"]).max()), float(np.abs(npy(hn) - r["h_n"]).max()))
        assert d > 1e-2, d
        return f"tanh run differs from the relu reference by max|diff| {d:.3f}"

    add_case("mismatch_rnn_relu_as_tanh", group="mismatch", kind="RNN", cfg=base_b["config"], model=base_b["model"],
             reference=base_b["reference"], args=args_b, module="", dtype="float32", compute_dtype="float32",
             ref=refb, seed=base_b["seed"], expect_exit=1, check=check_b,
             notes=f"model and reference of {base_b['name']} (a relu RNN) but args omit --nonlinearity relu, so "
                   "ptload runs tanh (nothing in a state dict says relu) and must report a mismatch.")


# ---------------------------------------------------------------------------

GROUP_LINES = {
    "matrix": "pairwise covering array over {RNN tanh, RNN relu, LSTM, LSTM+proj_size, GRU} x num_layers "
              "{1,2,3} x uni/bidirectional x batch_first x bias x h0 x lengths (full product of kind x layers); "
              "plain state dicts; names are KIND_lL_{uni|bi}_{tf|bf}_{bias|nobias}_{h0|noh0}_{len|full}",
    "cells": "RNNCell (tanh, relu), LSTMCell, GRUCell: one step, keys weight_ih/weight_hh/bias_ih/bias_hh; "
             "batched and unbatched, with and without h0, one without bias; no `output` member",
    "unbatched": "RNN/LSTM/GRU fed [T, I] input, with and without h0 ([L*D, H]); one GRU built with batch_first "
                 "to show it does not change the unbatched layout",
    "dtypes": "float64 module (.double(), float64 input/reference); float16 / bfloat16 weights in the file "
              "with the reference computed in float32 from the same weights widened",
    "all_on": "one row per kind with 2 layers, bidirectional, batch_first, bias, h0 and lengths all on "
              "(three-way interactions pairwise coverage can miss, e.g. proj_size + bidirectional + lengths)",
    "long": f"T={T_LONG} sequences (LSTM, GRU, RNN tanh; bidirectional LSTM with lengths) for float32 drift",
    "pipeline": "Embedding -> LSTM/GRU -> Linear state dicts run with --pipeline emb,rnn,fc; int64 token input",
    "nested": "GRU under encoder.rnn beside other layers and a second recurrent module; --module encoder.rnn",
    "training_checkpoint": "{'epoch', 'model_state_dict', 'optimizer_state_dict' (Adam), 'loss'}; --module lstm",
    "full_module": "whole pickled nn.GRU(batch_first=True) / nn.RNN(relu): batch_first and nonlinearity come "
                   "from the pickle, args empty",
    "legacy": "legacy (non-zip) torch.save stream of an LSTM state dict",
    "torchscript": "torch.jit.save of a scripted wrapper (--module rnn) and of a scripted nn.LSTM",
    "mismatch": "expect_exit 1: a reference with one output element moved by 1e-3; a relu RNN run as tanh",
    "wide": "hidden 64-160 and batch 24-32, so a step is split over two threads (LSTM with 24 unsorted lengths, "
            "2-layer batch_first GRU with h0, relu RNN)",
}


def make_wide():
    """Hidden sizes and batches large enough for ptload's two-thread split of a step (several
    32-unit blocks, over 2^18 multiply-adds per step), with unsorted lengths so the active batch
    shrinks while both threads share the step."""
    lengths = [12, 3, 7, 12, 1, 9, 5, 11, 2, 8, 12, 6, 4, 10, 3, 12, 1, 7, 9, 5, 2, 11, 6, 8]
    seq_case("lstm_wide_len", "wide", "LSTM", seq_config("LSTM", input_size=16, hidden_size=96), has_h0=True,
             lengths_pattern=lengths, seq_len=12, batch=24,
             notes="LSTM(16, 96), N=24, 24 unsorted lengths: 3 blocks of 32 units split over two threads.")
    seq_case("gru_wide_bf", "wide", "GRU", seq_config("GRU", input_size=16, hidden_size=64, num_layers=2, batch_first=True),
             has_h0=True, seq_len=10, batch=24, notes="GRU(16, 64, 2 layers), batch_first, N=24.")
    seq_case("rnn_relu_wide", "wide", "RNN", seq_config("RNN", input_size=16, hidden_size=160, nonlinearity="relu"),
             seq_len=8, batch=32, notes="RNN(16, 160, relu), N=32: 5 blocks, an odd split.")


def observe():
    """Facts about PyTorch's behaviour the fixtures rely on, each checked here, for manifest.json."""
    # 1. enforce_sorted=False: h_n in the ORIGINAL batch order (the per-sequence reruns already
    #    assert it for every lengths case); packed vs unpacked runs are not bit-identical.
    worst = 0.0
    for c in CASES:
        if c["has_lengths"] and c["_check"] is standard_check:
            r = dict(np.load(out(c["reference"])))
            sd = torch.load(out(c["model"]), weights_only=True)
            cdt = torch.float64 if c["compute_dtype"] == "float64" else torch.float32
            if cdt == torch.float32:
                m = fresh_from_state(c["kind"], c["config"], sd, cdt)
                worst = max(worst, check_lengths_individually(c["name"], m, c["kind"], c["config"], r))
    SURPRISES.append("pack_padded_sequence(enforce_sorted=False): h_n/c_n come back in the ORIGINAL batch order "
                     "(torch un-permutes them with unsorted_indices), and h0/c0 are taken in original order too; "
                     "checked by re-running every sequence alone. A ragged packed batch is not bit-identical to running "
                     f"each sequence alone (max |diff| {worst:.1e} in float32; the per-step batch shrinks, so the "
                     "matrix products take other paths), while packing a batch whose lengths are all T is "
                     "bit-identical to the unpacked run; compare with a tolerance, not bits.")
    mm = nn.LSTM(I, H, 2, bidirectional=True).eval()
    xx = torch.randn(T, N, I)
    with torch.no_grad():
        a, (ha, _) = mm(xx)
        pp, (hp, _) = mm(pack_padded_sequence(xx, [T] * N, enforce_sorted=False))
        pp, _ = pad_packed_sequence(pp)
    assert torch.equal(a, pp) and torch.equal(ha, hp)
    # 2. proj_size with bidirectional
    m = nn.LSTM(I, H, num_layers=2, bidirectional=True, proj_size=P).eval()
    with torch.no_grad():
        o, (h, c) = m(torch.randn(T, N, I))
    assert list(o.shape) == [T, N, 2 * P] and list(h.shape) == [4, N, P] and list(c.shape) == [4, N, H]
    assert list(m.weight_ih_l1.shape) == [4 * H, 2 * P] and list(m.weight_hr_l0_reverse.shape) == [P, H]
    SURPRISES.append(f"LSTM proj_size={P} bidirectional: output width is 2*proj_size ({2 * P}), not 2*hidden; h_n is "
                     f"[L*D, N, {P}] but c_n stays [L*D, N, {H}]; weight_hh_l* is [4H, proj] and layer 1's weight_ih "
                     f"is [4H, 2*proj]; weight_hr_l*[_reverse] is [proj, hidden].")
    # 3. unbatched cells
    lc, gc = nn.LSTMCell(I, H), nn.GRUCell(I, H)
    with torch.no_grad():
        h1, c1 = lc(torch.randn(I))
        g1 = gc(torch.randn(I))
    assert list(h1.shape) == [H] and list(c1.shape) == [H] and list(g1.shape) == [H]
    SURPRISES.append("Cells accept unbatched input [I] and return [H] (LSTMCell: a tuple of two [H]); with hx=None "
                     "they start from zeros. Sequence modules given unbatched [T, I] return output [T, D*Hout] and "
                     "h_n [L*D, Hout] (the batch axis is squeezed out of the state too).")
    # 4. unbatched + batch_first
    g = nn.GRU(I, H, batch_first=True).eval()
    xu = torch.randn(T, I)
    with torch.no_grad():
        ou, _ = g(xu)
        ob, _ = g(xu.unsqueeze(0))
    assert torch.equal(ou, ob[0]) and list(ou.shape) == [T, H]
    SURPRISES.append("batch_first does not change an unbatched input: it is [T, I] either way (torch unsqueezes "
                     "the batch axis where batch_first says it belongs).")
    # 5. scripted nn.LSTM
    names = torch.jit.load(out("script_lstm.pt"))._c._method_names()
    assert "forward" not in names and "forward__0" in names, names
    SURPRISES.append("torch.jit.script(nn.LSTM) compiles no `forward`: the overloads are forward__0 (Tensor) and "
                     "forward__1 (PackedSequence); a scripted wrapper's code calls rnn.forward__0(x, None). "
                     "torch.jit.script itself now emits a FutureWarning (deprecated in favour of torch.compile / "
                     "torch.export).")
    # 6. full pickles vs weights_only
    for c in CASES:
        if c["load"] == "full":
            try:
                torch.load(out(c["model"]), weights_only=True)
                SURPRISES.append(f"{c['model']}: weights_only=True loads the whole pickled module.")
            except Exception as e:
                first = next((l.strip() for l in str(e).split("\n") if "Unsupported global" in l), "")
                first = first.split(" was not")[0]
                SURPRISES.append(f"{c['model']}: torch.load(weights_only=True) refuses it ({first}); "
                                 "the verification used weights_only=False.")
                break
    # 7. fp16/bf16 widening is exact: load_state_dict into a float32 module gives m.to(low).float()
    SURPRISES.append("Loading float16/bfloat16 state dicts into a float32 module (load_state_dict copies with a "
                     "cast) gives exactly the widened weights, so the low-precision cases reproduce bit for bit.")
    # 8. pipeline padding
    SURPRISES.append("Pipeline with lengths: pad_packed_sequence pads the rnn output with zeros and the Linear "
                     "maps those to fc.bias, so pipe_emb_gru_fc_len's output rows past each length equal fc.bias.")


def write_readme(total_bytes):
    lines = [
        "# ptload recurrent-layer fixtures\n\n",
        f"Generated by `tools/make_rnn_fixtures.py` (`{COMMAND}` from the repo root; it rewrites this folder).\n",
        "Each case in `cases.json` names a model file, an `.npz` reference (np.savez, uncompressed) and the\n",
        "extra flags for `ptload MODEL --verify REF.npz ARGS...`, plus `expect_exit`.  `manifest.json` records\n",
        "versions, seeds, date, command and the covering-array proof.  Reference members: `input`, optional\n",
        "`h0`, `c0`, `lengths`, then `output` (not for cells), `h_n`, `c_n` (LSTM only), in PyTorch's layouts\n",
        "(see the generator's docstring).  Cells have `seq_len` 1; unbatched cases have `batch` 1.\n",
        "Extra case fields: `group`, `seed`, `load` (how torch reads the file back: weights_only / full / jit),\n",
        "`state_path`, `stages`, `output_width`, `output_width_in` where relevant.\n",
        "All files except `legacy_lstm.pt` (storage keys are memory addresses) are byte-stable.\n\n",
        "| group | cases | exercises |\n| --- | --- | --- |\n",
    ]
    for g, text in GROUP_LINES.items():
        n = sum(1 for c in CASES if c["group"] == g)
        lines.append(f"| {g} | {n} | {text} |\n")
    lines.append(f"\n{len(CASES)} cases; {total_bytes} bytes in all, not counting this README.\n")
    with open(out("README.md"), "w") as fh:
        fh.write("".join(lines))


def main() -> int:
    shutil.rmtree(OUT_DIR, ignore_errors=True)
    os.makedirs(OUT_DIR)
    torch.set_num_threads(1)

    covering = make_matrix()
    assert covering["every_value_covered"] and covering["every_pair_covered"], covering["rows"]
    make_cells()
    make_unbatched()
    make_dtypes()
    make_all_on()
    make_long()
    make_pipelines()
    make_containers()
    make_mismatches()
    make_wide()

    names = [c["name"] for c in CASES]
    assert len(names) == len(set(names))

    report = verify_all()
    observe()

    cases_out = []
    for c in CASES:
        d = {k: v for k, v in c.items() if not k.startswith("_")}
        cases_out.append(d)
    with open(out("cases.json"), "w") as fh:
        json.dump(cases_out, fh, indent=1)
        fh.write("\n")

    manifest = {
        "generator": "tools/make_rnn_fixtures.py",
        "command": COMMAND,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "python_version": platform.python_version(),
        "pythonhashseed": os.environ.get("PYTHONHASHSEED"),
        "seeds": {"base": SEED, "rule": "torch.manual_seed(base + k) / np.random.seed(base + k) before case k "
                  "(k counts cases in generation order; each case's seed is in cases.json); verification builds "
                  "fresh modules under torch.manual_seed(999999) so every weight must come from the file; "
                  "covering-array tie-breaks use random.Random(base)"},
        "sizes": {"input_size": I, "hidden_size": H, "proj_size": P, "batch": N, "seq_len": T,
                  "long_seq_len": T_LONG, "long_batch": N_LONG, "vocab": VOCAB, "embedding_dim": EMB},
        "length_patterns": LENGTH_PATTERNS,
        "assert_close_default_tolerances": {
            "source": "torch/testing/_comparison.py _DTYPE_PRECISIONS (rtol, atol)",
            "float16": {"rtol": 1e-3, "atol": 1e-5}, "bfloat16": {"rtol": 1.6e-2, "atol": 1e-5},
            "float32": {"rtol": 1.3e-6, "atol": 1e-5}, "float64": {"rtol": 1e-7, "atol": 1e-7}},
        "covering_array": covering,
        "cases": [c["name"] for c in CASES],
        "verification": {name: detail for name, _, detail in report},
        "observations": SURPRISES,
    }
    with open(out("manifest.json"), "w") as fh:
        json.dump(manifest, fh, indent=1)
        fh.write("\n")

    files = sorted(os.listdir(OUT_DIR))
    for c in CASES:
        assert c["model"] in files and c["reference"] in files, c["name"]
    total = sum(os.path.getsize(out(f)) for f in files)
    write_readme(total)
    total = sum(os.path.getsize(out(f)) for f in os.listdir(OUT_DIR))

    print(f"{'case':40s} exit  verification")
    for name, ex, detail in report:
        print(f"{name:40s} {ex:4d}  {detail}")
    print(f"covering array: {covering['rows']} rows (lower bound 15, full product {covering['full_product_size']}); "
          f"every value: {covering['every_value_covered']}; every pair: {covering['every_pair_covered']} "
          f"({covering['pairs_covered']}/{covering['pairs_required']})")
    print(f"wrote {len(CASES)} cases, {len(os.listdir(OUT_DIR))} files, {total} bytes, to {OUT_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
