"""Pickles assembled opcode by opcode (opcode names from ``pickletools``), for the files Python's
pickler would never write: torch-shaped state dicts with one thing wrong, and the hostile corpus's
attacks. Each method appends one opcode and returns the writer, so a pickle reads as a chain."""
from __future__ import annotations

import builtins
import pickletools
import struct
from typing import Callable, Iterable, List, Optional, Sequence, Tuple


class PickleWriter:
    """Bytes of one pickle under construction; ``proto`` writes PROTO first unless None."""

    def __init__(self, proto: Optional[int] = 2) -> None:
        self.b = bytearray()
        if proto is not None:
            self.b += b"\x80" + bytes([proto])

    def raw(self, data: bytes) -> "PickleWriter":
        self.b += data
        return self

    def glob(self, module: str, name: str) -> "PickleWriter":
        """GLOBAL ``module name``."""
        return self.raw(b"c" + module.encode() + b"\n" + name.encode() + b"\n")

    def int(self, v: int) -> "PickleWriter":
        """The shortest of BININT1, BININT2, BININT and LONG1 (signed little-endian) for ``v``."""
        if 0 <= v < 256:
            return self.raw(b"K" + bytes([v]))
        if 0 <= v < 65536:
            return self.raw(b"M" + struct.pack("<H", v))
        if -2**31 <= v < 2**31:
            return self.raw(b"J" + struct.pack("<i", v))
        n = (v.bit_length() + 8) // 8
        return self.raw(b"\x8a" + bytes([n]) + v.to_bytes(n, "little", signed=True))

    def str(self, s: str) -> "PickleWriter":
        """BINUNICODE; lone surrogates are written as they are."""
        data = s.encode("utf-8", "surrogatepass")
        return self.raw(b"X" + struct.pack("<I", len(data)) + data)

    def mark(self) -> "PickleWriter": return self.raw(b"(")
    def tuple(self) -> "PickleWriter": return self.raw(b"t")
    def empty_tuple(self) -> "PickleWriter": return self.raw(b")")
    def empty_list(self) -> "PickleWriter": return self.raw(b"]")
    def empty_dict(self) -> "PickleWriter": return self.raw(b"}")
    def reduce(self) -> "PickleWriter": return self.raw(b"R")
    def binpersid(self) -> "PickleWriter": return self.raw(b"Q")
    def setitems(self) -> "PickleWriter": return self.raw(b"u")
    def setitem(self) -> "PickleWriter": return self.raw(b"s")
    def append(self) -> "PickleWriter": return self.raw(b"a")
    def appends(self) -> "PickleWriter": return self.raw(b"e")
    def build(self) -> "PickleWriter": return self.raw(b"b")
    def none(self) -> "PickleWriter": return self.raw(b"N")
    def false(self) -> "PickleWriter": return self.raw(b"\x89")
    def stop(self) -> "PickleWriter": return self.raw(b".")
    def put(self, i: builtins.int) -> "PickleWriter": return self.raw(b"q" + bytes([i]))  # BINPUT
    def get(self, i: builtins.int) -> "PickleWriter": return self.raw(b"h" + bytes([i]))  # BINGET
    def long_get(self, i: builtins.int) -> "PickleWriter": return self.raw(b"j" + struct.pack("<I", i))  # LONG_BINGET

    def bytes(self) -> bytes:
        return bytes(self.b)


#: Pushes one value onto a pickle under construction.
Push = Callable[[PickleWriter], object]


def contiguous_strides(size: Sequence[int]) -> List[int]:
    """Row-major strides of ``size``, in elements."""
    stride: List[int] = []
    acc = 1
    for s in reversed(size):
        stride.insert(0, acc)
        acc *= s
    return stride


def storage_persid(p: PickleWriter, key: str, numel: int, storage: str = "FloatStorage") -> None:
    """``('storage', torch.<storage>, key, 'cpu', numel)`` as BINPERSID, as torch.save writes it."""
    p.mark().str("storage").glob("torch", storage).str(key).str("cpu").int(numel).tuple().binpersid()


def rebuilt_tensor(p: PickleWriter, key: str, numel: int, size: Sequence[int], stride: Optional[Sequence[int]] = None,
                   offset: int = 0, storage: str = "FloatStorage", pid: Optional[Push] = None) -> None:
    """``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())``;
    ``pid`` pushes another persistent id in place of the storage's."""
    p.glob("torch._utils", "_rebuild_tensor_v2").mark()
    if pid is None:
        storage_persid(p, key, numel, storage)
    else:
        pid(p)
    p.int(offset).mark()
    for s in size:
        p.int(s)
    p.tuple().mark()
    for s in contiguous_strides(size) if stride is None else stride:
        p.int(s)
    p.tuple().false().glob("collections", "OrderedDict").empty_tuple().reduce().tuple().reduce()


def ordered_dict_pickle(entries: Iterable[Tuple[str, Push]], proto: Optional[int] = 2, tail: bytes = b"") -> bytes:
    """``OrderedDict([(name, value), ...])`` as torch pickles a state dict, each value pushed by
    its writer, then ``tail`` after STOP."""
    p = PickleWriter(proto)
    p.glob("collections", "OrderedDict").empty_tuple().reduce().mark()
    for name, push in entries:
        p.str(name)
        push(p)
    p.setitems().stop()
    return p.bytes() + tail


def pickle_protocol(data: bytes) -> int:
    """PROTO's argument, else the highest protocol of any opcode in the pickle (pickletools)."""
    highest = 0
    for op, arg, _pos in pickletools.genops(data):
        if op.name == "PROTO" and isinstance(arg, int):
            return arg
        highest = max(highest, op.proto)
    return highest
