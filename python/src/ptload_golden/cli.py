"""The `ptload-golden` command.

    ptload-golden --factory pkg.module:build --checkpoint ckpt.pt --inputs inputs.pt --out DIR [--max-calls 4]
    ptload-golden --jit model.jit --inputs inputs.pt --out DIR
    ptload-golden module model.jit --path _model.decoder.rnn --inputs args.pt --out DIR
    ptload-golden list model.jit

.pt inputs are loaded with torch.load(weights_only=True): `inputs.pt` holds the tuple of the
model's positional arguments, `args.pt` the module's own call, e.g. (x, (h0, c0)).
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Any, Callable, List, Optional, Sequence, Tuple

import torch
from torch import nn

from .errors import ExportError
from .export import export, export_module
from .spec import find_recurrent
from .version import __version__


def _factory(spec: str) -> Callable[[], nn.Module]:
    module_name, _, function = spec.partition(":")
    if not module_name or not function:
        raise SystemExit("ptload-golden: --factory takes pkg.module:function, not %r" % spec)
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    return getattr(importlib.import_module(module_name), function)  # type: ignore[no-any-return]


def _arguments(path: str) -> Tuple[Any, ...]:
    value: Any = torch.load(path, weights_only=True)
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


def _submodule(model: nn.Module, path: str) -> nn.Module:
    """The submodule at a dotted path (TorchScript modules have no get_submodule)."""
    module = model
    for part in [p for p in path.split(".") if p]:
        try:
            module = getattr(module, part)
        except (AttributeError, RuntimeError):
            found = ", ".join(p for p, _ in find_recurrent(model)) or "none"
            raise SystemExit("ptload-golden: no submodule %r (recurrent submodules: %s)" % (path, found))
    return module


def _export_main(argv: Sequence[str]) -> None:
    parser = argparse.ArgumentParser(prog="ptload-golden", description="Export golden outputs of a model's recurrent "
                                     "layers for `ptload DIR/model.pt --verify DIR/golden.json`. Subcommands: "
                                     "`module` (one module of a TorchScript file), `list`.")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--factory", help="pkg.module:function returning the model (called with no arguments)")
    source.add_argument("--jit", help="a torch.jit.save file (its recurrent calls cannot be recorded: the error "
                        "names its recurrent submodules for `ptload-golden module`)")
    parser.add_argument("--checkpoint", help="a state dict to load into the model (weights_only=True)")
    parser.add_argument("--inputs", required=True, help="a .pt file holding the tuple of positional arguments")
    parser.add_argument("--out", required=True, help="the folder to write model.pt, the .npz files and golden.json to")
    parser.add_argument("--max-calls", type=int, default=4, help="calls recorded per module (a cell in a loop): default 4")
    parser.add_argument("--version", action="version", version="ptload-golden %s" % __version__)
    a = parser.parse_args(argv)
    if a.factory:
        model = _factory(a.factory)()
    else:
        model = torch.jit.load(a.jit, map_location="cpu")  # type: ignore[no-untyped-call]
    if a.checkpoint:
        model.load_state_dict(torch.load(a.checkpoint, weights_only=True))
    manifest = export(model, _arguments(a.inputs), a.out, max_calls=a.max_calls)
    print("%s: %d cases from %s" % (os.path.join(a.out, "golden.json"), len(manifest["cases"]), manifest["model_class"]))


def _module_main(argv: Sequence[str]) -> None:
    parser = argparse.ArgumentParser(prog="ptload-golden module", description="Export one call of one recurrent "
                                     "module of a torch.jit.save file; verify with `ptload FILE --verify DIR/golden.json`.")
    parser.add_argument("file", help="a torch.jit.save file")
    parser.add_argument("--path", required=True, help="the module's dotted path, e.g. _model.decoder.rnn")
    parser.add_argument("--inputs", required=True, help="a .pt file holding the module's own call: (x,), (x, h0), (x, (h0, c0))")
    parser.add_argument("--out", required=True)
    parser.add_argument("--batch-first", action="store_true", default=None,
                        help="for a traced layer, which keeps no attributes")
    parser.add_argument("--nonlinearity", choices=["tanh", "relu"], help="for a traced RNN")
    a = parser.parse_args(argv)
    model = torch.jit.load(a.file, map_location="cpu")  # type: ignore[no-untyped-call]
    manifest = export_module(_submodule(model, a.path), _arguments(a.inputs), a.out, path=a.path,
                             batch_first=a.batch_first, nonlinearity=a.nonlinearity,
                             checkpoint=os.path.basename(a.file))
    case = manifest["cases"][0]
    print("%s: %s %s; verify with: ptload %s --verify %s" % (os.path.join(a.out, "golden.json"), case["kind"],
          case["module"], a.file, os.path.join(a.out, "golden.json")))


def _list_main(argv: Sequence[str]) -> None:
    parser = argparse.ArgumentParser(prog="ptload-golden list", description="The recurrent submodules of a torch.jit.save file.")
    parser.add_argument("file")
    a = parser.parse_args(argv)
    model = torch.jit.load(a.file, map_location="cpu")  # type: ignore[no-untyped-call]
    for path, kind in find_recurrent(model):
        print("%s\t%s" % (path or "<root>", kind))


def main(argv: Optional[List[str]] = None) -> None:
    """Entry point of the `ptload-golden` console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    commands = {"module": _module_main, "list": _list_main, "export": _export_main}
    command = commands.get(args[0]) if args else None
    try:
        if command is not None:
            command(args[1:])
        else:
            _export_main(args)
    except ExportError as error:
        raise SystemExit("ptload-golden: %s" % error)


if __name__ == "__main__":
    main()
