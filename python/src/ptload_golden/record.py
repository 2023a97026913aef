"""Recording a model's recurrent calls with forward hooks: one run, in the model's own dtype.

Each recorded call keeps a copy of its input, initial state and outputs (taken in the hook, so a
later in-place change cannot alter them), and the pipeline stages around it: an nn.Embedding
whose output is the call's input, an nn.Linear whose input is the call's output (the same tensor
objects, so nothing in between, such as dropout or a cast, is skipped over).
"""
from __future__ import annotations

import dataclasses
import weakref
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence

from .errors import ExportError
from .spec import CELLS, LAYERS, RecurrentSpec, is_script, kind_of, spec_of

Value = Union[torch.Tensor, PackedSequence]
State = Union[None, torch.Tensor, Tuple[torch.Tensor, torch.Tensor]]


@dataclasses.dataclass
class Stage:
    """An nn.Embedding before a recurrent call or an nn.Linear after it."""

    path: str
    module: nn.Module
    #: The Embedding's token ids, or the Linear's output.
    value: torch.Tensor


@dataclasses.dataclass
class Call:
    """One recorded call of a recurrent module."""

    path: str
    index: int
    module: nn.Module
    spec: RecurrentSpec
    input: Value
    hx: State
    #: The module's own result, as it returned it: (output, h_n) / (output, (h_n, c_n)) for a
    #: layer, h' or (h', c') for a cell.
    result: Any
    before: Optional[Stage] = None
    after: Optional[Stage] = None


def call_arguments(args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Tuple[Value, State]:
    """(input, hx) of a recurrent call, positional or keyword: forward(input, hx=None)."""
    x = args[0] if args else kwargs.get("input")
    hx = args[1] if len(args) > 1 else kwargs.get("hx")
    if x is None:
        raise ExportError("a recurrent call without an input")
    return x, hx


def copy_value(value: Any) -> Any:
    """A detached copy of tensors, PackedSequences and tuples of them."""
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, PackedSequence):
        return PackedSequence(value.data.detach().clone(), value.batch_sizes, value.sorted_indices,
                              value.unsorted_indices)
    if isinstance(value, (tuple, list)):
        return tuple(copy_value(v) for v in value)
    return value


def handed_on(spec: RecurrentSpec, result: Any) -> Optional[torch.Tensor]:
    """The tensor a recurrent call hands on: a layer's output (unless packed), a cell's h'."""
    value = result[0] if (not spec.is_cell or isinstance(result, tuple)) else result
    return value if isinstance(value, torch.Tensor) else None


class _Objects:
    """Tensors seen during the run, by identity, without keeping them alive: an entry goes when
    its tensor does (weakref callback), so an id reused later cannot match. A tensor changed in
    place since (`x *= scale`: its `_version` moved on) is no longer the one that was seen."""

    def __init__(self) -> None:
        self._entries: Dict[int, Tuple["weakref.ref[torch.Tensor]", int, Any]] = {}

    def add(self, tensor: torch.Tensor, payload: Any) -> None:
        key = id(tensor)
        entries = self._entries

        def gone(_: object, key: int = key) -> None:
            entries.pop(key, None)

        entries[key] = (weakref.ref(tensor, gone), tensor._version, payload)

    def get(self, tensor: Any) -> Any:
        if not isinstance(tensor, torch.Tensor):
            return None
        entry = self._entries.get(id(tensor))
        if entry is None or entry[0]() is not tensor or entry[1] != tensor._version:
            return None
        return entry[2]


def _plain_forward(module: nn.Module, cls: type) -> bool:
    """Whether `module` computes what `cls` does (a subclass may override forward)."""
    return getattr(type(module), "forward") is getattr(cls, "forward")


class Recorder:
    """Forward hooks on every eager recurrent submodule of a model (and its Embeddings and
    Linears), recording up to `max_calls` calls of each. Use as a context manager around one run."""

    def __init__(self, model: nn.Module, max_calls: int) -> None:
        self.model = model
        self.max_calls = max_calls
        self.calls: List[Call] = []
        #: Calls per module path, recorded or not.
        self.counts: Dict[str, int] = {}
        #: TorchScript recurrent submodules: no hook sees their calls.
        self.scripted: List[str] = []
        #: Recurrent subclasses with a forward of their own: recorded, but their truths are
        #: PyTorch's plain module's.
        self.custom: List[str] = []
        self._handles: List[Any] = []
        self._embedded = _Objects()
        self._outputs = _Objects()

    def __enter__(self) -> "Recorder":
        for path, module in self.model.named_modules():
            kind = kind_of(module)
            if kind is not None:
                if is_script(module):
                    self.scripted.append(path)
                    continue
                if not _plain_forward(module, {**LAYERS, **CELLS}[kind]):
                    self.custom.append(path)
                self._handles.append(module.register_forward_hook(self._recurrent_hook(path, spec_of(module)),
                                                                  with_kwargs=True))
            elif is_script(module):
                continue
            elif isinstance(module, nn.Embedding) and _plain_forward(module, nn.Embedding):
                self._handles.append(module.register_forward_hook(self._embedding_hook(path)))
            elif isinstance(module, nn.Linear) and _plain_forward(module, nn.Linear):
                self._handles.append(module.register_forward_hook(self._linear_hook(path)))
        return self

    def __exit__(self, *exc: object) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def _recurrent_hook(self, path: str, spec: RecurrentSpec) -> Callable[..., None]:
        def hook(module: nn.Module, args: Tuple[Any, ...], kwargs: Dict[str, Any], result: Any) -> None:
            index = self.counts.get(path, 0)
            self.counts[path] = index + 1
            if index >= self.max_calls:
                return
            if module.training and getattr(module, "dropout", 0.0) > 0 and getattr(module, "num_layers", 1) > 1:
                raise ExportError("%s was called in training mode with dropout=%g between its layers: its output "
                                  "is random; the model's forward sets it training" % (path, float(getattr(module, "dropout"))))
            x, hx = call_arguments(args, kwargs)
            before = self._embedded.get(x)
            call = Call(path=path, index=index, module=module, spec=spec, input=copy_value(x), hx=copy_value(hx),
                        result=copy_value(result), before=before)
            self.calls.append(call)
            out = handed_on(spec, result)
            if out is not None:
                self._outputs.add(out, call)
        return hook

    def _embedding_hook(self, path: str) -> Callable[..., None]:
        def hook(module: nn.Module, args: Tuple[Any, ...], output: torch.Tensor) -> None:
            if args and isinstance(output, torch.Tensor):
                self._embedded.add(output, Stage(path, module, args[0].detach().clone()))
        return hook

    def _linear_hook(self, path: str) -> Callable[..., None]:
        def hook(module: nn.Module, args: Tuple[Any, ...], output: torch.Tensor) -> None:
            call = self._outputs.get(args[0]) if args else None
            if call is not None and call.after is None and isinstance(output, torch.Tensor):
                call.after = Stage(path, module, output.detach().clone())
        return hook
