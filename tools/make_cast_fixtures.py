#!/usr/bin/env python3
"""Writes Fixtures/export/cast_nans.json: torch's bits for `tensor.to(target)` from every floating
source dtype ptload reads to float16, bfloat16 and float32, NaNs included, as the body of the
vectorised CPU loop gives them (a contiguous tensor of many elements, what a state_dict holds).

    /tmp/torch-venv/bin/python tools/make_cast_fixtures.py

Per source: NaN inputs (every NaN of an 8-bit format, a spread of signs, quiet and signalling
payloads otherwise) with each target's outputs; for 8- and 16-bit sources an FNV-1a-64 digest of
the outputs of every bit pattern, in blocks; for float32 and float64 explicit finite edge cases and
the digest of a SplitMix64 stream of patterns (Tests/PTExportTests/CastTests.swift rebuilds it).

torch's result for a NaN can depend on where the element sits, not only on its value: the last
elements of each thread's chunk go through a scalar or masked tail, and strided or stride-0
sources through `c10::convert`. The generator asserts that the body is position-independent
(the same outputs with inputs padded and with each input repeated 64 times, one thread) and
records, where they differ from the body, the outputs of one-element, strided (stride 2) and
expanded (stride 0) tensors and the vector width under which the tail differs.
"""
import json
import os
import platform
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Fixtures", "export", "cast_nans.json")

SOURCES = ["float16", "bfloat16", "float32", "float64", "float8_e4m3fn", "float8_e5m2",
           "float8_e4m3fnuz", "float8_e5m2fnuz", "float8_e8m0fnu"]
TARGETS = ["float16", "bfloat16", "float32"]
UNSIGNED = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}
EXHAUSTIVE_BLOCKS = 8
RANDOM_COUNT = 3000
RANDOM_SEED = 20240611
MASK64 = (1 << 64) - 1


def signed_pair(patterns: list[int], sign: int) -> list[int]:
    return patterns + [p | sign for p in patterns]


NAN_INPUTS = {
    "float16": signed_pair([0x7C01, 0x7C02, 0x7D55, 0x7DFF, 0x7E00, 0x7E01, 0x7EAA, 0x7FFF], 0x8000),
    "bfloat16": signed_pair([0x7F81, 0x7F82, 0x7FA5, 0x7FBF, 0x7FC0, 0x7FC1, 0x7FD5, 0x7FFF], 0x8000),
    # Payload bits below bit 13 are lost in float16, those below bit 16 in bfloat16.
    "float32": signed_pair([0x7F800001, 0x7F800FFF, 0x7F801000, 0x7F802000, 0x7FA00000, 0x7FBFFFFF,
                            0x7FC00000, 0x7FC00001, 0x7FD55555, 0x7FFFFFFF], 0x80000000),
    # Payload bits below bit 29 are lost in float32.
    "float64": signed_pair([0x7FF0000000000001, 0x7FF000001FFFFFFF, 0x7FF0000020000000, 0x7FF4000000000000,
                            0x7FF7FFFFFFFFFFFF, 0x7FF8000000000000, 0x7FF8000000000001, 0x7FF8000400000000,
                            0x7FFA000000000000, 0x7FFFFFFFFFFFFFFF], 1 << 63),
}

FINITE_INPUTS = {
    # Zeros, subnormals, the largest finite float and infinities; the largest finite half, the ties
    # around it and overflow; half's subnormal and underflow ties; bfloat16 ties to even and odd.
    "float32": [0x00000000, 0x80000000, 0x00000001, 0x80000001, 0x007FFFFF, 0x00800000, 0x7F7FFFFF, 0xFF7FFFFF,
                0x7F800000, 0xFF800000, 0x477FE000, 0x477FEFFF, 0x477FF000, 0x477FF001, 0x47800000, 0x33000000,
                0x33000001, 0x32FFFFFF, 0x33800000, 0x387FC000, 0x387FE000, 0x38800000, 0x3F808000, 0x3F818000,
                0x3F808001, 0x7F7F8000, 0x3F801000, 0x3F803000, 0xBF801000, 0x3F800FFF],
    # The same for double, plus double rounding: ties of float32 rounding that become half or
    # bfloat16 ties, and values a hair either side.
    "float64": [0x0000000000000000, 0x8000000000000000, 0x0000000000000001, 0x000FFFFFFFFFFFFF, 0x0010000000000000,
                0x7FEFFFFFFFFFFFFF, 0x7FF0000000000000, 0xFFF0000000000000, 0x47EFFFFFE0000000, 0x47EFFFFFF0000000,
                0x47EFFFFFF0000001, 0x47F0000000000000, 0x36A0000000000000, 0x36A0000000000001, 0x3690000000000000,
                0x3690000000000001, 0x3E70000000000000, 0x3E6FFFFFFFFFFFFF, 0x3FF0000010000000, 0x3FF0000010000001,
                0x3FF0000030000000, 0x3FF0000008000000, 0x3FF0020000000000, 0x3FF001FFF0000000, 0x3FF0020010000000,
                0x3FF0010000000000, 0x3FF000FFF0000000, 0x3FF0010010000000, 0xBFF0010010000000, 0x40EFFE0000000000],
}


