#!/usr/bin/env python3
"""Golden-fixture generator for ptload's .npy / .npz reader and writer (PTNumpy).

Run from anywhere with a Python that has numpy (2.x):

    /tmp/torch-venv/bin/python tools/make_numpy_fixtures.py

It deletes and rewrites ``Fixtures/numpy/`` entirely.  Every ``.npy`` there is
written by numpy itself (``numpy.save`` or ``numpy.lib.format.write_array``
with an explicit version), every ``.npz`` by ``numpy.savez`` (stored) or
``numpy.savez_compressed`` (deflated), and each is read back with
``numpy.load`` to produce its sidecar.  The output is byte-for-byte
deterministic: the arrays are fixed, and the zip timestamps numpy's ``savez``
would take from the clock are pinned to 1980-01-01.

The Swift tests never run Python: they read the files and the sidecars.

Sidecar schema (``NAME.json`` next to ``NAME.npy`` / ``NAME.npz``)::

    .npy: file, kind "npy", version [major, minor] (as in the file),
          descr (as in the header), fortran_order, dtype (ptload's DType name),
          shape, values, bytes_hex, c_order_twin
    .npz: file, kind "npz", compression ("stored" | "deflated"),
          members: [ {name (without .npy), member, dtype, shape, values, bytes_hex} ]
          in archive order

* ``values``: the array flattened in C order.  Floats are ``repr(float(x))``
  strings ("1.5", "-0.0", "nan", "inf", "-inf"), so float16/float32 values are
  their exact float64 widening; integers are decimal strings (int64/uint64
  survive any JSON parser); bools are JSON booleans; complex values are
  [re, im] pairs of float strings.
* ``bytes_hex``: the array's data as ptload returns it: C order,
  little-endian (``np.ascontiguousarray(a.astype(a.dtype.newbyteorder('<'))).tobytes()``).
* ``c_order_twin``: the fixture whose bytes are exactly what ``numpy.save``
  writes for this array once made C-contiguous and little-endian (version 1.0
  header); ptload's writer must reproduce that file byte for byte from what it
  read.  It is the file itself for C-order little-endian version-1.0 files.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
import types
import zipfile

import numpy as np
from numpy.lib import format as npformat

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Fixtures", "numpy")

# 1980-01-01 00:00:00, the earliest zip (MS-DOS) timestamp.
_FIXED_LOCALTIME = time.struct_time((1980, 1, 1, 0, 0, 0, 1, 1, 0))

DTYPE_NAMES = {
    "float16": "float16", "float32": "float32", "float64": "float64",
    "int8": "int8", "int16": "int16", "int32": "int32", "int64": "int64",
    "uint8": "uint8", "uint16": "uint16", "uint32": "uint32", "uint64": "uint64",
    "bool": "bool", "complex64": "complex64", "complex128": "complex128",
}


def base_arrays() -> dict[str, np.ndarray]:
    """One small array per dtype, with the edge values of each type."""
    inf, nan = float("inf"), float("nan")
    return {
        "float16": np.array([[1.5, -0.0, 65504.0], [6.0e-08, inf, nan]], dtype=np.float16),
        "float32": np.array([[1.0, -2.5, 3.4028235e38], [1.4e-45, -inf, nan]], dtype=np.float32),
        "float64": np.array([[math.pi, -0.0, 1e308], [5e-324, inf, nan]], dtype=np.float64),
        "int8": np.array([[-128, -1, 0], [1, 42, 127]], dtype=np.int8),
        "int16": np.array([[-32768, -1, 0], [1, 4242, 32767]], dtype=np.int16),
        "int32": np.array([[-2**31, -1, 0], [1, 424242, 2**31 - 1]], dtype=np.int32),
        "int64": np.array([[-2**63, -1, 0], [1, 2**53 + 1, 2**63 - 1]], dtype=np.int64),
        "uint8": np.array([[0, 1, 2], [127, 128, 255]], dtype=np.uint8),
        "uint16": np.array([[0, 1, 256], [32767, 32768, 65535]], dtype=np.uint16),
        "uint32": np.array([[0, 1, 65536], [2**31 - 1, 2**31, 2**32 - 1]], dtype=np.uint32),
        "uint64": np.array([[0, 1, 2**32], [2**63 - 1, 2**63, 2**64 - 1]], dtype=np.uint64),
        "bool": np.array([[True, False, True], [True, False, False]], dtype=np.bool_),
        "complex64": np.array([[1 + 2j, -0.5 - 0.25j], [complex(inf, nan), 3j]], dtype=np.complex64),
        "complex128": np.array([[1 + 2j, -0.5 - 0.25j], [complex(-inf, 1e-300), -3j]], dtype=np.complex128),
    }


def float_text(x) -> str:
    return repr(float(x))


def values_of(a: np.ndarray) -> list:
    flat = np.ascontiguousarray(a).reshape(-1)
    kind = a.dtype.kind
    if kind == "f":
        return [float_text(x) for x in flat]
    if kind == "c":
        return [[float_text(x.real), float_text(x.imag)] for x in flat]
    if kind == "b":
        return [bool(x) for x in flat]
    return [str(int(x)) for x in flat]


def le_c_bytes(a: np.ndarray) -> bytes:
    return np.ascontiguousarray(a.astype(a.dtype.newbyteorder("<"))).tobytes()


def describe(a: np.ndarray) -> dict:
    return {
        "dtype": DTYPE_NAMES[a.dtype.name],
        "shape": list(a.shape),
        "values": values_of(a),
        "bytes_hex": le_c_bytes(a).hex(),
    }


def write_json(name: str, payload: dict) -> None:
    with open(os.path.join(OUT, name), "w") as f:
        json.dump(payload, f, indent=1, sort_keys=True)
        f.write("\n")


def read_header(path: str) -> tuple[tuple[int, int], dict]:
    with open(path, "rb") as f:
        version = npformat.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = npformat.read_array_header_1_0(f)
        else:
            # 2.0 and 3.0 share the 4-byte length field; these headers are ASCII, so reading
            # a 3.0 header as latin-1 (2.0) gives the same text.
            shape, fortran, dtype = npformat.read_array_header_2_0(f)
    return version, {"shape": shape, "fortran_order": fortran, "descr": dtype.str}


def save_npy(name: str, a: np.ndarray, *, version=None, twin: str | None = None) -> None:
    """Writes NAME.npy with numpy and its sidecar from what numpy.load reads back."""
    path = os.path.join(OUT, name + ".npy")
    with open(path, "wb") as f:
        npformat.write_array(f, a, version=version)
    loaded = np.load(path)
    assert loaded.dtype == a.dtype and loaded.shape == a.shape
    assert np.array_equal(loaded, a, equal_nan=a.dtype.kind in "fc")
    file_version, header = read_header(path)
    payload = {
        "file": name + ".npy",
        "kind": "npy",
        "version": list(file_version),
        "descr": header["descr"],
        "fortran_order": header["fortran_order"],
        "c_order_twin": twin or name + ".npy",
    }
    payload.update(describe(loaded))
    write_json(name + ".json", payload)


def pinned_zip_clock():
    """numpy's savez takes each member's timestamp from time.localtime(time.time())."""
    real = zipfile.time
    zipfile.time = types.SimpleNamespace(time=real.time, localtime=lambda *_: _FIXED_LOCALTIME)
    return real


def save_npz(name: str, arrays: dict[str, np.ndarray], *, compressed: bool) -> None:
    path = os.path.join(OUT, name + ".npz")
    real = pinned_zip_clock()
    try:
        (np.savez_compressed if compressed else np.savez)(path, **arrays)
    finally:
        zipfile.time = real
    members = []
    with zipfile.ZipFile(path) as z, np.load(path) as npz:
        infos = z.infolist()
        assert [i.filename for i in infos] == [k + ".npy" for k in arrays]
        method = zipfile.ZIP_DEFLATED if compressed else zipfile.ZIP_STORED
        assert all(i.compress_type == method for i in infos)
        for info in infos:
            key = info.filename[:-4]
            loaded = npz[key]
            entry = {"name": key, "member": info.filename}
            entry.update(describe(loaded))
            members.append(entry)
    write_json(name + ".json", {
        "file": name + ".npz",
        "kind": "npz",
        "compression": "deflated" if compressed else "stored",
        "members": members,
    })


README = """# numpy fixtures

