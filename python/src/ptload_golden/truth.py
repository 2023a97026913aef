"""Float64 truths of one recorded call: a float64 copy of the module alone (and of each pipeline
stage) run on exactly the recorded input, initial state and lengths, widened exactly to float64.
Whatever the model did around the call (dropout, casts, its own `_apply`) cannot make a truth
disagree with the input stored beside it.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Dict, List, Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pad_packed_sequence

from .errors import ExportError
from .record import State, Value
from .spec import RecurrentSpec, dtype_name

#: Outputs a case can hold, in the order they are written.
OUTPUTS = ["output", "h_n", "c_n"]


@dataclasses.dataclass
class CaseArrays:
    """The members of one case's .npz, and what the manifest says about them."""

    members: Dict[str, np.ndarray]
    input_dtype: str
    #: Per output: max |PyTorch's own result (widened) - float64 truth|.
    torch_distance: Dict[str, float]


def widen(value: Any) -> Any:
    """Floating-point tensors (in PackedSequences, tuples) widened exactly to float64 on the CPU."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        return value.double() if value.is_floating_point() else value
    if isinstance(value, PackedSequence):
        return PackedSequence(widen(value.data), value.batch_sizes, value.sorted_indices, value.unsorted_indices)
    if isinstance(value, (tuple, list)):
        return tuple(widen(v) for v in value)
    return value


def named_outputs(spec: RecurrentSpec, result: Any) -> Dict[str, torch.Tensor]:
    """output, h_n, c_n of a recurrent result (a packed output padded, as ptload gives it); a
    cell's h' and c' are h_n and c_n."""
    named: Dict[str, torch.Tensor] = {}
    if spec.is_cell:
        state = result
    else:
        out, state = result
        if isinstance(out, PackedSequence):
            out, _ = pad_packed_sequence(out, batch_first=spec.batch_first)
        named["output"] = out
    if isinstance(state, tuple):
        named["h_n"], named["c_n"] = state
    else:
        named["h_n"] = state
    return named


def _stored(t: torch.Tensor) -> np.ndarray:
    """An array as the .npz holds it: bfloat16 widened to float32 (exact; numpy has no bfloat16),
    integers as int64, every other dtype as it is."""
    t = t.detach().cpu()
    if t.dtype == torch.bfloat16:
        t = t.float()
    elif not t.is_floating_point():
        t = t.to(torch.int64)
    return t.contiguous().numpy()


def run_float64(module64: nn.Module, x: Value, hx: State) -> Any:
    with torch.no_grad():
        return module64(widen(x), widen(hx)) if hx is not None else module64(widen(x))


def embedding64(module: nn.Embedding, tokens: torch.Tensor) -> torch.Tensor:
    """torch.nn.Embedding.forward on the float64 weights."""
    weight = module.weight.detach().to("cpu", torch.float64)
    return F.embedding(tokens.cpu(), weight, module.padding_idx, module.max_norm, module.norm_type,
                       module.scale_grad_by_freq, module.sparse)


def linear64(module: nn.Linear, x: torch.Tensor) -> torch.Tensor:
    """torch.nn.Linear.forward on the float64 weights."""
    bias = module.bias.detach().to("cpu", torch.float64) if module.bias is not None else None
    return F.linear(x, module.weight.detach().to("cpu", torch.float64), bias)


def case_arrays(spec: RecurrentSpec, module64: nn.Module, x: Value, hx: State, result: Any, case: str,
                tokens: Optional[torch.Tensor] = None, embedding: Optional[nn.Embedding] = None,
                linear: Optional[nn.Linear] = None, linear_output: Optional[torch.Tensor] = None) -> CaseArrays:
    """The .npz members of one case: the recorded input (or an Embedding's `tokens`), h0, c0,
    lengths; the float64 truths; PyTorch's own results as `torch_<name>`.

    - Throws: ExportError when a result holds NaN or infinity (no distance can be written).
    """
    members: Dict[str, np.ndarray] = {}
    recorded = named_outputs(spec, result)
    with torch.no_grad():
        if tokens is not None and embedding is not None:
            x64: Value = embedding64(embedding, tokens)
            members["input"] = _stored(tokens)
            input_dtype = "int64"
        else:
            x64 = widen(x)
            data = x.data if isinstance(x, PackedSequence) else x
            input_dtype = dtype_name(data.dtype)
            if isinstance(x, PackedSequence):
                padded, lengths = pad_packed_sequence(x, batch_first=spec.batch_first)
                members["input"] = _stored(padded)
                members["lengths"] = lengths.to(torch.int64).numpy()
            else:
                members["input"] = _stored(x)
        if isinstance(hx, tuple):
            members["h0"], members["c0"] = _stored(hx[0]), _stored(hx[1])
        elif hx is not None:
            members["h0"] = _stored(hx)
        truth = named_outputs(spec, run_float64(module64, x64, hx))
        if linear is not None and linear_output is not None:
            handed = truth["h_n"] if spec.is_cell else truth["output"]
            truth["output"] = linear64(linear, handed)
            recorded["output"] = linear_output
    distance: Dict[str, float] = {}
    for name in OUTPUTS:
        if name not in truth:
            continue
        exact, own = truth[name], recorded[name].detach().cpu()
        if tuple(exact.shape) != tuple(own.shape):
            raise ExportError("%s: %s has shape %s in PyTorch's run and %s in the float64 run"
                              % (case, name, list(own.shape), list(exact.shape)))
        d = float((own.double() - exact).abs().max()) if exact.numel() else 0.0
        if not math.isfinite(d):
            raise ExportError("%s: %s holds NaN or infinity (PyTorch's %s result or the float64 truth): no distance "
                              "can be recorded" % (case, name, dtype_name(own.dtype)))
        members[name] = exact.numpy()
        members["torch_" + name] = _stored(own)
        distance[name] = d
    return CaseArrays(members=members, input_dtype=input_dtype, torch_distance=distance)


def output_names(arrays: CaseArrays) -> List[str]:
    return [n for n in OUTPUTS if n in arrays.members]
