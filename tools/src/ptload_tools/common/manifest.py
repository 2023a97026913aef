"""Provenance every fixture manifest records, and JSON written the same way every time."""
from __future__ import annotations

import datetime
import importlib
import json
import platform
from pathlib import Path
from typing import Any, Dict, Union


def command(module: str, *args: str) -> str:
    """How to rerun a tool: ``python -m MODULE ARGS`` in the venv ``make venv`` creates."""
    return " ".join(["python", "-m", module, *args])


def versions(*libraries: str) -> Dict[str, str]:
    """``{"<library>_version": version}`` for each library named, in order, then the Python version:
    ``versions("torch", "numpy")`` gives torch_version, numpy_version, python_version."""
    found: Dict[str, str] = {}
    for name in libraries:
        found[name + "_version"] = str(importlib.import_module(name).__version__)
    found["python_version"] = platform.python_version()
    return found


def today() -> str:
    """The UTC date, YYYY-MM-DD: when a manifest was written."""
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")


def write_json(path: Union[str, Path], value: Any, *, sort_keys: bool = False, indent: int = 1) -> None:
    """``value`` as JSON with a final newline; NaN and infinities refused (JSON has neither)."""
    with open(path, "w") as f:
        json.dump(value, f, indent=indent, sort_keys=sort_keys, allow_nan=False)
        f.write("\n")
