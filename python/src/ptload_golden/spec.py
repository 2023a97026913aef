"""What a recurrent module is, read from an eager, scripted or traced module: its kind, its
configuration and its weights; and an eager module of the same configuration in any dtype.

The float64 truths come from such a fresh module (torch.nn.LSTM & co., built on the meta device,
so no random initialisation runs and the global generator is untouched), never from the user's
module: its `.double()`/`_apply` may be overridden, its forward may make float32 tensors, and a
TorchScript module cannot be converted at all.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Dict, List, Optional, Tuple

import torch
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.weight_norm import WeightNorm

from .errors import ExportError

#: Recurrent layers and cells by the names PyTorch gives them (also TorchScript's `original_name`).
LAYERS: Dict[str, Any] = {"RNN": nn.RNN, "LSTM": nn.LSTM, "GRU": nn.GRU}
CELLS: Dict[str, Any] = {"RNNCell": nn.RNNCell, "LSTMCell": nn.LSTMCell, "GRUCell": nn.GRUCell}
_GATES = {"RNN": 1, "LSTM": 4, "GRU": 3, "RNNCell": 1, "LSTMCell": 4, "GRUCell": 3}
# The ATen ops a traced module's graph calls: torch/nn/modules/rnn.py's _VF calls.
_TRACED_OPS = {"aten::lstm": "LSTM", "aten::gru": "GRU", "aten::rnn_tanh": "RNN", "aten::rnn_relu": "RNN",
               "aten::rnn_tanh_cell": "RNNCell", "aten::rnn_relu_cell": "RNNCell"}


def is_script(module: nn.Module) -> bool:
    """Whether `module` is TorchScript (scripted, traced or loaded with torch.jit.load)."""
    return isinstance(module, torch.jit.ScriptModule)


def kind_of(module: nn.Module) -> Optional[str]:
    """`LSTM`, `GRUCell`, … for a recurrent module, eager or TorchScript; None for anything else."""
    for kind, cls in {**LAYERS, **CELLS}.items():
        if isinstance(module, cls):
            return kind
    if is_script(module):
        name = getattr(module, "original_name", None)
        if name in _GATES:
            return str(name)
    return None


def find_recurrent(model: nn.Module) -> List[Tuple[str, str]]:
    """(dotted path, kind) of every recurrent submodule of `model`, eager or TorchScript, in
    `named_modules()` order. The paths are the state_dict prefixes ptload takes (`--module`)."""
    return [(path, kind) for path, module in model.named_modules() for kind in [kind_of(module)] if kind]


def dtype_name(dtype: torch.dtype) -> str:
    """`float32` for torch.float32."""
    return str(dtype).replace("torch.", "")


@dataclasses.dataclass(frozen=True)
class RecurrentSpec:
    """A recurrent module's configuration, as its constructor takes it (dropout left out: the
    exporter records eval-mode calls, where PyTorch applies none)."""

    kind: str
    input_size: int
    hidden_size: int
    num_layers: int = 1
    bias: bool = True
    batch_first: bool = False
    bidirectional: bool = False
    proj_size: int = 0
    #: `tanh` or `relu` for RNN and RNNCell, None for the others.
    nonlinearity: Optional[str] = None

    @property
    def is_cell(self) -> bool:
        return self.kind in CELLS

    def parameter_names(self) -> List[str]:
        """The weights in PyTorch's order (RNNBase._flat_weights_names for layers)."""
        kinds = ["weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if self.bias else [])
        if self.is_cell:
            return kinds
        if self.proj_size > 0:
            kinds = kinds + ["weight_hr"]
        return ["%s_l%d%s" % (k, layer, suffix) for layer in range(self.num_layers)
                for suffix in (["", "_reverse"] if self.bidirectional else [""]) for k in kinds]

    def build(self, weights: Dict[str, torch.Tensor], dtype: torch.dtype = torch.float64) -> nn.Module:
        """A fresh eager module of this configuration in `dtype`, on the CPU, in eval mode, holding
        `weights` (by name, converted to `dtype`)."""
        meta = {"device": "meta", "dtype": dtype}
        extra: Dict[str, Any] = {}
        if self.is_cell:
            if self.kind == "RNNCell":
                extra["nonlinearity"] = self.nonlinearity
            built = CELLS[self.kind](self.input_size, self.hidden_size, bias=self.bias, **extra, **meta)
        else:
            if self.kind == "RNN":
                extra["nonlinearity"] = self.nonlinearity
            if self.kind == "LSTM":
                extra["proj_size"] = self.proj_size
            built = LAYERS[self.kind](self.input_size, self.hidden_size, num_layers=self.num_layers, bias=self.bias,
                                       batch_first=self.batch_first, dropout=0.0, bidirectional=self.bidirectional,
                                       **extra, **meta)
        module: nn.Module = built.to_empty(device="cpu")
        with torch.no_grad():
            for name in self.parameter_names():
                target = getattr(module, name)
                source = weights[name]
                if tuple(source.shape) != tuple(target.shape):
                    raise ExportError("%s has shape %s; %s needs %s" % (name, list(source.shape), self.describe(),
                                                                         list(target.shape)))
                target.copy_(source.detach().to(device="cpu", dtype=dtype))
        module.eval()
        return module

    def describe(self) -> str:
        """`LSTM(40, 256, num_layers=3)`, as PyTorch prints it."""
        parts = ["%d" % self.input_size, "%d" % self.hidden_size]
        defaults = RecurrentSpec(self.kind, self.input_size, self.hidden_size,
                                 nonlinearity="tanh" if self.kind in ("RNN", "RNNCell") else None)
        for field in ["num_layers", "bias", "batch_first", "bidirectional", "proj_size", "nonlinearity"]:
            if getattr(self, field) != getattr(defaults, field):
                parts.append("%s=%r" % (field, getattr(self, field)))
        return "%s(%s)" % (self.kind, ", ".join(parts))


def spec_of(module: nn.Module, batch_first: Optional[bool] = None, nonlinearity: Optional[str] = None) -> RecurrentSpec:
    """The configuration of a recurrent module: from its attributes (eager, scripted, or loaded
    with torch.jit.load), else from its weights' shapes and, for a traced module, the constants
    of the ATen call in its graph. `batch_first` and `nonlinearity` are needed only where
    neither tells (they must agree with the module where it does).

    - Throws: ExportError for a module that is not recurrent, or whose configuration is unknown.
    """
    kind = kind_of(module)
    if kind is None:
        raise ExportError("%s is not an nn.RNN/LSTM/GRU or cell" % type(module).__name__)
    weights = own_weights(module, None)
    gates = _GATES[kind]
    traced = _traced_constants(module) if is_script(module) else {}

    def attribute(name: str, fallback: object) -> object:
        try:
            return getattr(module, name)
        except (AttributeError, RuntimeError):
            return fallback

    def given(name: str, value: Optional[object], found: object) -> object:
        if value is not None and found is not None and value != found:
            raise ExportError("%s=%r was given, but the module has %s=%r" % (name, value, name, found))
        if found is not None:
            return found
        if value is not None:
            return value
        raise ExportError("%s's %s is not recorded in the module (a traced module keeps only weights): "
                          "pass %s=... to export_module" % (kind, name, name))

    if kind in CELLS:
        w_ih, w_hh = weights["weight_ih"], weights["weight_hh"]
        found_nl = attribute("nonlinearity", traced.get("nonlinearity")) if kind == "RNNCell" else None
        return RecurrentSpec(
            kind=kind, input_size=int(w_ih.shape[1]), hidden_size=int(w_hh.shape[0]) // gates,
            bias="bias_ih" in weights,
            nonlinearity=str(given("nonlinearity", nonlinearity, found_nl)) if kind == "RNNCell" else None)
    num_layers = 0
    while "weight_ih_l%d" % num_layers in weights:
        num_layers += 1
    if num_layers == 0:
        raise ExportError("%s holds no weight_ih_l0: %s" % (kind, sorted(weights)))
    found_bf = attribute("batch_first", traced.get("batch_first"))
    found_nl = attribute("nonlinearity", traced.get("nonlinearity")) if kind == "RNN" else None
    return RecurrentSpec(
        kind=kind,
        input_size=int(weights["weight_ih_l0"].shape[1]),
        hidden_size=int(weights["weight_hh_l0"].shape[0]) // gates,
        num_layers=num_layers,
        bias="bias_ih_l0" in weights,
        batch_first=bool(given("batch_first", batch_first, found_bf)),
        bidirectional="weight_ih_l0_reverse" in weights,
        proj_size=int(weights["weight_hr_l0"].shape[0]) if "weight_hr_l0" in weights else 0,
        nonlinearity=str(given("nonlinearity", nonlinearity, found_nl)) if kind == "RNN" else None)


def _traced_constants(module: nn.Module) -> Dict[str, object]:
    """batch_first and nonlinearity from a traced module's graph: the constant arguments of its
    `aten::lstm(input, hx, params, has_biases, num_layers, dropout, train, bidirectional,
    batch_first)` (gru, rnn_tanh, rnn_relu alike). Empty when there is no such graph."""
    try:
        graph: Any = getattr(module, "graph")
    except (AttributeError, RuntimeError):
        return {}
    found: Dict[str, object] = {}
    for node in graph.nodes():
        op = node.kind()
        if op not in _TRACED_OPS:
            continue
        if op.startswith("aten::rnn_"):
            found["nonlinearity"] = "relu" if "relu" in op else "tanh"
        inputs = list(node.inputs())
        if not op.endswith("_cell") and len(inputs) == 9 and inputs[8].node().kind() == "prim::Constant":
            found["batch_first"] = bool(inputs[8].toIValue())
        break
    return found


def own_weights(module: nn.Module, spec: Optional[RecurrentSpec]) -> Dict[str, torch.Tensor]:
    """The weights a module computes with, in its own dtype, by PyTorch's names: for an eager
    module the effective ones (`getattr(module, name)`, after weight norm or any parametrization);
    for TorchScript its parameters."""
    if is_script(module):
        return {name: t.detach() for name, t in module.state_dict().items()}
    names = spec.parameter_names() if spec is not None else _eager_names(module)
    return {name: getattr(module, name).detach() for name in names}


def float64_weights(module: nn.Module, spec: RecurrentSpec) -> Dict[str, torch.Tensor]:
    """The weights widened exactly to float64, on the CPU. A weight norm (torch.nn.utils.weight_norm
    or parametrizations.weight_norm) or any other parametrization is evaluated in float64 on the
    float64 originals, as ptload computes it from the checkpoint's `_g`/`_v` or `original0`/
    `original1`, not widened from the module's rounded effective weight."""
    if is_script(module):
        return {name: t.detach().to("cpu", torch.float64) for name, t in own_weights(module, spec).items()}
    return {name: _float64_weight(module, name) for name in spec.parameter_names()}


def _eager_names(module: nn.Module) -> List[str]:
    if isinstance(module, nn.RNNBase):
        return list(module._flat_weights_names)
    return [n for n in ["weight_ih", "weight_hh", "bias_ih", "bias_hh"] if getattr(module, n, None) is not None]


def _float64_weight(module: nn.Module, name: str) -> torch.Tensor:
    with torch.no_grad():
        if parametrize.is_parametrized(module, name):
            chain: Any = getattr(module, "parametrizations")[name]
            try:
                if chain.is_tensor:
                    value = chain[0](_f64(chain.original))
                else:
                    value = chain[0](*[_f64(getattr(chain, "original%d" % i)) for i in range(chain.ntensors)])
                for step in list(chain)[1:]:
                    value = step(value)
                if isinstance(value, torch.Tensor) and value.dtype == torch.float64:
                    return value.detach().cpu()
            except (RuntimeError, TypeError):
                pass  # a parametrization with state of its own dtype: its result, widened
            return _f64(getattr(module, name))
        for hook in module._forward_pre_hooks.values():
            if isinstance(hook, WeightNorm) and hook.name == name:
                g, v = _f64(getattr(module, name + "_g")), _f64(getattr(module, name + "_v"))
                return torch._weight_norm(v, g, hook.dim)
        return _f64(getattr(module, name))


def _f64(t: torch.Tensor) -> torch.Tensor:
    return t.detach().to("cpu", torch.float64)


def parameter_dtype(module: nn.Module) -> torch.dtype:
    """The dtype of a module's parameters (its state_dict's floating-point tensors)."""
    for t in module.state_dict().values():
        if t.is_floating_point():
            dtype: torch.dtype = t.dtype
            return dtype
    return torch.float32
