#!/usr/bin/env python3
"""Writes the golden pickle fixtures for PTPickle's tests (python3 standard library only).

    python3 tools/make_pickle_fixtures.py

writes into <repo>/Fixtures/pickles/ (the repo is the parent of this script's folder):

  protoN.pkl / protoN.json    N = 0..5: the same nested value pickled by python's own pickle
                              module with protocol N (ints incl. big and negative, floats incl.
                              nan/inf/-0.0, unicode, bytes, bytearray, tuples of 0-4 items,
                              lists, nested dicts with non-str keys, sets, frozensets, None,
                              True/False, a list shared twice, a list containing itself, an
                              OrderedDict with an attribute, instances of a class defined here).
  newobj_ex_protoN.pkl/.json  N = 4, 5: a class with __getnewargs_ex__ (NEWOBJ_EX).
  batching_protoN.pkl/.json   N = 2, 4: collections larger than the pickler's 1000-item batches.
  py2_proto0.pkl/.json        hand-assembled python-2 style text pickle (STRING with escapes,
                              INT 01/00, LONG ...L, FLOAT, UNICODE escapes, INST + BUILD, PERSID,
                              PUT/GET), checked by loading it with python.
  py2_proto1.pkl/.json        hand-assembled protocol-1 pickle without PROTO (BINSTRING,
                              SHORT_BINSTRING, BININT*, BINFLOAT, OBJ, APPENDS, SETITEMS, POP,
                              POP_MARK, DUP, LONG_BINPUT/LONG_BINGET, BINPERSID).
  manifest.json               python and pickle versions, and for each pickle its protocol
                              (PROTO's argument, or the highest opcode protocol without PROTO),
                              size and sha256.

Every .json is written from the value python itself gets back from pickle.loads (with
encoding='latin1' and a persistent_load that wraps ids), in this encoding (all scalars are
JSON strings, so no JSON number/bool ambiguity):

  {"t":"none"}                      {"t":"bool","v":"true"|"false"}
  {"t":"int","v":"<decimal>"}       {"t":"float","bits":"<16 hex digits, IEEE big-endian>"}
  {"t":"str","v":"..."}             {"t":"bytes","hex":"..."}   {"t":"bytearray","hex":"..."}
  {"t":"tuple","items":[...]}       {"t":"frozenset","items":[...]}   (values: no identity)
  {"t":"list","id":"n","items":[...]}
  {"t":"dict","id":"n","items":[[k,v],...]}          (+ "state": {...} for an OrderedDict with attributes)
  {"t":"set","id":"n","items":[...]}
  {"t":"object","id":"n","class":"module.name","args":[...]}   (+ "kwargs", "state")
  {"t":"ref","id":"n"}              a list/dict/set/object already written (sharing, cycles)
  {"t":"persistent","id":<value>}   what persistent_load received

Ids are assigned in depth-first pre-order (dict: items then state; object: args, kwargs,
state). Item order is python's iteration order, which is the order pickle wrote them in.
Only ints and tuples of ints go into sets, so their order does not depend on hash seeds.
"""

import collections
import hashlib
import io
import json
import pickle
import struct
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Fixtures" / "pickles"


class Point:
    def __init__(self, x, y, tags):
        self.x = x
        self.y = y
        self.tags = tags


class WithKw:
    def __new__(cls, a, *, scale=1.0):
        return object.__new__(cls)

    def __init__(self, a, *, scale=1.0):
        self.a = a
        self.scale = scale

    def __getnewargs_ex__(self):
        return ((self.a,), {"scale": self.scale})


class Persistent:
    def __init__(self, pid):
        self.pid = pid


class Loader(pickle.Unpickler):
    def persistent_load(self, pid):
        return Persistent(pid)


