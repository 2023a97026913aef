#!/usr/bin/env python3
"""Golden outputs of a PyTorch model's recurrent layers, for `ptload MODEL --verify golden.json`.

Runs the model once in eval mode under torch.no_grad(), with a forward hook on every recurrent
submodule (nn.RNN, nn.LSTM, nn.GRU and their cells): each call's input, initial state and, for a
PackedSequence, the lengths (written padded, as ptload takes them), and its outputs. Where an
nn.Embedding's output is a recurrent call's input, or a recurrent call's output is an
nn.Linear's input (the same tensor), the chain is a second case, a pipeline (`--pipeline`). A float64
copy of the model runs on the same inputs, and its outputs are the truths ptload is judged
against (with the float32 tolerances): on long or deep models PyTorch's own float32 result
drifts from the exact one by more than those tolerances, and a float32 reference would blame a
correct implementation. Writes

    OUT/model.pt        model.state_dict()
    OUT/<case>.npz      input, h0, c0, lengths; output, h_n, c_n (float64 truths), and
                        torch_float32_output, … (PyTorch's own float32 results, for the record)
    OUT/golden.json     the manifest: versions, the model class, one case per recorded call

As a module:

    import ptload_golden
    ptload_golden.export(model, (tokens, lengths), "golden/")

From the command line (inputs.pt holds the tuple of positional arguments, loaded with
weights_only=True; the checkpoint is a state dict, loaded the same way):

    python tools/ptload_golden.py --factory pkg.module:build_model --checkpoint ckpt.pt \\
        --inputs inputs.pt --out DIR [--max-calls 4]

Then, where the Swift code lives: ptload DIR/model.pt --verify DIR/golden.json [--junit r.xml].
Needs only torch and numpy.
"""
import argparse
import copy
import importlib
import json
import os
import re
import sys

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pad_packed_sequence

FORMAT = "ptload-golden"
FORMAT_VERSION = 1
RECURRENT = (nn.RNNBase, nn.RNNCellBase)


def _kind(module):
    if isinstance(module, nn.LSTM):
        return "LSTM"
    if isinstance(module, nn.GRU):
        return "GRU"
    if isinstance(module, nn.RNN):
        return "RNN"
    if isinstance(module, nn.LSTMCell):
        return "LSTMCell"
    if isinstance(module, nn.GRUCell):
        return "GRUCell"
    if isinstance(module, nn.RNNCell):
        return "RNNCell"
    raise TypeError("not a recurrent module: %s" % type(module).__name__)


def _array(t):
    return t.detach().cpu().contiguous().numpy()


def _unpack(module, value):
    """A PackedSequence as ptload takes it: padded (zeros past each length) and the lengths, in the
    batch's original order; anything else as it is."""
    if isinstance(value, PackedSequence):
        batch_first = getattr(module, "batch_first", False)
        padded, lengths = pad_packed_sequence(value, batch_first=batch_first)
        return padded, lengths.to(torch.int64)
    return value, None


def _record_call(module, args, kwargs, output):
    """One call's arrays: input, h0, c0, lengths; output, h_n, c_n."""
    arrays = {}
    x = args[0] if args else kwargs.get("input")
    hx = args[1] if len(args) > 1 else kwargs.get("hx")
    x, lengths = _unpack(module, x)
    arrays["input"] = x
    if lengths is not None:
        arrays["lengths"] = lengths
    if isinstance(hx, tuple):
        arrays["h0"], arrays["c0"] = hx
    elif hx is not None:
        arrays["h0"] = hx
    if isinstance(module, nn.RNNBase):
        out, state = output
        out, _ = _unpack(module, out)
        arrays["output"] = out
        if isinstance(state, tuple):
            arrays["h_n"], arrays["c_n"] = state
        else:
            arrays["h_n"] = state
    else:
        if isinstance(output, tuple):
            arrays["h_n"], arrays["c_n"] = output
        else:
            arrays["h_n"] = output
    return {k: v for k, v in arrays.items() if v is not None}


def _raw_output(module, output):
    """The tensor a recurrent call hands on: a layer's output (not a PackedSequence), a cell's h'."""
    value = output[0] if isinstance(module, nn.RNNBase) or isinstance(output, tuple) else output
    return value if isinstance(value, torch.Tensor) else None


def _run_recorded(model, args, kwargs, max_calls):
    """Runs `model` once, recording the calls of every recurrent submodule, {(name, index): arrays},
    and the pipelines around them: an Embedding whose output is a recurrent call's input, a Linear
    whose input is its output (the same tensor object), {(name, index): (prefixes, arrays)}."""
    calls, counts, handles = {}, {}, []
    links = {}        # (name, index) -> (input object, output tensor) of recurrent calls
    around = []       # (kind, name, input, output) of Embedding / Linear calls
    for name, module in model.named_modules():
        if isinstance(module, RECURRENT):
            def hook(module, hook_args, hook_kwargs, output, name=name):
                index = counts.get(name, 0)
                counts[name] = index + 1
                if index < max_calls:
                    calls[(name, index)] = _record_call(module, hook_args, hook_kwargs, output)
                    raw_input = hook_args[0] if hook_args else hook_kwargs.get("input")
                    links[(name, index)] = (raw_input, _raw_output(module, output))
            handles.append(module.register_forward_hook(hook, with_kwargs=True))
        elif isinstance(module, (nn.Embedding, nn.Linear)):
            def side(module, hook_args, output, name=name):
                around.append(("embedding" if isinstance(module, nn.Embedding) else "linear", name, hook_args[0], output))
            handles.append(module.register_forward_hook(side))
    try:
        with torch.no_grad():
            model(*args, **kwargs)
    finally:
        for h in handles:
            h.remove()
    pipelines = {}
    for key, (raw_input, raw_output) in links.items():
        before = next((a for a in around if a[0] == "embedding" and a[3] is raw_input), None)
        after = next((a for a in around if a[0] == "linear" and raw_output is not None and a[2] is raw_output), None)
        if before is None and after is None:
            continue
        arrays = dict(calls[key])
        prefixes = [key[0]]
        if before is not None:
            prefixes.insert(0, before[1])
            arrays["input"] = before[2]
        if after is not None:
            prefixes.append(after[1])
            arrays["output"] = after[3]
        pipelines[key] = (prefixes, arrays)
    return calls, counts, pipelines