def splitmix64(seed: int) -> Iterator[int]:
    """SplitMix64 (Steele, Lea, Flood 2014), the stream CastTests.swift rebuilds."""
    state = seed
    while True:
        state = (state + 0x9E3779B97F4A7C15) & MASK64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        yield z ^ (z >> 31)


def random_inputs(source: str, count: int, seed: int) -> list[int]:
    """Bit patterns that reach every rounding case: raw patterns (NaNs and infinities among them),
    values in float16's range, the same with half or bfloat16 ties forced, and for float64 ties of
    its rounding to float32 and values across float32's whole range."""
    stream = splitmix64(seed)
    out = []
    for i in range(count):
        a, b = next(stream), next(stream)
        if source == "float32":
            kind = i % 3
            if kind == 0:
                bits = a & 0xFFFFFFFF
            else:
                bits = (a & 0x807FFFFF) | ((101 + b % 44) << 23)
                if kind == 2:
                    bits = (bits & ~0x1FFF) | 0x1000 if (b >> 40) & 1 else (bits & ~0xFFFF) | 0x8000
        else:
            kind = i % 4
            sign_mantissa = a & 0x800FFFFFFFFFFFFF
            if kind == 0:
                bits = a
            elif kind == 1:
                bits = sign_mantissa | ((993 + b % 50) << 52)
            elif kind == 2:
                low = 0x10000000 + ((b >> 32) % 3) - 1
                bits = (sign_mantissa & ~0x1FFFFFFF) | low | ((993 + b % 50) << 52)
            else:
                bits = sign_mantissa | ((868 + b % 290) << 52)
        out.append(bits)
    return out


def fnv1a64(data: bytes) -> str:
    h = 0xCBF29CE484222325
    for byte in data:
        h = ((h ^ byte) * 0x100000001B3) & MASK64
    return "%016x" % h


def dtype(name: str) -> torch.dtype:
    return getattr(torch, name)


def as_tensor(bits: Sequence[int], name: str) -> torch.Tensor:
    return torch.from_numpy(np.asarray(bits, dtype=UNSIGNED[dtype(name).itemsize]).copy()).view(dtype(name))


def bits_of(tensor: torch.Tensor) -> list[int]:
    flat = torch.empty(tensor.shape, dtype=tensor.dtype).copy_(tensor).reshape(-1)
    return [int(v) for v in flat.view(torch.uint8).numpy().view(UNSIGNED[tensor.dtype.itemsize])]


def body(bits: Sequence[int], source: str, target: str) -> list[int]:
    """torch's outputs from the vectorised loop's body: inputs padded with zeros to a multiple of
    64 elements (every vector width torch uses divides it), one thread; checked against each input
    repeated 64 times."""
    n = len(bits)
    padded = list(bits) + [0] * (-n % 64)
    out = bits_of(as_tensor(padded, source).to(dtype(target)))[:n]
    repeated = np.repeat(np.asarray(bits, dtype=UNSIGNED[dtype(source).itemsize]), 64)
    again = bits_of(as_tensor(repeated, source).to(dtype(target)))
    assert all(again[64 * i: 64 * i + 64] == [out[i]] * 64 for i in range(n)), (source, target, "body depends on position")
    return out


