"""Shared fixtures: the ptload binary the zoo is verified with."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
try:
    import ptload_golden  # noqa: F401  (installed: pip install ./python)
except ImportError:  # a checkout without the install: the sources
    sys.path.insert(0, str(REPO / "python" / "src"))


@pytest.fixture(scope="session")
def ptload() -> str:
    """The built ptload: $PTLOAD, or <repo>/.build/debug/ptload (swift build --product ptload)."""
    path = os.environ.get("PTLOAD") or str(REPO / ".build" / "debug" / "ptload")
    if not os.access(path, os.X_OK):
        pytest.skip("no ptload binary at %s: run `swift build --product ptload` in %s or set PTLOAD" % (path, REPO))
    return path