def _to_double(value):
    if isinstance(value, torch.Tensor):
        return value.double() if value.is_floating_point() else value
    if isinstance(value, PackedSequence):
        return value._replace(data=_to_double(value.data))
    if isinstance(value, tuple):
        return tuple(_to_double(v) for v in value)
    if isinstance(value, list):
        return [_to_double(v) for v in value]
    if isinstance(value, dict):
        return {k: _to_double(v) for k, v in value.items()}
    return value


def _case_name(name, index, calls):
    base = name if name else "root"
    return "%s#%d" % (base, index) if calls > 1 or index > 0 else base


def _file_name(case):
    return re.sub(r"[^A-Za-z0-9._-]", "_", case.replace("#", ".call")) + ".npz"


def export(model, args, out_dir, kwargs=None, max_calls=4):
    """Exports `model`'s recurrent calls on `model(*args, **kwargs)` to `out_dir` (see the module
    documentation). Returns the manifest written to out_dir/golden.json."""
    kwargs = kwargs or {}
    if not isinstance(args, tuple):
        args = (args,)
    os.makedirs(out_dir, exist_ok=True)
    model.eval()
    calls32, counts, pipelines32 = _run_recorded(model, args, kwargs, max_calls)
    if not calls32:
        raise ValueError("the model called no nn.RNN/LSTM/GRU or cell: nothing to export")
    model64 = copy.deepcopy(model).double()
    model64.eval()
    calls64, _, pipelines64 = _run_recorded(model64, _to_double(args), _to_double(kwargs), max_calls)
    torch.save(model.state_dict(), os.path.join(out_dir, "model.pt"))
    modules = dict(model.named_modules())
    cases = []

    def write_case(case, npz, module_name, index, arrays, truth, pipeline=None):
        module = modules[module_name]
        members = {}
        for key in ["input", "h0", "c0", "lengths"]:
            if key in arrays:
                members[key] = _array(arrays[key])
        for key in ["output", "h_n", "c_n"]:
            if key in arrays:
                members["torch_float32_" + key] = _array(arrays[key])
                members[key] = _array((truth or arrays)[key])
        np.savez(os.path.join(out_dir, npz), **members)
        weight = next(module.parameters(), None)
        entry = {
            "name": case,
            "npz": npz,
            "module": module_name,
            "kind": _kind(module),
            "call": index,
            "batch_first": bool(getattr(module, "batch_first", False)),
            "nonlinearity": getattr(module, "nonlinearity", None),
            "dtype": str(weight.dtype).replace("torch.", "") if weight is not None else "float32",
            "truth": "float64" if truth is not None else str(arrays["h_n"].dtype).replace("torch.", ""),
            "lengths": "lengths" in arrays,
        }
        if pipeline:
            entry["pipeline"] = pipeline
        cases.append(entry)

    for (name, index), arrays in calls32.items():
        case = _case_name(name, index, counts[name])
        write_case(case, _file_name(case), name, index, arrays, calls64.get((name, index)))
    for (name, index), (prefixes, arrays) in pipelines32.items():
        truth = pipelines64.get((name, index))
        case = _case_name(",".join(prefixes), index, counts[name])
        write_case(case, _file_name("pipeline." + case), name, index, arrays, truth[1] if truth else None, prefixes)
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "model_class": type(model).__module__ + "." + type(model).__qualname__,
        "checkpoint": "model.pt",
        "cases": cases,
    }
    with open(os.path.join(out_dir, "golden.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    return manifest


def _factory(spec):
    module_name, _, function = spec.partition(":")
    if not module_name or not function:
        raise SystemExit("--factory takes pkg.module:function, not %r" % spec)
    return getattr(importlib.import_module(module_name), function)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Export golden outputs of a model's recurrent layers for ptload.")
    parser.add_argument("--factory", required=True, help="pkg.module:function that returns the model (called with no arguments)")
    parser.add_argument("--checkpoint", help="a state dict to load into the model (weights_only=True)")
    parser.add_argument("--inputs", required=True, help="a .pt file holding the tuple of positional arguments (weights_only=True)")
    parser.add_argument("--out", required=True, help="the folder to write model.pt, the .npz files and golden.json to")
    parser.add_argument("--max-calls", type=int, default=4, help="calls recorded per module (a cell in a loop): default 4")
    a = parser.parse_args(argv)
    sys.path.insert(0, os.getcwd())
    model = _factory(a.factory)()
    if a.checkpoint:
        model.load_state_dict(torch.load(a.checkpoint, weights_only=True))
    inputs = torch.load(a.inputs, weights_only=True)
    if not isinstance(inputs, tuple):
        inputs = (inputs,)
    manifest = export(model, inputs, a.out, max_calls=a.max_calls)
    print("%s: %d cases from %s" % (os.path.join(a.out, "golden.json"), len(manifest["cases"]), manifest["model_class"]))


if __name__ == "__main__":
    main()
