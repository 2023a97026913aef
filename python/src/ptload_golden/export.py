"""export() records a whole model's recurrent calls; export_module() exports one module on the
arguments it is given (the way for TorchScript, where no hook sees a call). Both write

    OUT/model.pt      the state dict ptload reads (export_module: only without `path`)
    OUT/<case>.npz    input, h0, c0, lengths; float64 truths output, h_n, c_n; torch_output, …
    OUT/golden.json   the manifest (format_version 2)
"""
from __future__ import annotations

import json
import os
import re
import warnings
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn

from .errors import ExportError, ScriptedModulesError
from .record import Call, Recorder, call_arguments, copy_value
from .spec import (RecurrentSpec, dtype_name, find_recurrent, float64_weights, is_script, kind_of,
                   own_weights, parameter_dtype, spec_of)
from .truth import CaseArrays, case_arrays
from .version import FORMAT, FORMAT_VERSION, __version__

#: The prefix export_module gives the module's weights in OUT/model.pt when no `path` is given.
DEFAULT_PREFIX = "rnn"


def export(model: nn.Module, args: Any, out_dir: str, kwargs: Optional[Mapping[str, Any]] = None,
           max_calls: int = 4) -> Dict[str, Any]:
    """Exports the recurrent calls of `model(*args, **kwargs)` to `out_dir`.

    The model runs once, in its own dtype, in eval mode under torch.no_grad(), with forward hooks
    on its recurrent submodules (nn.RNN, nn.LSTM, nn.GRU, their cells), recording up to
    `max_calls` calls of each. Every recorded call is then run again by a float64 copy of that
    module alone, built from its configuration and its (effective) weights, on exactly the
    recorded input, state and lengths: that is the call's truth. An nn.Embedding whose output
    is the call's input, or an nn.Linear whose input is its output, makes a second, pipeline case.
    The model's training flags are restored afterwards.

    - Parameters:
      - model: any nn.Module, in any dtype (float16 and bfloat16 too), possibly nn.DataParallel.
      - args: the positional arguments of one forward call (a tuple, or a single tensor).
      - out_dir: created if needed; model.pt, the .npz files and golden.json are written there.
      - kwargs: keyword arguments of the forward call.
      - max_calls: calls recorded per module (a cell called in a loop).
    - Returns: the manifest written to out_dir/golden.json.
    - Throws: ScriptedModulesError when the recurrent modules are TorchScript (use export_module);
      ExportError when nothing recurrent is called.
    """
    if not isinstance(args, tuple):
        args = (args,)
    found = find_recurrent(model)
    if not found:
        raise ExportError("%s holds no nn.RNN/LSTM/GRU or cell: nothing to export" % _class_name(model))
    modules = dict(model.named_modules())
    scripted = [path for path, _ in found if is_script(modules[path])]
    if len(scripted) == len(found):
        raise ScriptedModulesError(found, scripted)
    training = {name: m.training for name, m in modules.items()}
    model.eval()
    try:
        with Recorder(model, max_calls) as recorder, torch.no_grad():
            model(*args, **(dict(kwargs) if kwargs else {}))
    finally:
        for name, m in modules.items():
            m.training = training[name]
    if not recorder.calls:
        if scripted:
            raise ScriptedModulesError(found, scripted)
        raise ExportError("the model called none of its recurrent modules (%s): nothing to export"
                          % ", ".join(p or "<root>" for p, _ in found))
    if recorder.custom:
        warnings.warn("%s override forward: their truths are PyTorch's plain module's on their weights (what ptload "
                      "computes), and their torch_distance says how far their own forward is from that"
                      % ", ".join(p or "<root>" for p in recorder.custom), stacklevel=2)
    if scripted:
        warnings.warn("not exported: TorchScript recurrent submodules %s (no hook sees their calls); "
                      "export them with ptload_golden.export_module" % ", ".join(p or "<root>" for p in scripted), stacklevel=2)
    os.makedirs(out_dir, exist_ok=True)
    torch.save(model.state_dict(), os.path.join(out_dir, "model.pt"))
    cases: List[Dict[str, Any]] = []
    truth_modules: Dict[str, nn.Module] = {}
    for call in recorder.calls:
        module64 = truth_modules.get(call.path)
        if module64 is None:
            module64 = truth_modules[call.path] = call.spec.build(float64_weights(call.module, call.spec))
        case = _case_name(call.path, call.index, recorder.counts[call.path])
        arrays = case_arrays(call.spec, module64, call.input, call.hx, call.result, case)
        cases.append(_write_case(out_dir, case, _file_name(case), call, arrays, None))
    for call in recorder.calls:
        if call.before is None and call.after is None:
            continue
        stages = ([call.before.path] if call.before else []) + [call.path] + ([call.after.path] if call.after else [])
        case = _case_name(",".join(stages), call.index, recorder.counts[call.path])
        arrays = case_arrays(call.spec, truth_modules[call.path], call.input, call.hx, call.result, case,
                             tokens=call.before.value if call.before else None,
                             embedding=call.before.module if call.before else None,  # type: ignore[arg-type]
                             linear=call.after.module if call.after else None,  # type: ignore[arg-type]
                             linear_output=call.after.value if call.after else None)
        cases.append(_write_case(out_dir, case, _file_name("pipeline." + case), call, arrays, stages))
    return _write_manifest(out_dir, _class_name(model), "model.pt", cases)