def other_layouts(bits: Sequence[int], source: str, target: str, expected: list[int]) -> dict[str, Any]:
    """Outputs of the one-element, strided and expanded layouts, and the tail's vector width,
    where they differ from the body's."""
    found = {}
    one = [bits_of(as_tensor([b], source).to(dtype(target)))[0] for b in bits]
    if one != expected:
        found["one_element"] = [hex(v) for v in one]
        widths = [w for w in (8, 16, 32, 64) if all(
            bits_of(as_tensor([b] * w, source).to(dtype(target))) == [e] * w for b, e in zip(bits, expected))]
        found["tail_vector_width"] = widths[0] if widths else None
    spaced = [v for b in bits for v in (b, 0)]
    strided = bits_of(as_tensor(spaced, source)[::2].to(dtype(target)))
    if strided != expected:
        found["strided"] = [hex(v) for v in strided]
    expanded = [bits_of(as_tensor([b], source).expand(64).to(dtype(target)))[63] for b in bits]
    if expanded != expected:
        found["expanded"] = [hex(v) for v in expanded]
    return found


def little_endian(values: Sequence[int], itemsize: int) -> bytes:
    return np.asarray(values, dtype=UNSIGNED[itemsize]).astype("<u%d" % itemsize).tobytes()


def nan_inputs(source: str) -> list[int]:
    if source in NAN_INPUTS:
        return NAN_INPUTS[source]
    every = as_tensor(list(range(256)), source)
    return [int(i) for i in torch.nonzero(torch.isnan(every.float())).reshape(-1)]


def source_entry(source: str) -> dict[str, Any]:
    size = dtype(source).itemsize
    nans = nan_inputs(source)
    entry = {"source": source, "nan_inputs": [hex(v) for v in nans], "targets": {}}
    if size <= 2:
        entry["exhaustive_blocks"] = EXHAUSTIVE_BLOCKS
    if source in FINITE_INPUTS:
        entry["finite_inputs"] = [hex(v) for v in FINITE_INPUTS[source]]
        entry["random"] = {"generator": "splitmix64", "seed": RANDOM_SEED, "count": RANDOM_COUNT,
                           "inputs_fnv1a64": fnv1a64(little_endian(random_inputs(source, RANDOM_COUNT, RANDOM_SEED), size))}
    for target in TARGETS:
        if target == source:
            continue
        tsize = dtype(target).itemsize
        outputs = body(nans, source, target)
        result = {"nan_outputs": [hex(v) for v in outputs]}
        if size <= 2:
            every = body(list(range(1 << (8 * size))), source, target)
            step = len(every) // EXHAUSTIVE_BLOCKS
            result["exhaustive_fnv1a64"] = [fnv1a64(little_endian(every[i: i + step], tsize)) for i in range(0, len(every), step)]
        if source in FINITE_INPUTS:
            result["finite_outputs"] = [hex(v) for v in body(FINITE_INPUTS[source], source, target)]
            result["random_fnv1a64"] = fnv1a64(little_endian(body(random_inputs(source, RANDOM_COUNT, RANDOM_SEED), source, target), tsize))
        found = other_layouts(nans, source, target, outputs)
        if found:
            result["not_the_body"] = found
        entry["targets"][target] = result
    return entry


def main() -> None:
    torch.set_num_threads(1)
    fixture = {
        "generator": "tools/make_cast_fixtures.py", "torch_version": torch.__version__, "numpy_version": np.__version__,
        "python_version": platform.python_version(), "machine": platform.machine(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(), "threads": 1, "random_seed": RANDOM_SEED,
        "layout": "a contiguous tensor of many elements: the body of the vectorised loop",
        "digest": "FNV-1a 64 of the outputs' little-endian bytes; exhaustive: every bit pattern in order, in equal blocks",
        "sources": [source_entry(source) for source in SOURCES],
    }
    with open(OUT, "w") as f:
        f.write("{\n")
        items = list(fixture.items())
        for i, (key, value) in enumerate(items):
            tail = "," if i + 1 < len(items) else ""
            if key == "sources":
                f.write('  "sources": [\n')
                f.write(",\n".join("    " + json.dumps(entry, separators=(",", ":")) for entry in value))
                f.write("\n  ]%s\n" % tail)
            else:
                f.write("  %s: %s%s\n" % (json.dumps(key), json.dumps(value), tail))
        f.write("}\n")
    print("wrote", os.path.relpath(OUT, ROOT), os.path.getsize(OUT), "bytes")


if __name__ == "__main__":
    main()
