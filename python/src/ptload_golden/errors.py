"""The exporter's errors."""
from __future__ import annotations

from typing import Sequence, Tuple


class ExportError(Exception):
    """A model or module that cannot be exported, with what to do about it."""


class ScriptedModulesError(ExportError):
    """Recurrent submodules inside TorchScript, whose calls no forward hook can see.

    `modules` holds (dotted path, kind) of every recurrent submodule found.
    """

    def __init__(self, modules: Sequence[Tuple[str, str]], scripted: Sequence[str]) -> None:
        self.modules = list(modules)
        self.scripted = list(scripted)
        listing = ", ".join("%s (%s)" % (path or "<root>", kind) for path, kind in self.modules)
        example = next(iter(self.scripted), "rnn")
        super().__init__(
            "the calls of %s cannot be recorded: forward hooks do not fire inside TorchScript. "
            "Recurrent submodules found: %s. Export each one on inputs you give it, as it is called "
            "(args = (x,), (x, h0) or (x, (h0, c0))):\n"
            "    ptload_golden.export_module(%s, args, 'golden/', path=%r)\n"
            "or from the command line, for a torch.jit.save file (args.pt: torch.save of the args tuple):\n"
            "    ptload-golden module model.jit --path %s --inputs args.pt --out golden/\n"
            "then: ptload model.jit --verify golden/golden.json"
            % (", ".join(s or "<root>" for s in self.scripted), listing,
               "model" + "".join("." + p for p in example.split(".") if p), example, example))