def export_module(module: nn.Module, args: Any, out_dir: str, path: Optional[str] = None, *,
                  batch_first: Optional[bool] = None, nonlinearity: Optional[str] = None,
                  checkpoint: Optional[str] = None) -> Dict[str, Any]:
    """Exports one call of one recurrent module, eager or TorchScript, on arguments you give it.

    For TorchScript models (torch.jit.script, torch.jit.trace, torch.jit.load), whose calls no
    forward hook sees: pass the recurrent submodule and the arguments of its own call. PyTorch's
    own result is the module's; where TorchScript does not take these arguments or returns
    something else (a traced submodule, a scripted nn.LSTM's overloads), an eager module of the
    same configuration, dtype and weights gives it. The truth comes from a float64 eager module
    of the same configuration.

        m = torch.jit.load("model.jit")
        ptload_golden.export_module(m._model.decoder.rnn, (x, (h0, c0)), "golden/", path="_model.decoder.rnn")
        # then: ptload model.jit --verify golden/golden.json

    - Parameters:
      - module: nn.RNN/LSTM/GRU or a cell, eager or TorchScript.
      - args: the module's own call: `(x,)`, `(x, h0)`, `(x, (h0, c0))`; x may be a PackedSequence.
      - out_dir: created if needed.
      - path: the module's dotted prefix in the checkpoint you will verify. Without it, the
        module's state dict is written to out_dir/model.pt under the prefix `rnn` (DEFAULT_PREFIX),
        so the folder verifies on its own: `ptload out/model.pt --verify out/golden.json`.
      - batch_first, nonlinearity: needed only for a traced layer (RNN), which keeps no attributes
        and whose graph does not show them.
      - checkpoint: the file the manifest names as its checkpoint when `path` is given (informational).
    - Returns: the manifest written to out_dir/golden.json.
    - Throws: ExportError for a module that is not recurrent or arguments it does not take.
    """
    kind = kind_of(module)
    if kind is None:
        raise ExportError("export_module exports an nn.RNN/LSTM/GRU or cell (eager or TorchScript), not %s"
                          % _class_name(module))
    if not isinstance(args, tuple):
        args = (args,)
    if not 1 <= len(args) <= 2:
        raise ExportError("args is the module's own call: (x,), (x, h0) or (x, (h0, c0)); got %d arguments" % len(args))
    spec = spec_of(module, batch_first=batch_first, nonlinearity=nonlinearity)
    x, hx = call_arguments(args, {})
    training = module.training
    module.eval()
    try:
        with torch.no_grad():
            result = _own_result(module, spec, args)
    finally:
        module.train(training)
    prefix = path if path is not None else DEFAULT_PREFIX
    os.makedirs(out_dir, exist_ok=True)
    if path is None:
        torch.save({"%s.%s" % (prefix, k): v for k, v in module.state_dict().items()},
                   os.path.join(out_dir, "model.pt"))
        checkpoint = "model.pt"
    call = Call(path=prefix, index=0, module=module, spec=spec, input=copy_value(x), hx=copy_value(hx),
                result=copy_value(result))
    case = prefix or "root"
    arrays = case_arrays(spec, spec.build(float64_weights(module, spec)), call.input, call.hx, call.result, case)
    entry = _write_case(out_dir, case, _file_name(case), call, arrays, None)
    return _write_manifest(out_dir, _class_name(module), checkpoint, [entry])


