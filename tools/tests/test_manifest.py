"""ptload_tools.common.manifest, paths and hashseed."""
from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from ptload_tools.common.manifest import command, today, versions, write_json
from ptload_tools.common.paths import fixtures, repo_root

TOOLS_SRC = Path(__file__).resolve().parents[1] / "src"


def test_command_is_python_dash_m() -> None:
    assert command("ptload_tools.fixtures.golden", "--ptload", "x") == "python -m ptload_tools.fixtures.golden --ptload x"


def test_versions_in_the_order_named_then_python() -> None:
    found = versions("numpy")
    assert list(found) == ["numpy_version", "python_version"]
    assert found == {"numpy_version": np.__version__, "python_version": platform.python_version()}


def test_today_is_an_iso_date() -> None:
    year, month, day = today().split("-")
    assert len(year) == 4 and 1 <= int(month) <= 12 and 1 <= int(day) <= 31


def test_write_json_ends_with_a_newline_and_refuses_nan(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    write_json(path, {"b": 1, "a": [1.5]}, sort_keys=True)
    assert path.read_text() == '{\n "a": [\n  1.5\n ],\n "b": 1\n}\n'
    assert json.loads(path.read_text()) == {"a": [1.5], "b": 1}
    with pytest.raises(ValueError):
        write_json(path, {"x": math.nan})


def test_repo_root_is_the_checkout_and_can_be_overridden(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PTLOAD_REPO", raising=False)
    root = repo_root()
    assert (root / "Package.swift").is_file() and fixtures("rnn") == root / "Fixtures" / "rnn"
    monkeypatch.setenv("PTLOAD_REPO", str(tmp_path))
    assert repo_root() == tmp_path.resolve()


def _run_module(tmp_path: Path, env_seed: str | None) -> str:
    (tmp_path / "hashprobe.py").write_text(textwrap.dedent("""
        import os, sys
        from ptload_tools.common.hashseed import pin_hash_seed
        if __name__ == "__main__":
            pin_hash_seed()
            print(os.environ["PYTHONHASHSEED"], hash("ptload"), sys.argv[1:])
        """))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONHASHSEED"}
    env["PYTHONPATH"] = os.pathsep.join([str(TOOLS_SRC), str(tmp_path)])
    if env_seed is not None:
        env["PYTHONHASHSEED"] = env_seed
    run = subprocess.run([sys.executable, "-m", "hashprobe", "a", "b"], env=env, capture_output=True, text=True,
                         check=True)
    return run.stdout


def test_pin_hash_seed_reexecutes_the_module_with_seed_0(tmp_path: Path) -> None:
    unset, random_seed, pinned = (_run_module(tmp_path, s) for s in (None, "12345", "0"))
    assert unset == random_seed == pinned
    assert unset.startswith("0 ") and unset.endswith("['a', 'b']\n")