def load(data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # py2_proto0 has a deliberate "\\z"
        return Loader(io.BytesIO(data), encoding="latin1").load()


def main_value():
    shared = [1, 2, "shared"]
    selfref = ["self"]
    selfref.append(selfref)
    od = collections.OrderedDict([("weight", 1.5), ("bias", [shared]), ("z", None)])
    od.note = "has an attribute"
    return {
        "none": None,
        "true": True,
        "false": False,
        "ints": [0, 1, -1, 255, 256, 65535, 65536, -129, 2**31 - 1, -(2**31), 2**31,
                 2**63 - 1, -(2**63), 2**63, 2**64, 2**70, -(2**100), 10**40, 2**2100],
        "floats": [0.0, -0.0, 1.5, -2.25, 1e300, 5e-324, 0.1, float("nan"), float("inf"),
                   float("-inf")],
        "str": ["", "ascii", "h\u00e9llo w\u00f6rld", "\u65e5\u672c\u8a9e", "\U0001F600 emoji",
                "back\\slash\nnew line\r\x00\x1a end", "quote's \"both\"", "\x7f\x80\xff"],
        "bytes": [b"", b"abc", bytes(range(256))],
        "bytearray": [bytearray(), bytearray(b"\x00\xffxyz")],
        "tuples": [(), (1,), (1, "two"), (1, 2, 3), (1, 2, 3, 4), ((), ((),))],
        "lists": [[], [[]], [1, [2, [3, []]]]],
        "nested": {
            "a": {"b": {"c": {}}},
            1: "int key",
            (1, 2): "tuple key",
            None: "none key",
            2.5: "float key",
            b"k": "bytes key",
            frozenset({1, 2}): "frozenset key",
        },
        "sets": [set(), {1, 2, 3}, frozenset(), frozenset({4, 5}), {(1, 2), 3}],
        "shared_a": shared,
        "shared_b": shared,
        "selfref": selfref,
        "odict": od,
        "point": Point(1, -2.5, shared),
        "points": [Point(0, 0.0, []), Point(2**40, float("inf"), ("t",))],
    }


def enc(v, ids):
    if v is None:
        return {"t": "none"}
    if isinstance(v, Persistent):
        return {"t": "persistent", "id": enc(v.pid, ids)}
    if v is True or v is False:
        return {"t": "bool", "v": "true" if v else "false"}
    if isinstance(v, int):
        return {"t": "int", "v": str(v)}
    if isinstance(v, float):
        return {"t": "float", "bits": struct.pack(">d", v).hex()}
    if isinstance(v, str):
        return {"t": "str", "v": v}
    if isinstance(v, bytes):
        return {"t": "bytes", "hex": v.hex()}
    if isinstance(v, bytearray):
        return {"t": "bytearray", "hex": bytes(v).hex()}
    if isinstance(v, tuple):
        return {"t": "tuple", "items": [enc(x, ids) for x in v]}
    if isinstance(v, frozenset):
        return {"t": "frozenset", "items": [enc(x, ids) for x in v]}
    if id(v) in ids:
        return {"t": "ref", "id": str(ids[id(v)])}
    n = len(ids)
    ids[id(v)] = n
    if isinstance(v, list):
        return {"t": "list", "id": str(n), "items": [enc(x, ids) for x in v]}
    if isinstance(v, dict):
        out = {"t": "dict", "id": str(n), "items": [[enc(k, ids), enc(x, ids)] for k, x in v.items()]}
        if isinstance(v, collections.OrderedDict) and vars(v):
            out["state"] = enc(vars(v), ids)
        return out
    if isinstance(v, set):
        return {"t": "set", "id": str(n), "items": [enc(x, ids) for x in v]}
    if isinstance(v, (Point, WithKw)):
        out = {"t": "object", "id": str(n), "class": "__main__." + type(v).__name__}
        if isinstance(v, WithKw):
            args, kwargs = v.__getnewargs_ex__()
            out["args"] = [enc(x, ids) for x in args]
            out["kwargs"] = enc(kwargs, ids)
        else:
            out["args"] = []
        out["state"] = enc(vars(v), ids)
        return out
    raise TypeError(f"no encoding for {type(v)}")


def opcode_protocol(data):
    """PROTO's argument, else the highest protocol of any opcode (pickletools)."""
    import pickletools
    highest = 0
    for op, arg, _pos in pickletools.genops(data):
        if op.name == "PROTO":
            return arg
        highest = max(highest, op.proto)
    return highest


# pickletools cannot disassemble the non-ASCII STRING of py2_proto0, so the hand-made
# pickles state their protocol (no PROTO; highest opcode protocol).
HAND_PROTOCOL = {"py2_proto0": 0, "py2_proto1": 1}


# Hand-assembled python-2 style pickles (python 3's pickler no longer writes these opcodes).

PY2_PROTO0 = b"".join([
    b"(dp0\n",
    b"S'str'\np1\n", b"S'caf\\xe9 \\'q\\' \\n\\\\ \\101\\x42\\7 \\z'\np2\n", b"s",
    b"S'dq'\n", b'S"double \\"quoted\\""\n', b"s",
    b"S'int'\n", b"I42\n", b"s",
    b"S'neg'\n", b"I-7\n", b"s",
    b"S'true'\n", b"I01\n", b"s",
    b"S'false'\n", b"I00\n", b"s",
    b"S'long'\n", b"L123456789012345678901234567890L\n", b"s",
    b"S'negl'\n", b"L-5L\n", b"s",
    b"S'float'\n", b"F-1.25\n", b"s",
    b"S'fexp'\n", b"F1e+100\n", b"s",
    b"S'fnan'\n", b"Fnan\n", b"s",
    b"S'none'\n", b"N", b"s",
    b"S'uni'\n", b"Vcaf\xe9 \\u65e5 \\U0001f600 x\\\\u0041y\n", b"s",
    b"S'list'\n", b"(lp3\nI1\naS'two'\nag1\na", b"s",
    b"S'samelist'\n", b"g3\n", b"s",
    b"S'tuple'\n", b"(I1\nS'a'\ntp4\n", b"s",
    b"S'empty'\n", b"(t", b"s",
    b"S'inst'\n", b"(i__main__\nPoint\np5\n(dp6\nS'x'\nI1\nsS'y'\nF2.5\nsS'tags'\n(lp7\nsb", b"s",
    b"S'again'\n", b"g5\n", b"s",
    b"S'pid'\n", b"Ptensor_7\n", b"s",
    b".",
])

PY2_PROTO1 = b"".join([
    b"}q\x00(",
    b"U\x03binq\x01", b"T\x05\x00\x00\x00\xff\x00abc",
    b"U\x02i1", b"K\xff",
    b"U\x02i2", b"M\x00\x01",
    b"U\x02i4", b"J\xfe\xff\xff\xff",
    b"U\x02bf", b"G" + struct.pack(">d", 1.5),
    b"U\x03lst", b"]q\x02(K\x01K\x02U\x01xe",
    b"U\x03ref", b"h\x02",
    b"U\x04lref", b"j\x02\x00\x00\x00",
    b"U\x03obj", b"(c__main__\nPoint\nq\x03o}q\x04(U\x01xK\x05U\x01yG" + struct.pack(">d", -0.5)
    + b"U\x04tags)ub",
    b"U\x03tup", b")",
    b"U\x03dup", b"(K\x072t",
    b"U\x03pop", b"K\x010K\x02",
    b"U\x04pmrk", b"(K\x01K\x021K\x03",
    b"U\x03lbp", b"X\x03\x00\x00\x00\xc3\xa9tr\x00\x00\x01\x00",
    b"U\x03lbg", b"j\x00\x00\x01\x00",
    b"U\x03pid", b"(U\x03keyK\ttQ",
    b"U\x02d0", b"(d",
    b"U\x02l0", b"(l",
    b"u.",
])


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    files = {}

    def write(name, data):
        value = load(data)
        (OUT / (name + ".pkl")).write_bytes(data)
        if name.startswith("batching"):  # thousands of items: one compact line
            text = json.dumps(enc(value, {}), separators=(",", ":"), sort_keys=True) + "\n"
        else:
            text = json.dumps(enc(value, {}), indent=1, sort_keys=True) + "\n"
        (OUT / (name + ".json")).write_text(text)
        files[name + ".pkl"] = {
            "protocol": HAND_PROTOCOL[name] if name in HAND_PROTOCOL else opcode_protocol(data),
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }

    for proto in range(0, 6):
        write(f"proto{proto}", pickle.dumps(main_value(), protocol=proto))
    for proto in (4, 5):
        write(f"newobj_ex_proto{proto}",
              pickle.dumps([WithKw(3, scale=2.5), WithKw("x")], protocol=proto))
    batching = [list(range(2100)), {i: -i for i in range(1100)}, set(range(1100)),
                frozenset(range(1001))]
    for proto in (2, 4):
        write(f"batching_proto{proto}", pickle.dumps(batching, protocol=proto))
    write("py2_proto0", PY2_PROTO0)
    write("py2_proto1", PY2_PROTO1)

    manifest = {
        "generator": "tools/make_pickle_fixtures.py",
        "python": sys.version.split()[0],
        "python_full": sys.version,
        "pickle_format_version": pickle.format_version,
        "pickle_highest_protocol": pickle.HIGHEST_PROTOCOL,
        "files": files,
    }
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    print(f"wrote {len(files)} pickles to {OUT}")


if __name__ == "__main__":
    main()
