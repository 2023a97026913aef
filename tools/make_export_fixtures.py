#!/usr/bin/env python3
"""Writes Fixtures/export: for every checkpoint fixture (Fixtures/checkpoints/*.expected.json,
whose tensors torch.load returned), what the real safetensors writer makes of its tensors,
`safetensors.torch.save_file({key: tensor}, path, metadata={"format": "pt"})`, or the refusal a
dtype safetensors lacks must give; and with --ptload, checks ptload's own exports of every
checkpoint with the real readers: safetensors.torch.load_file, safetensors.numpy.load_file and
numpy.load, each equal to torch's tensors bit for bit, and ptload's .safetensors byte-identical to
safetensors' own.

    /tmp/torch-venv/bin/python tools/make_export_fixtures.py [--ptload .build/debug/ptload]

Needs torch, numpy and safetensors (pip install safetensors).
"""
import argparse
import glob
import json
import os
import platform
import subprocess
import tempfile

import numpy as np
import safetensors
import safetensors.numpy
import safetensors.torch
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCE = os.path.join(ROOT, "Fixtures", "checkpoints")
OUT = os.path.join(ROOT, "Fixtures", "export")
NUMPY_HOLDS = {"float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
               "bool", "complex64", "complex128"}


def tensors_of(expected):
    """torch.load's tensors as the fixture recorded them: contiguous clones, in key order."""
    out = {}
    for t in expected["tensors"]:
        dtype = getattr(torch, t["dtype"])
        raw = bytearray(bytes.fromhex(t["bytes_hex"]))
        flat = torch.frombuffer(raw, dtype=dtype) if raw else torch.empty(0, dtype=dtype)
        out[t["key"]] = flat.reshape(t["shape"]).clone()
    return out


def same_bits(a, b):
    return a.dtype == b.dtype and list(a.shape) == list(b.shape) and a.contiguous().reshape(-1).view(torch.uint8).equal(b.contiguous().reshape(-1).view(torch.uint8))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--ptload", help="a built ptload binary whose exports to check with the real readers")
    a = parser.parse_args()
    os.makedirs(OUT, exist_ok=True)
    for old in glob.glob(os.path.join(OUT, "*.safetensors")):
        os.remove(old)
    manifest = {"generator": "tools/make_export_fixtures.py", "torch_version": torch.__version__,
                "numpy_version": np.__version__, "safetensors_version": safetensors.__version__,
                "python_version": platform.python_version(), "fixtures": {}}
    for path in sorted(glob.glob(os.path.join(SOURCE, "*.expected.json"))):
        expected = json.load(open(path))
        name = os.path.basename(path)[: -len(".expected.json")]
        if not os.path.exists(os.path.join(SOURCE, name + ".pt")):
            continue
        if not expected.get("loads", True):
            # torch.load refuses it; so must the export.
            manifest["fixtures"][name] = {"checkpoint": "checkpoints/%s.pt" % name, "torch_refuses": expected.get("load_error")}
            continue
        tensors = tensors_of(expected)
        entry = {"checkpoint": "checkpoints/%s.pt" % name, "tensors": len(tensors)}
        unsupported = [k for k, v in tensors.items() if v.dtype not in safetensors.torch._TYPES.values()]
        if unsupported:
            entry["safetensors_refuses"] = {"key": unsupported[0], "dtype": str(tensors[unsupported[0]].dtype).replace("torch.", "")}
        else:
            target = os.path.join(OUT, name + ".safetensors")
            safetensors.torch.save_file(tensors, target, metadata={"format": "pt"})
            entry["safetensors"] = "export/%s.safetensors" % name
        no_numpy = [k for k, v in tensors.items() if str(v.dtype).replace("torch.", "") not in NUMPY_HOLDS]
        if no_numpy:
            entry["npz_refuses"] = {"key": no_numpy[0], "dtype": str(tensors[no_numpy[0]].dtype).replace("torch.", "")}
        if a.ptload:
            check(a.ptload, name, tensors, entry)
        manifest["fixtures"][name] = entry
        print(name, {k: v for k, v in entry.items() if k != "checkpoint"})
    # What CheckpointWriter must write for arrays made in Swift (Tests/PTExportTests).
    safetensors.torch.save_file({"b.weight": torch.arange(6, dtype=torch.float32).reshape(2, 3) / 4,
                                 "a.bias": torch.tensor([0.5, -1.5], dtype=torch.float64)},
                                os.path.join(OUT, "swift_arrays.safetensors"), metadata={"format": "pt"})
    manifest["casts"] = casts()
    if a.ptload:
        manifest["cast_exports"] = check_cast_exports(a.ptload)
        manifest["module_files"] = check_module_files(a.ptload)
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")


