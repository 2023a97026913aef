#!/usr/bin/env python3
"""Writes Fixtures/export/outputs: checkpoints torch.save writes that a careless exporter gets
wrong, and what torch and numpy make of them (Tests/PTLoadCLITests/OutputSafetyCLITests.swift):

- unicode_keys.pt: keys equal only under Unicode normalization ('\\u00e9' and 'e\\u0301'): two
  tensors for torch, so two for ptload's listing and every export;
- unsafe_names.pt: keys no npz member or safetensors header may hold ('../../evil',
  '__metadata__') beside ones that are fine anywhere (a newline, a backslash, '...');
- stride0.pt: one float viewed with stride 0 as 2^24 elements (a 1.5 kB file whose export is
  64 MiB), to bound an export's memory by its pieces, not its size;
- ref_unused_member.npz: Fixtures/rnn/lstm_long_bi_len.npz with a 128 MiB deflated member no
  run reads (130 kB on disk), which must never be inflated.

    /tmp/torch-venv/bin/python tools/make_output_fixtures.py [--ptload .build/debug/ptload]

With --ptload, also exports every fixture to .safetensors, .npz and .pt with that binary and
reads each export back with the format's own reader (safetensors.torch.load_file, numpy.load,
torch.load(weights_only=True)): what ptload wrote must equal torch.load's tensors, key for key
(by code point) and bit for bit; an export ptload refuses must be one the format cannot hold.
"""
import argparse
import json
import os
import platform
import subprocess
import tempfile

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Fixtures", "export", "outputs")
STRIDE0_ELEMENTS = 1 << 24
UNUSED_MEMBER_BYTES = 128 << 20


def verdict(path: str) -> dict:
    """The keys torch.load(weights_only=True) returns, as UTF-8 hex, with dtype, shape and bytes."""
    loaded = torch.load(path, weights_only=True)
    return {"keys_utf8_hex": [k.encode("utf-8").hex() for k in loaded],
            "shapes": [list(t.shape) for t in loaded.values()],
            "sums": [float(t.double().sum()) for t in loaded.values()]}


def same_bits(a: torch.Tensor, b: torch.Tensor) -> bool:
    return (a.dtype == b.dtype and list(a.shape) == list(b.shape)
            and a.contiguous().reshape(-1).view(torch.uint8).equal(b.contiguous().reshape(-1).view(torch.uint8)))


def check_exports(ptload: str) -> None:
    """Every fixture through ptload to each format, and back through the format's own reader."""
    import safetensors.torch
    readers = {"safetensors": safetensors.torch.load_file,
               "npz": lambda p: {k: torch.from_numpy(v) for k, v in np.load(p).items()},
               "pt": lambda p: torch.load(p, weights_only=True)}
    with tempfile.TemporaryDirectory() as tmp:
        for name in ["unicode_keys.pt", "unsafe_names.pt", "stride0.pt"]:
            source = os.path.join(OUT, name)
            truth = torch.load(source, weights_only=True)
            for fmt, read in readers.items():
                out = os.path.join(tmp, name + "." + fmt)
                run = subprocess.run([ptload, source, "--export", out], capture_output=True, text=True)
                if run.returncode != 0:
                    assert name == "unsafe_names.pt" and fmt in ("npz", "safetensors"), (name, fmt, run.stderr)
                    assert not os.path.exists(out), out
                    print("%s -> .%s: refused: %s" % (name, fmt, run.stderr.strip()))
                    continue
                back = read(out)
                assert list(back) == list(truth) or sorted(back) == sorted(truth), (name, fmt, list(back))
                for key, tensor in truth.items():
                    assert same_bits(back[key], tensor.contiguous()), (name, fmt, key)
                print("%s -> .%s: %d tensors, equal" % (name, fmt, len(back)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ptload", help="a built ptload binary whose exports to check with the real readers")
    args = parser.parse_args()
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    fixtures = {}
    path = os.path.join(OUT, "unicode_keys.pt")
    torch.save({"\u00e9": torch.ones(2), "e\u0301": torch.full((3,), 2.0)}, path)
    fixtures["unicode_keys.pt"] = verdict(path)
    path = os.path.join(OUT, "unsafe_names.pt")
    torch.save({"../../evil": torch.ones(1), "__metadata__": torch.ones(1) * 2, "a\nb": torch.ones(1) * 3,
                "a\\b": torch.ones(1) * 4, "...": torch.ones(1) * 5}, path)
    fixtures["unsafe_names.pt"] = verdict(path)
    path = os.path.join(OUT, "stride0.pt")
    torch.save({"x": torch.full((1,), 1.5).expand(STRIDE0_ELEMENTS)}, path)
    fixtures["stride0.pt"] = verdict(path)
    # The bundled golden reference with a member nothing reads: 128 MiB of zeros, deflated.
    source = os.path.join(ROOT, "Fixtures", "rnn", "lstm_long_bi_len.npz")
    arrays = dict(np.load(source))
    arrays["unused"] = np.zeros(UNUSED_MEMBER_BYTES // 4, dtype=np.float32)
    np.savez_compressed(os.path.join(OUT, "ref_unused_member.npz"), **arrays)
    fixtures["ref_unused_member.npz"] = {"members": sorted(arrays), "unused_bytes": UNUSED_MEMBER_BYTES}
    manifest = {"generator": "tools/make_output_fixtures.py", "torch_version": torch.__version__,
                "numpy_version": np.__version__, "python_version": platform.python_version(),
                "fixtures": fixtures}
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
        f.write("\n")
    if args.ptload:
        check_exports(args.ptload)


if __name__ == "__main__":
    main()