Written by `tools/make_numpy_fixtures.py` with real numpy (do not edit by hand; rerun the
script). Every `NAME.npy` / `NAME.npz` has a sidecar `NAME.json` with what `numpy.load` read back:
dtype, shape, values (C order) and the little-endian C-order bytes; the schema is in the script's
docstring. Read by `Tests/PTNumpyTests` (no Python needed there).

- `dtype_*`: every dtype, C order, little-endian, version 1.0
- `be_*`: big-endian (`>`) twins of the multi-byte ones
- `c_*` / `fortran_*`: the same arrays in C and Fortran order (incl. big-endian Fortran, a size-1 axis)
- `scalar_*`, `vector_*`, `empty_*`: 0-d, 1-d and zero-size arrays
- `pad_edge_*`: a header ending on a 64-byte boundary (numpy pads 64 more spaces)
- `v1_*`, `v2_*`, `v3_*`: explicit format versions (`write_array(..., version=...)`)
- `stored.npz` (`numpy.savez`), `deflated.npz` (`numpy.savez_compressed`): the same six members
"""


def main() -> None:
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    arrays = base_arrays()

    # Every dtype, C order, little-endian, version chosen by numpy (1.0).
    for dtype, a in arrays.items():
        save_npy(f"dtype_{dtype}", a)

    # Big-endian variants of every multi-byte dtype: same values, '>' descr.
    for dtype, a in arrays.items():
        if a.dtype.itemsize > 1:
            save_npy(f"be_{dtype}", a.astype(a.dtype.newbyteorder(">")), twin=f"dtype_{dtype}.npy")

    # 3-d in C and Fortran order; a big-endian Fortran 2-d; a Fortran 4-d with a size-1 axis.
    cube = np.arange(24, dtype=np.float32).reshape(2, 3, 4) / 8 - 1
    save_npy("c_float32_2x3x4", cube)
    save_npy("fortran_float32_2x3x4", np.asfortranarray(cube), twin="c_float32_2x3x4.npy")
    mat = np.array([[1, -2], [300, -400], [5000, -6000]], dtype=np.int16)
    save_npy("c_int16_3x2", mat)
    save_npy("fortran_be_int16_3x2", np.asfortranarray(mat.astype(">i2")), twin="c_int16_3x2.npy")
    hyper = np.arange(2 * 1 * 3 * 2, dtype=np.int64).reshape(2, 1, 3, 2) * 1000003 - 7
    save_npy("c_int64_2x1x3x2", hyper)
    save_npy("fortran_int64_2x1x3x2", np.asfortranarray(hyper), twin="c_int64_2x1x3x2.npy")

    # 0-d, 1-d and zero-size arrays.
    save_npy("scalar_float64", np.array(-2.75, dtype=np.float64))
    save_npy("scalar_bool", np.array(True))
    save_npy("vector_int32_5", np.array([3, -1, 4, -1, 5], dtype=np.int32))
    save_npy("empty_float32_0x3", np.zeros((0, 3), dtype=np.float32))
    save_npy("empty_int64_0", np.zeros((0,), dtype=np.int64))
    save_npy("empty_uint8_2x0x3", np.zeros((2, 0, 3), dtype=np.uint8))

    # A header whose text ends exactly on a 64-byte boundary: numpy then pads with a full 64
    # spaces, so the growth-axis room (21 digits) must be reproduced exactly to match it.
    save_npy("pad_edge_uint8_14d", np.arange(100, dtype=np.uint8).reshape((1,) * 13 + (100,)))
    assert os.path.getsize(os.path.join(OUT, "pad_edge_uint8_14d.npy")) == 10 + 118 + 64 + 100

    # Explicit format versions.
    small = np.array([[0.5, -1.0, 2.0]], dtype=np.float32)
    save_npy("v1_float32", small, version=(1, 0))
    save_npy("v2_float32", small, version=(2, 0), twin="v1_float32.npy")
    save_npy("v3_float32", small, version=(3, 0), twin="v1_float32.npy")
    save_npy("v2_fortran_be_float64", np.asfortranarray(cube.astype(">f8")), version=(2, 0),
             twin="c_float64_2x3x4.npy")
    save_npy("c_float64_2x3x4", cube.astype(np.float64))

    # .npz archives, stored and deflated, with the same members.
    members = {
        "h_n": np.arange(24, dtype=np.float32).reshape(2, 3, 4) / 4,
        "c_n": np.asfortranarray(np.linspace(-1, 1, 6, dtype=np.float64).reshape(2, 3)),
        "steps": np.array([1, 2, 3], dtype=">i8"),
        "mask": np.array([True, False]),
        "scale": np.array(0.125, dtype=np.float16),
        "empty": np.zeros((0, 4), dtype=np.int32),
    }
    save_npz("stored", members, compressed=False)
    save_npz("deflated", members, compressed=True)

    with open(os.path.join(OUT, "README.md"), "w") as f:
        f.write(README)
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f"wrote {len(os.listdir(OUT))} files, {total} bytes, to {OUT}")


if __name__ == "__main__":
    main()