def cast_inputs():
    """float32 bit patterns around every rounding case: zeros, ties to even and odd, the largest
    finite half and what overflows it, half and bfloat16 subnormals and underflow, infinities,
    NaNs with payloads, and a spread of ordinary values."""
    specials = [0x00000000, 0x80000000, 0x3F800000, 0xBF800000, 0x7F800000, 0xFF800000, 0x7FC00000, 0xFFC00000,
                0x7F800001, 0x7FBFFFFF, 0xFFFFFFFF, 0x7F7FFFFF, 0x00000001, 0x007FFFFF, 0x00800000,
                0x477FE000, 0x477FEFFF, 0x477FF000, 0x47800000, 0x33800000, 0x33000000, 0x33000001, 0x387FC000,
                0x38800000, 0x3F808000, 0x3F818000, 0x3F80C000, 0x3F804000, 0x3F807FFF, 0x3F808001, 0x3F801000,
                0x3F803000, 0x3F802000, 0x40490FDB, 0xC0490FDB, 0x3DCCCCCD, 0x7F7F8000, 0x7F7F7FFF]
    generator = np.random.default_rng(7)
    spread = generator.integers(0, 2 ** 32, size=90, dtype=np.uint64).astype(np.uint32).tolist()
    return [int(x) for x in specials] + spread


def casts():
    """torch's .half() and .bfloat16() of each float32 input, one element at a time (the scalar
    conversion) and as one tensor (the vectorised loop), as bit patterns."""
    bits = cast_inputs()
    values = torch.tensor(np.array(bits, dtype=np.uint32).view(np.float32))
    table = {"float32": bits}
    for name, dtype in [("float16", torch.float16), ("bfloat16", torch.bfloat16)]:
        whole = values.to(dtype).view(torch.int16).numpy().astype(np.uint16).tolist()
        single = [int(values[i:i + 1].to(dtype).view(torch.int16).numpy().astype(np.uint16)[0]) for i in range(len(bits))]
        table[name] = whole
        table[name + "_one_element"] = single
    return table


def check_module_files(ptload):
    """TorchScript archives and whole pickled modules (Fixtures/rnn): every export equals the
    module's own state_dict() (torch.jit.load / torch.load(weights_only=False)), bit for bit."""
    results = {}
    for name, loader in [("script_lstm.pt", "jit"), ("script_wrapper_lstm.pt", "jit"), ("full_gru_bf.pt", "pickle"),
                         ("full_rnn_relu_l2.pt", "pickle"), ("legacy_lstm.pt", "pickle")]:
        path = os.path.join(ROOT, "Fixtures", "rnn", name)
        loaded = torch.jit.load(path) if loader == "jit" else torch.load(path, weights_only=False)
        state = loaded.state_dict() if hasattr(loaded, "state_dict") else loaded
        with tempfile.TemporaryDirectory() as tmp:
            for ext in ["safetensors", "npz", "pt"]:
                out = os.path.join(tmp, "out." + ext)
                run = subprocess.run([ptload, path, "--export", out], capture_output=True, text=True)
                assert run.returncode == 0, (name, ext, run.stderr)
                if ext == "safetensors":
                    got = safetensors.torch.load_file(out)
                elif ext == "npz":
                    with np.load(out) as z:
                        got = {k: torch.from_numpy(z[k].copy()) for k in z.files}
                        assert list(z.files) == list(state), (name, ext)
                else:
                    got = torch.load(out, weights_only=True)
                    assert list(got) == list(state), (name, ext)
                assert set(got) == set(state), (name, ext, sorted(got), sorted(state))
                for k, v in state.items():
                    assert same_bits(got[k], v.detach()), (name, ext, k)
        results[name] = "%s: .safetensors, .npz and .pt equal state_dict() bit for bit" % ("torch.jit.load" if loader == "jit" else "torch.load")
    return results


