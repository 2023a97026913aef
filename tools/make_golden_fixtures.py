#!/usr/bin/env python3
"""Writes Fixtures/golden: one folder per model of tools/golden_models.py, exported by the
ptload-golden package (python/src/ptload_golden: model.pt, one .npz per recorded call,
golden.json, format_version 2), and Fixtures/golden/manifest.json (versions, seeds, cases, and
how far PyTorch's own results are from the float64 truths).

    /tmp/torch-venv/bin/python tools/make_golden_fixtures.py [--ptload .build/debug/ptload]

With --ptload, also runs `ptload DIR/model.pt --verify DIR/golden.json --junit r.xml` on every
folder and reads the JUnit file with junitparser (pip install junitparser), a real consumer of
the format: every case present and passing.
"""
import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import torch

TOOLS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TOOLS)
sys.path.insert(0, TOOLS)
sys.path.insert(0, os.path.join(ROOT, "python", "src"))  # the package, whether installed or not
import golden_models  # noqa: E402
import ptload_golden  # noqa: E402

OUT = os.path.join(ROOT, "Fixtures", "golden")
FLOAT32 = {"rtol": 1.3e-6, "atol": 1e-5}  # torch.testing.assert_close's float32 defaults


def drift(folder, case):
    """How far PyTorch's own outputs (in the model's dtype) are from the float64 truths, per
    output: the largest distance (the manifest's torch_distance) and how many elements lie
    beyond the plain float32 tolerance."""
    arrays = np.load(os.path.join(folder, case["npz"]))
    result = {}
    for name in ["output", "h_n", "c_n"]:
        if name not in arrays.files:
            continue
        truth, own = arrays[name], arrays["torch_" + name].astype(np.float64)
        diff = np.abs(own - truth)
        beyond = int(np.sum(diff > FLOAT32["atol"] + FLOAT32["rtol"] * np.abs(truth)))
        result[name] = {"max_abs": float(diff.max()) if diff.size else 0.0, "beyond_float32_tolerance": beyond,
                        "elements": int(diff.size)}
        if result[name]["max_abs"] != case["torch_distance"][name]:
            raise SystemExit("%s %s: torch_distance %r, npz %r" % (case["name"], name, case["torch_distance"][name],
                                                                   result[name]["max_abs"]))
    return result


def check_with_junitparser(ptload, folder, manifest):
    import junitparser

    with tempfile.TemporaryDirectory() as tmp:
        report = os.path.join(tmp, "r.xml")
        run = subprocess.run([ptload, os.path.join(folder, "model.pt"), "--verify", os.path.join(folder, "golden.json"),
                              "--junit", report], capture_output=True, text=True)
        if run.returncode != 0:
            raise SystemExit("%s: ptload exited %d\n%s%s" % (folder, run.returncode, run.stdout, run.stderr))
        xml = junitparser.JUnitXml.fromfile(report)
        suites = [xml] if isinstance(xml, junitparser.TestSuite) else list(xml)
        cases = [c for s in suites for c in s]
        names = sorted(c.name for c in cases)
        want = sorted(c["name"] for c in manifest["cases"])
        if names != want:
            raise SystemExit("%s: JUnit cases %s, manifest %s" % (folder, names, want))
        for c in cases:
            if not c.is_passed:
                raise SystemExit("%s: case %s did not pass: %s" % (folder, c.name, c.result))
        return len(cases)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--ptload", help="a built ptload binary: verify every folder and check its JUnit with junitparser")
    a = parser.parse_args()
    torch.set_num_threads(1)
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    summary = {
        "generator": "tools/make_golden_fixtures.py",
        "command": "python tools/make_golden_fixtures.py",
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "python_version": platform.python_version(),
        "exporter": "ptload-golden %s (python/, format %s, version %d)" % (
            ptload_golden.__version__, ptload_golden.FORMAT, ptload_golden.FORMAT_VERSION),
        "models": {},
    }
    for name, build in golden_models.MODELS.items():
        model, args = build()
        folder = os.path.join(OUT, name)
        manifest = ptload_golden.export(model, args, folder)
        entry = {"model_class": manifest["model_class"], "cases": {}}
        for case in manifest["cases"]:
            entry["cases"][case["name"]] = {"module": case["module"], "kind": case["kind"], "dtype": case["dtype"],
                                            "input_dtype": case["input_dtype"],
                                            "torch_vs_float64": drift(folder, case)}
        if a.ptload:
            entry["junitparser_cases_passed"] = check_with_junitparser(a.ptload, folder, manifest)
        summary["models"][name] = entry
        print("%s: %d cases" % (name, len(manifest["cases"])))
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(summary, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