def _own_result(module: nn.Module, spec: RecurrentSpec, args: Tuple[Any, ...]) -> Any:
    """PyTorch's own result of `module(*args)`. A TorchScript module that does not take these
    arguments or returns something else (a traced submodule cannot be called alone, or was traced
    without h0, or returns only the output its caller used; a scripted nn.LSTM has only its
    overloads forward__0/forward__1) is run as an eager module of the same configuration, dtype
    and weights: the same aten::lstm & co. that its graph calls."""
    if not is_script(module):
        return module(*args)
    for method in ["forward", "forward__0", "forward__1"]:
        try:
            result = getattr(module, method)(*args) if method != "forward" else module(*args)
        except (AttributeError, RuntimeError):
            continue
        if _is_result(spec, result):
            return result
    return spec.build(own_weights(module, spec), dtype=parameter_dtype(module))(*args)


def _is_result(spec: RecurrentSpec, result: Any) -> bool:
    """Whether `result` is what the eager module returns: (output, h_n) or (output, (h_n, c_n))
    for a layer, h' or (h', c') for a cell."""
    def tensors(value: Any, count: int) -> bool:
        return isinstance(value, tuple) and len(value) == count and all(isinstance(v, torch.Tensor) for v in value)
    if spec.is_cell:
        return tensors(result, 2) if spec.kind == "LSTMCell" else isinstance(result, torch.Tensor)
    if not isinstance(result, tuple) or len(result) != 2:
        return False
    return tensors(result[1], 2) if spec.kind == "LSTM" else isinstance(result[1], torch.Tensor)


def _class_name(model: nn.Module) -> str:
    """`pkg.module.Class`; TorchScript's qualified name for a script module."""
    if is_script(model):
        try:
            return str(getattr(model, "_c")._type().qualified_name())
        except (AttributeError, RuntimeError):
            return str(getattr(model, "original_name", type(model).__name__))
    return type(model).__module__ + "." + type(model).__qualname__


def _case_name(path: str, index: int, calls: int) -> str:
    base = path if path else "root"
    return "%s#%d" % (base, index) if calls > 1 or index > 0 else base


def _file_name(case: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", case.replace("#", ".call")) + ".npz"


def _write_case(out_dir: str, case: str, npz: str, call: Call, arrays: CaseArrays,
                pipeline: Optional[Sequence[str]]) -> Dict[str, Any]:
    np.savez(os.path.join(out_dir, npz), **arrays.members)  # type: ignore[arg-type]
    spec: RecurrentSpec = call.spec
    return {
        "name": case,
        "npz": npz,
        "module": call.path,
        "pipeline": list(pipeline) if pipeline else None,
        "kind": spec.kind,
        "call": call.index,
        "batch_first": spec.batch_first,
        "nonlinearity": spec.nonlinearity,
        "dtype": dtype_name(parameter_dtype(call.module)),
        "input_dtype": arrays.input_dtype,
        "truth": "float64",
        "lengths": "lengths" in arrays.members,
        "torch_distance": arrays.torch_distance,
    }


def _write_manifest(out_dir: str, model_class: str, checkpoint: Optional[str],
                    cases: List[Dict[str, Any]]) -> Dict[str, Any]:
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "exporter": "ptload-golden %s" % __version__,
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "model_class": model_class,
        "checkpoint": checkpoint,
        "cases": cases,
    }
    with open(os.path.join(out_dir, "golden.json"), "w") as f:
        json.dump(manifest, f, indent=1, allow_nan=False)
        f.write("\n")
    return manifest