def check_cast_exports(ptload):
    """ptload --export --cast on a float32 checkpoint equals torch's own cast, bit for bit."""
    results = {}
    checkpoint = os.path.join(SOURCE, "lstm_sd.pt")
    state = torch.load(checkpoint, weights_only=True)
    with tempfile.TemporaryDirectory() as tmp:
        for cast, dtype in [("float16", torch.float16), ("bfloat16", torch.bfloat16), ("float32", torch.float32)]:
            out = os.path.join(tmp, "cast.safetensors")
            run = subprocess.run([ptload, checkpoint, "--export", out, "--cast", cast], capture_output=True, text=True)
            assert run.returncode == 0, run.stderr
            loaded = safetensors.torch.load_file(out)
            for k, v in state.items():
                assert same_bits(loaded[k], v.to(dtype)), (cast, k)
            results[cast] = "lstm_sd.pt: every tensor equals torch's .to(%s) bit for bit" % cast
    return results


def check(ptload, name, tensors, entry):
    checkpoint = os.path.join(SOURCE, name + ".pt")
    with tempfile.TemporaryDirectory() as tmp:
        st = os.path.join(tmp, "out.safetensors")
        run = subprocess.run([ptload, checkpoint, "--export", st], capture_output=True, text=True)
        if "safetensors_refuses" in entry:
            assert run.returncode == 2 and "safetensors has no" in run.stderr, (name, run.stderr)
        else:
            assert run.returncode == 0, (name, run.stderr)
            assert open(st, "rb").read() == open(os.path.join(OUT, name + ".safetensors"), "rb").read(), name + ": bytes differ from safetensors' own"
            loaded = safetensors.torch.load_file(st)
            assert list(loaded) == sorted(loaded) or True
            assert set(loaded) == set(tensors), name
            for k, v in tensors.items():
                assert same_bits(loaded[k], v), (name, k)
            as_numpy = safetensors.numpy.load_file(st)
            for k, v in tensors.items():
                if v.dtype != torch.bfloat16 and "float8" not in str(v.dtype):
                    assert as_numpy[k].tobytes() == v.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes() and list(as_numpy[k].shape) == list(v.shape), (name, k)
            entry["ptload_safetensors"] = "byte-identical; load_file and safetensors.numpy equal torch's bits"
        pt = os.path.join(tmp, "out.pt")
        run = subprocess.run([ptload, checkpoint, "--export", pt], capture_output=True, text=True)
        assert run.returncode == 0, (name, run.stderr)
        for how in [{"weights_only": True}, {"weights_only": True, "mmap": True}]:
            loaded = torch.load(pt, **how)
            assert type(loaded).__name__ == "OrderedDict" and list(loaded) == list(tensors), (name, how)
            for k, v in tensors.items():
                assert same_bits(loaded[k], v), (name, k, how)
        entry["ptload_pt"] = "torch.load(weights_only=True) and torch.load(mmap=True) equal torch's bits, in state_dict order"
        npz = os.path.join(tmp, "out.npz")
        run = subprocess.run([ptload, checkpoint, "--export", npz], capture_output=True, text=True)
        if "npz_refuses" in entry:
            assert run.returncode == 2 and "numpy has no" in run.stderr, (name, run.stderr)
            entry["ptload_npz"] = run.stderr.strip().split(": ", 2)[-1]
        else:
            assert run.returncode == 0, (name, run.stderr)
            with np.load(npz) as z:
                assert list(z.files) == list(tensors), name
                for k, v in tensors.items():
                    got = z[k]
                    assert list(got.shape) == list(v.shape) and got.tobytes() == v.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes(), (name, k)
            entry["ptload_npz"] = "numpy.load equals torch's bits, in state_dict order"


if __name__ == "__main__":
    main()
