"""Where the repository and its fixtures are, for tools installed editable from ``tools/``."""
from __future__ import annotations

import os
from pathlib import Path


def repo_root() -> Path:
    """The ptload checkout: ``$PTLOAD_REPO``, else the nearest folder holding ``Package.swift``
    above this file (an editable install), else above the working directory.

    - Throws: ``SystemExit`` when no such folder exists (the package was installed elsewhere and
      run outside a checkout)."""
    if os.environ.get("PTLOAD_REPO"):
        return Path(os.environ["PTLOAD_REPO"]).resolve()
    for start in (Path(__file__).resolve(), Path.cwd().resolve()):
        for folder in [start, *start.parents]:
            if (folder / "Package.swift").is_file() and (folder / "Fixtures").is_dir():
                return folder
    raise SystemExit("ptload_tools: no ptload checkout above %s or %s; set PTLOAD_REPO" % (__file__, Path.cwd()))


def fixtures(*parts: str) -> Path:
    """``<repo>/Fixtures/<parts...>``."""
    return repo_root().joinpath("Fixtures", *parts)
