"""A pinned string hash for generators whose output depends on it."""
from __future__ import annotations

import os
import sys


def pin_hash_seed() -> None:
    """Re-executes the running ``python -m MODULE ...`` with ``PYTHONHASHSEED=0`` unless it is set so.

    String hashing decides set and dict orders inside torch.jit's generated code and some pickle
    memo sharing; a fixed seed keeps those files byte-stable. Call it first in ``main()``, before
    any work (the process is replaced)."""
    if os.environ.get("PYTHONHASHSEED") == "0":
        return
    spec = getattr(sys.modules["__main__"], "__spec__", None)
    if spec is None:
        raise SystemExit("run this tool as `python -m MODULE` so that it can re-execute itself")
    module = spec.name[: -len(".__main__")] if spec.name.endswith(".__main__") else spec.name
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable, "-m", module, *sys.argv[1:]])
