"""An independent float64 reference: PyTorch's recurrent maths written out in numpy, on the
weights read back from the checkpoint the case is verified against (weight norm computed here
from g and v). The exporter's truths must match it to rounding."""
from __future__ import annotations

from typing import Dict, List, Mapping, Optional, Tuple

import numpy as np

Arrays = Dict[str, np.ndarray]


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def effective_weights(state: Mapping[str, np.ndarray], prefix: str) -> Arrays:
    """A module's weights by PyTorch's names: `w_g`/`w_v` (torch.nn.utils.weight_norm) and
    `parametrizations.w.original0/1` (parametrizations.weight_norm, dim 0) combined as g·v/‖v‖."""
    p = prefix + "." if prefix else ""
    out: Arrays = {}
    for key, value in state.items():
        if not key.startswith(p):
            continue
        name = key[len(p):]
        if name.startswith("parametrizations."):
            base = name.split(".")[1]
            g = state[p + "parametrizations.%s.original0" % base]
            v = state[p + "parametrizations.%s.original1" % base]
            out[base] = _weight_norm(g, v)
        elif name.endswith("_g") and p + name[:-2] + "_v" in state:
            out[name[:-2]] = _weight_norm(value, state[p + name[:-2] + "_v"])
        elif "." not in name and not name.endswith("_v"):
            out[name] = value.astype(np.float64)
    return out


def _weight_norm(g: np.ndarray, v: np.ndarray) -> np.ndarray:
    v = v.astype(np.float64)
    norm = np.sqrt((v.reshape(v.shape[0], -1) ** 2).sum(axis=1)).reshape((-1,) + (1,) * (v.ndim - 1))
    return g.astype(np.float64) * v / norm


def cell_step(kind: str, w: Arrays, suffix: str, x: np.ndarray, h: np.ndarray, c: Optional[np.ndarray],
              nonlinearity: Optional[str]) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """One step, x: [N, I], h: [N, Hout]: gate order i,f,g,o (LSTM) and r,z,n (GRU)."""
    w_ih, w_hh = w["weight_ih" + suffix], w["weight_hh" + suffix]
    b_ih = w.get("bias_ih" + suffix, np.zeros(w_ih.shape[0]))
    b_hh = w.get("bias_hh" + suffix, np.zeros(w_hh.shape[0]))
    gi, gh = x @ w_ih.T + b_ih, h @ w_hh.T + b_hh
    if kind.startswith("LSTM"):
        i, f, g, o = np.split(gi + gh, 4, axis=1)
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
        if "weight_hr" + suffix in w:
            h = h @ w["weight_hr" + suffix].T
        return h, c
    if kind.startswith("GRU"):
        ri, zi, ni = np.split(gi, 3, axis=1)
        rh, zh, nh = np.split(gh, 3, axis=1)
        r, z = sigmoid(ri + rh), sigmoid(zi + zh)
        n = np.tanh(ni + r * nh)
        return (1 - z) * n + z * h, None
    pre = gi + gh
    return (np.maximum(pre, 0) if nonlinearity == "relu" else np.tanh(pre)), None


def run(kind: str, w: Arrays, x: np.ndarray, h0: Optional[np.ndarray], c0: Optional[np.ndarray],
        lengths: Optional[np.ndarray], batch_first: bool, nonlinearity: Optional[str]) -> Arrays:
    """output, h_n (c_n) of a layer, or h_n (c_n) of a cell, as PyTorch gives them."""
    x = x.astype(np.float64)
    if kind.endswith("Cell"):
        hidden = w["weight_hh"].shape[1]
        unbatched = x.ndim == 1
        xb = x[None] if unbatched else x
        h = h0.astype(np.float64) if h0 is not None else np.zeros((xb.shape[0], hidden))
        c = c0.astype(np.float64) if c0 is not None else (np.zeros_like(h) if kind == "LSTMCell" else None)
        h, c = cell_step(kind, w, "", xb, h.reshape(xb.shape[0], -1), None if c is None else c.reshape(xb.shape[0], -1), nonlinearity)
        out = {"h_n": h[0] if unbatched else h}
        if c is not None:
            out["c_n"] = c[0] if unbatched else c
        return out
    if batch_first:
        x = x.transpose(1, 0, 2)
    steps, batch = x.shape[0], x.shape[1]
    layers = 0
    while "weight_ih_l%d" % layers in w:
        layers += 1
    directions = 2 if "weight_ih_l0_reverse" in w else 1
    out_size = w["weight_hh_l0"].shape[1]
    cell_size = w["weight_hh_l0"].shape[0] // {"LSTM": 4, "GRU": 3, "RNN": 1}[kind]
    lengths_ = lengths.astype(np.int64) if lengths is not None else np.full(batch, steps)
    h_n: List[np.ndarray] = []
    c_n: List[np.ndarray] = []
    layer_input = x
    for layer in range(layers):
        outputs = []
        for d in range(directions):
            suffix = "_l%d%s" % (layer, "_reverse" if d else "")
            index = layer * directions + d
            h = h0[index].astype(np.float64) if h0 is not None else np.zeros((batch, out_size))
            c = c0[index].astype(np.float64) if c0 is not None else np.zeros((batch, cell_size))
            out = np.zeros((steps, batch, out_size))
            for b in range(batch):
                hb, cb = h[b:b + 1], c[b:b + 1]
                order = range(lengths_[b] - 1, -1, -1) if d else range(lengths_[b])
                for t in order:
                    hb, cb2 = cell_step(kind, w, suffix, layer_input[t, b:b + 1], hb, cb, nonlinearity)
                    cb = cb2 if cb2 is not None else cb
                    out[t, b] = hb[0]
                h[b], c[b] = hb[0], cb[0]
            outputs.append(out)
            h_n.append(h)
            c_n.append(c)
        layer_input = np.concatenate(outputs, axis=2)
    output = layer_input.transpose(1, 0, 2) if batch_first else layer_input
    result = {"output": output, "h_n": np.stack(h_n)}
    if kind == "LSTM":
        result["c_n"] = np.stack(c_n)
    return result


def run_case(case: Mapping[str, object], arrays: Mapping[str, np.ndarray], state: Mapping[str, np.ndarray]) -> Arrays:
    """The truths of one manifest case (a pipeline too) from the checkpoint's weights."""
    module = str(case["module"])
    stages = list(case["pipeline"] or [module])  # type: ignore[call-overload]
    x = arrays["input"]
    position = stages.index(module)
    for stage in stages[:position]:
        x = effective_weights(state, stage)["weight"][x]
    result = run(str(case["kind"]), effective_weights(state, module), x, arrays.get("h0"), arrays.get("c0"),
                 arrays.get("lengths"), bool(case["batch_first"]), case["nonlinearity"])  # type: ignore[arg-type]
    for stage in stages[position + 1:]:
        w = effective_weights(state, stage)
        handed = result["h_n"] if str(case["kind"]).endswith("Cell") else result["output"]
        result["output"] = handed @ w["weight"].T + w.get("bias", 0.0)
    return result
