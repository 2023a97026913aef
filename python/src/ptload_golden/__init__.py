"""Golden outputs of a PyTorch model's recurrent layers, for `ptload MODEL --verify golden.json`.

    import ptload_golden
    ptload_golden.export(model, (tokens, lengths), "golden/")        # every recorded call
    ptload_golden.export_module(scripted.rnn, (x, (h0, c0)), "golden/", path="rnn")  # one call

Each case's truth is a float64 run of the recorded module alone on exactly the recorded input;
the manifest gives, per output, how far PyTorch's own result (in the model's dtype) is from it.
"""
from .errors import ExportError, ScriptedModulesError
from .export import DEFAULT_PREFIX, export, export_module
from .spec import RecurrentSpec, find_recurrent, spec_of
from .version import FORMAT, FORMAT_VERSION, __version__

__all__ = [
    "DEFAULT_PREFIX",
    "ExportError",
    "FORMAT",
    "FORMAT_VERSION",
    "RecurrentSpec",
    "ScriptedModulesError",
    "__version__",
    "export",
    "export_module",
    "find_recurrent",
    "spec_of",
]
