"""Zip archives with every byte fixed: the timestamp numpy's ``savez`` would take from the clock,
torch.save's layout through Python's own ``zipfile``, and archives assembled field by field for
the hostile corpus, where the local and central headers may disagree on purpose."""
from __future__ import annotations

import contextlib
import struct
import time
import types
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import Callable, Iterator, Optional, Sequence, Tuple, Union

#: 1980-01-01 00:00:00, the earliest zip (MS-DOS) timestamp.
ZIP_EPOCH = time.struct_time((1980, 1, 1, 0, 0, 0, 1, 1, 0))
#: torch.save aligns every stored record's payload to 64 bytes.
TORCH_ALIGNMENT = 64
LOCAL_HEADER = struct.Struct("<IHHHHHIIIHH")
CENTRAL_HEADER = struct.Struct("<IHHHHHHIIIHHHHHII")
END_RECORD = struct.Struct("<IHHHHIIH")


@contextlib.contextmanager
def fixed_zip_clock() -> Iterator[None]:
    """While it is open, ``zipfile`` stamps members written from a name (as ``numpy.savez`` writes
    them) with 1980-01-01 instead of the time of day, so the same arrays give the same bytes
    whichever numpy and Python write them. The member bytes are the writer's own."""
    saved = getattr(zipfile, "time")
    setattr(zipfile, "time", types.SimpleNamespace(time=lambda: 315532800.0, localtime=lambda *_: ZIP_EPOCH))
    try:
        yield
    finally:
        setattr(zipfile, "time", saved)


@contextlib.contextmanager
def _zip64_everywhere() -> Iterator[None]:
    """Python's zipfile writes zip64 wherever it can: central-directory zip64 extras (sizes for
    non-empty entries, offsets for entries past 0) and the zip64 end record and locator."""
    limits = ("ZIP64_LIMIT", "ZIP_FILECOUNT_LIMIT")
    saved = [getattr(zipfile, name) for name in limits]
    for name in limits:
        setattr(zipfile, name, 0)
    try:
        yield
    finally:
        for name, value in zip(limits, saved):
            setattr(zipfile, name, value)


def payload_offset(archive: bytes, header_offset: int) -> int:
    """Where the data of the entry whose local header starts at ``header_offset`` begins: after
    the 30-byte header, its name and its extra field (APPNOTE 4.3.7)."""
    name_length, extra_length = struct.unpack_from("<HH", archive, header_offset + 26)
    return header_offset + 30 + name_length + extra_length


def write_aligned_zip(path: str, entries: Sequence[Tuple[str, bytes]], *, compress: int = zipfile.ZIP_STORED,
                      zip64: bool = False, align: int = TORCH_ALIGNMENT) -> None:
    """Writes ``entries`` (name, data) with Python's zipfile, dated 1980-01-01, stored payloads
    aligned to ``align`` bytes by a torch/miniz-style 'FB' padding extra field (0x4246), as
    torch.save lays them out; with ``zip64``, zip64 records on every entry. The archive is read
    back and its CRCs and alignment checked.

    - Throws: ``AssertionError`` when the archive does not read back as written."""
    ctx = _zip64_everywhere() if zip64 else contextlib.nullcontext()
    with open(path, "wb") as fh, ctx:
        with zipfile.ZipFile(fh, "w", allowZip64=True) as zout:
            for name, data in entries:
                info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = compress
                info.file_size = len(data)
                if compress == zipfile.ZIP_STORED and align:
                    header = 30 + len(name.encode("utf-8")) + (20 if zip64 else 0)
                    pad = (-(zout.fp.tell() + header)) % align  # type: ignore[union-attr]
                    if 0 < pad < 4:
                        pad += align
                    if pad:
                        info.extra = struct.pack("<HH", 0x4246, pad - 4) + b"Z" * (pad - 4)
                with zout.open(info, "w", force_zip64=zip64) as w:
                    w.write(data)
    check = zipfile.ZipFile(path)
    assert check.testzip() is None, path
    if compress == zipfile.ZIP_STORED and align:
        with open(path, "rb") as fh:
            raw = fh.read()
        for info in check.infolist():
            assert payload_offset(raw, info.header_offset) % align == 0, (path, info.filename)


