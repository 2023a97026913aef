#!/usr/bin/env python3
"""The differential check's other half: what torch.load(weights_only=True) does with every
checkpoint of the hostile corpus (Fixtures/hostile/expected.json). Needs torch:

    /tmp/torch-venv/bin/python tools/torch_verdicts.py

writes Fixtures/hostile/torch_verdicts.json: {"torch": version, "cases": {file: {"verdict":
"loads" | "refuses", "error": first line of the exception (type: message), "keys": [...]}}}.
Reference-file cases (an .npy/.npz given with --input/--verify) are about numpy, not torch,
and are left out; .safetensors files are judged by safetensors.torch.load_file. A test asserts that ptload refuses every file torch refuses.
"""

import json
import warnings
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
DIR = ROOT / "Fixtures" / "hostile"


def flatten(value, prefix=""):
    if isinstance(value, torch.Tensor):
        return [prefix]
    if isinstance(value, dict):
        return [k for key, v in value.items() for k in flatten(v, f"{prefix}.{key}" if prefix else str(key))]
    return []


def main():
    cases = json.loads((DIR / "expected.json").read_text())
    verdicts = {}
    for case in cases:
        if "reference" in case:
            continue
        path = DIR / case["file"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                if path.suffix == ".safetensors":
                    # The format's own reader is the other half for safetensors files.
                    import safetensors.torch
                    value = safetensors.torch.load_file(path)
                else:
                    value = torch.load(path, weights_only=True, map_location="cpu")
                verdicts[case["file"]] = {"verdict": "loads", "keys": flatten(value)}
            except BaseException as e:  # noqa: BLE001 - every refusal is a verdict
                line = (str(e).strip().splitlines() or [""])[0][:300]
                verdicts[case["file"]] = {"verdict": "refuses", "error": f"{type(e).__name__}: {line}"}
    out = {"torch": torch.__version__, "cases": verdicts}
    (DIR / "torch_verdicts.json").write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    refused = sum(v["verdict"] == "refuses" for v in verdicts.values())
    print(f"torch {torch.__version__}: refuses {refused} of {len(verdicts)} files")


if __name__ == "__main__":
    main()
