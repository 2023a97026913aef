"""ptload_tools.common.zips: archives whose every byte is fixed."""
from __future__ import annotations

import io
import struct
import time
import zipfile
from pathlib import Path

import numpy as np

from ptload_tools.common.zips import (RawEntry, fixed_zip_clock, payload_offset, raw_zip, read_entries,
                                      stored_member, write_aligned_zip)

MEMBERS = [("archive/data.pkl", b"\x80\x02}q\x00."), ("archive/byteorder", b"little"),
           ("archive/data/0", bytes(range(96))), ("archive/version", b"3")]


def test_raw_zip_reads_back_with_pythons_zipfile() -> None:
    blob = raw_zip([RawEntry.of(name, data) for name, data in MEMBERS])
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        assert zf.testzip() is None
        assert [(i.filename, zf.read(i)) for i in zf.infolist()] == MEMBERS
        assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_raw_zip_deflates_method_8_and_names_bytes_as_given() -> None:
    data = b"ab" * 1000
    blob = raw_zip([RawEntry.of(b"x\\y", data, method=8)])
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        info = zf.infolist()[0]
        assert info.compress_type == zipfile.ZIP_DEFLATED and info.compress_size < len(data)
        assert zf.read(info) == data


def test_raw_zip_local_overrides_touch_the_local_header_only() -> None:
    entry = RawEntry.of("archive/data/0", b"\0" * 8)
    entry.local_name = b"archive/data/X"
    entry.local_csize = 99
    blob = raw_zip([entry])
    local = blob[:30 + len(entry.name)]
    assert struct.unpack_from("<I", local, 18)[0] == 99 and local.endswith(b"archive/data/X")
    central = blob[blob.index(b"PK\x01\x02"):]
    assert struct.unpack_from("<I", central, 20)[0] == 8 and b"archive/data/0" in central


def test_raw_zip_end_record_can_lie_about_the_count_and_carry_a_tail() -> None:
    blob = raw_zip([RawEntry.of(n, d) for n, d in MEMBERS], cd_count=9, prefix=b"#!", tail=b"junk")
    end = blob.rindex(b"PK\x05\x06")
    assert struct.unpack_from("<HH", blob, end + 8) == (9, 9)
    assert blob.startswith(b"#!PK\x03\x04") and blob.endswith(b"junk")


def test_stored_member_and_payload_offset_find_the_data_by_the_local_header() -> None:
    blob = raw_zip([RawEntry.of(n, d) for n, d in MEMBERS])
    assert stored_member(blob, "archive/data/0") == bytes(range(96))
    header = blob.index(b"PK\x03\x04archive"[:4], blob.index(b"archive/data/0") - 30)
    assert blob[payload_offset(blob, header):][:4] == bytes(range(4))


def test_write_aligned_zip_aligns_stored_payloads_like_torch_save(tmp_path: Path) -> None:
    path = tmp_path / "a.pt"
    write_aligned_zip(str(path), MEMBERS)
    raw = path.read_bytes()
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            assert payload_offset(raw, info.header_offset) % 64 == 0
            assert info.date_time == (1980, 1, 1, 0, 0, 0)
    assert read_entries(str(path)) == MEMBERS
    again = tmp_path / "b.pt"
    write_aligned_zip(str(again), MEMBERS)
    assert again.read_bytes() == raw


def test_write_aligned_zip_zip64_and_deflate(tmp_path: Path) -> None:
    path = tmp_path / "z.pt"
    write_aligned_zip(str(path), MEMBERS, zip64=True)
    assert b"PK\x06\x06" in path.read_bytes() and read_entries(str(path)) == MEMBERS
    write_aligned_zip(str(path), MEMBERS, compress=zipfile.ZIP_DEFLATED)
    with zipfile.ZipFile(path) as zf:
        assert {i.compress_type for i in zf.infolist()} == {zipfile.ZIP_DEFLATED}
    assert read_entries(str(path)) == MEMBERS


def test_fixed_zip_clock_dates_members_written_from_a_name() -> None:
    buffer = io.BytesIO()
    with fixed_zip_clock():
        with zipfile.ZipFile(buffer, "w") as zf:
            zf.writestr("a", b"x")
    assert zipfile.ZipFile(buffer).infolist()[0].date_time == (1980, 1, 1, 0, 0, 0)
    assert getattr(zipfile, "time") is time  # restored


def test_savez_under_the_clock_is_byte_stable(tmp_path: Path) -> None:
    arrays = {"input": np.arange(6, dtype=np.float32).reshape(2, 3), "h_n": np.ones((1, 2, 3))}
    with fixed_zip_clock():
        np.savez(tmp_path / "a.npz", **arrays)  # type: ignore[arg-type]
        np.savez(tmp_path / "b.npz", **arrays)  # type: ignore[arg-type]
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    with zipfile.ZipFile(tmp_path / "a.npz") as zf:
        assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}
