"""The torch-free generators rewrite their committed fixtures byte for byte (into a scratch copy of
the checkout's layout, so Fixtures/ itself is never touched)."""
from __future__ import annotations

import filecmp
import os
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest

from ptload_tools.common.paths import repo_root

REPO = repo_root()


def _files(folder: Path) -> List[str]:
    """Every file and link below folder, relative, not following links."""
    found = []
    for base, dirs, names in os.walk(folder, followlinks=False):
        for name in names + [d for d in dirs if os.path.islink(os.path.join(base, d))]:
            found.append(os.path.relpath(os.path.join(base, name), folder))
    return sorted(found)


def _same(a: Path, b: Path) -> bool:
    if a.is_symlink() or b.is_symlink():
        return a.is_symlink() and b.is_symlink() and os.readlink(a) == os.readlink(b)
    return filecmp.cmp(a, b, shallow=False)


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "Fixtures").mkdir()
    (tmp_path / "Tests" / "PTLoadCLITests").mkdir(parents=True)
    monkeypatch.setenv("PTLOAD_REPO", str(tmp_path))
    return tmp_path


@pytest.mark.parametrize("module, folder, skip", [
    ("ptload_tools.fixtures.hostile", "hostile", {"README.md", "torch_verdicts.json"}),
    ("ptload_tools.fixtures.pickles", "pickles", set()),
    ("ptload_tools.fixtures.numpy_files", "numpy", set()),
    ("ptload_tools.fixtures.hostile_dcp", os.path.join("sharded", "hostile_dcp"), set()),
])
def test_generator_rewrites_its_fixtures_byte_for_byte(scratch: Path, module: str, folder: str, skip: set) -> None:
    if folder == "pickles" and sys.version_info[:2] != (3, 11):
        pytest.skip("Fixtures/pickles was written by Python 3.11's pickle")
    # As `make fixtures` runs it: the pickles' classes must be __main__'s.
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    subprocess.run([sys.executable, "-m", module], env=env, check=True, capture_output=True)
    committed, written = REPO / "Fixtures" / folder, scratch / "Fixtures" / folder
    names = [n for n in _files(committed) if n.split(os.sep)[0] not in skip]
    if folder == "pickles":
        names.remove("manifest.json")  # records the exact interpreter build
    assert [n for n in _files(written) if n.split(os.sep)[0] not in skip] == sorted(
        names + (["manifest.json"] if folder == "pickles" else []))
    differing = [n for n in names if not _same(committed / n, written / n)]
    assert differing == []
    if folder == "hostile":
        swift = Path("Tests", "PTLoadCLITests", "HostileCorpusTests+Cases.swift")
        assert (scratch / swift).read_bytes() == (REPO / swift).read_bytes()