def read_entries(path: str) -> list[Tuple[str, bytes]]:
    """Every entry of a zip file, (name, data), in archive order."""
    with zipfile.ZipFile(path) as zf:
        return [(name, zf.read(name)) for name in zf.namelist()]


def deflate(data: bytes) -> bytes:
    """Raw deflate (no zlib header), level 9: a zip entry's method-8 payload."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


@dataclass
class RawEntry:
    """One zip entry whose every header field the caller controls. The ``local_*`` fields, when
    set, override the local header only; ``cd_offset`` overrides the central record's offset."""

    name: bytes
    data: bytes
    method: int = 0
    flags: int = 0
    crc: int = field(init=False)
    payload: bytes = field(init=False)
    csize: int = field(init=False)
    usize: int = field(init=False)
    local_name: Optional[bytes] = None
    local_csize: Optional[int] = None
    local_usize: Optional[int] = None
    local_method: Optional[int] = None
    cd_offset: Optional[int] = None

    def __post_init__(self) -> None:
        self.crc = zlib.crc32(self.data)
        self.payload = self.data if self.method == 0 else deflate(self.data)
        self.csize = len(self.payload)
        self.usize = len(self.data)

    @classmethod
    def of(cls, name: Union[str, bytes], data: bytes, method: int = 0) -> "RawEntry":
        """An entry named ``name`` (UTF-8 when a str) holding ``data``, stored or deflated (8)."""
        return cls(name.encode("utf-8") if isinstance(name, str) else name, data, method)

    def local_header(self, name: bytes) -> bytes:
        """The 30-byte local header (version 20, DOS time 0, date 1980-01-01) and ``name``."""
        return LOCAL_HEADER.pack(0x04034B50, 20, self.flags,
                                 self.method if self.local_method is None else self.local_method, 0, 0x21,
                                 self.crc, self.csize if self.local_csize is None else self.local_csize,
                                 self.usize if self.local_usize is None else self.local_usize, len(name), 0) + name


#: Writes the zip64 end record and locator: (central directory start, size, entry count, offset here).
Zip64Writer = Callable[[int, int, int, int], bytes]


def raw_zip(entries: Sequence[RawEntry], prefix: bytes = b"", cd_count: Optional[int] = None,
            zip64: Optional[Zip64Writer] = None, tail: bytes = b"") -> bytes:
    """A zip archive written field by field: ``prefix``, each entry's local header and payload,
    the central directory, optionally the records ``zip64`` writes (then the end record's counts
    and offsets say 0xFFFF...), the end record claiming ``cd_count`` entries (default: the true
    count), then ``tail``."""
    out = bytearray(prefix)
    offsets = []
    for e in entries:
        offsets.append(len(out))
        out += e.local_header(e.local_name if e.local_name is not None else e.name) + e.payload
    cd_start = len(out)
    for e, off in zip(entries, offsets):
        out += CENTRAL_HEADER.pack(0x02014B50, 20, 20, e.flags, e.method, 0, 0x21, e.crc, e.csize, e.usize,
                                   len(e.name), 0, 0, 0, 0, 0, off if e.cd_offset is None else e.cd_offset)
        out += e.name
    cd_size = len(out) - cd_start
    count = len(entries) if cd_count is None else cd_count
    if zip64 is not None:
        out += zip64(cd_start, cd_size, count, len(out))
        out += END_RECORD.pack(0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    else:
        out += END_RECORD.pack(0x06054B50, 0, 0, count, count, cd_size, cd_start, 0)
    return bytes(out + tail)


def stored_member(archive: bytes, name: str) -> bytes:
    """The payload of the first entry named ``name``, found by its local header (not the central
    directory, which a hostile archive may contradict)."""
    at = archive.index(name.encode())
    header = archive.rindex(b"PK\x03\x04", 0, at)
    csize = struct.unpack_from("<I", archive, header + 18)[0]
    start = payload_offset(archive, header)
    return archive[start:start + csize]
