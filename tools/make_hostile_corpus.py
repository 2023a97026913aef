#!/usr/bin/env python3
"""Writes the hostile-file corpus: Fixtures/hostile/, one file per attack (python3 standard
library only; no torch, so the bytes do not depend on a torch version).

    python3 tools/make_hostile_corpus.py

Every attack is built from a small, valid `torch.save` archive of an `nn.LSTM(2, 3)` state
dict (`base_lstm.pt`, which torch.load reads) by changing the one thing the attack is about,
the way picklescan's and fickling's test generators keep their samples. The pickles are
assembled opcode by opcode, as torch's pickler (protocol 2) writes them.

`expected.json` lists, in order, for every case:
  file      the corpus file (or a golden fixture in ../checkpoints, for files torch writes)
  attack    what the file does, in a line
  args      extra command-line arguments, `{dir}` standing for this folder (optional)
  exit      ptload's exit status: 2 refused, 0 accepted
  stderr    for refusals, the exact line ptload prints, `{file}` standing for the path given
  tensors   for accepted files, {key: {"dtype", "shape", "values" (first 16, exact)}}

`tools/torch_verdicts.py` (needs torch) adds what `torch.load(weights_only=True)` does with
each file, in `torch_verdicts.json`.
"""

import json
import os
import shutil
import struct
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Fixtures" / "hostile"

# ----------------------------------------------------------------------------------------
# Pickle assembly (opcode names from pickletools).


class P:
    def __init__(self, proto=2):
        self.b = bytearray()
        if proto is not None:
            self.b += b"\x80" + bytes([proto])

    def raw(self, data):
        self.b += data
        return self

    def glob(self, module, name):                 # GLOBAL
        return self.raw(b"c" + module.encode() + b"\n" + name.encode() + b"\n")

    def mark(self):
        return self.raw(b"(")

    def int(self, v):
        if 0 <= v < 256:
            return self.raw(b"K" + bytes([v]))             # BININT1
        if 0 <= v < 65536:
            return self.raw(b"M" + struct.pack("<H", v))   # BININT2
        if -2**31 <= v < 2**31:
            return self.raw(b"J" + struct.pack("<i", v))   # BININT
        n = (v.bit_length() + 8) // 8
        return self.raw(b"\x8a" + bytes([n]) + v.to_bytes(n, "little", signed=True))  # LONG1

    def str(self, s):                             # BINUNICODE
        data = s.encode("utf-8", "surrogatepass")
        return self.raw(b"X" + struct.pack("<I", len(data)) + data)

    def tuple(self): return self.raw(b"t")
    def empty_tuple(self): return self.raw(b")")
    def empty_list(self): return self.raw(b"]")
    def empty_dict(self): return self.raw(b"}")
    def reduce(self): return self.raw(b"R")
    def binpersid(self): return self.raw(b"Q")
    def setitems(self): return self.raw(b"u")
    def setitem(self): return self.raw(b"s")
    def append(self): return self.raw(b"a")
    def appends(self): return self.raw(b"e")
    def build(self): return self.raw(b"b")
    def none(self): return self.raw(b"N")
    def false(self): return self.raw(b"\x89")
    def stop(self): return self.raw(b".")
    def put(self, i): return self.raw(b"q" + bytes([i]))          # BINPUT
    def get(self, i): return self.raw(b"h" + bytes([i]))          # BINGET
    def long_get(self, i): return self.raw(b"j" + struct.pack("<I", i))

    def bytes(self):
        return bytes(self.b)


def persid(p, key, numel, storage="FloatStorage"):
    """('storage', torch.<storage>, key, 'cpu', numel) as BINPERSID."""
    p.mark().str("storage").glob("torch", storage).str(key).str("cpu").int(numel).tuple().binpersid()


def tensor(p, key, numel, size, stride=None, offset=0, storage="FloatStorage", pid=None):
    """torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())."""
    if stride is None:
        stride, acc = [], 1
        for s in reversed(size):
            stride.insert(0, acc)
            acc *= s
    p.glob("torch._utils", "_rebuild_tensor_v2").mark()
    if pid is None:
        persid(p, key, numel, storage)
    else:
        pid(p)
    p.int(offset).mark()
    for s in size:
        p.int(s)
    p.tuple().mark()
    for s in stride:
        p.int(s)
    p.tuple().false().glob("collections", "OrderedDict").empty_tuple().reduce().tuple().reduce()


def state_dict(entries, proto=2, tail=b""):
    """OrderedDict([(name, tensor), ...]) as torch pickles a state dict; entries are
    (name, writer) where writer(p) pushes the value."""
    p = P(proto)
    p.glob("collections", "OrderedDict").empty_tuple().reduce().mark()
    for name, writer in entries:
        p.str(name)
        writer(p)
    p.setitems().stop()
    return p.bytes() + tail


# ----------------------------------------------------------------------------------------
# The base model: nn.LSTM(2, 3), one storage per tensor, values exact in float32.

H, I = 3, 2
SHAPES = [("weight_ih_l0", [4 * H, I]), ("weight_hh_l0", [4 * H, H]), ("bias_ih_l0", [4 * H]), ("bias_hh_l0", [4 * H])]


def values(k, n):
    return [(((i + 5 * k) * 37) % 17 - 8) / 16 for i in range(n)]


def numel(shape):
    n = 1
    for s in shape:
        n *= s
    return n


def f32(vals):
    return struct.pack("<%df" % len(vals), *vals)


def base_entries(shapes=SHAPES):
    return [(name, (lambda k, shape: lambda p: tensor(p, str(k), numel(shape), shape))(k, shape))
            for k, (name, shape) in enumerate(shapes)]


def base_records(shapes=SHAPES):
    return [("archive/data/%d" % k, f32(values(k, numel(shape)))) for k, (name, shape) in enumerate(shapes)]


def archive(pkl=None, records=None, version=b"3", byteorder=b"little", folder="archive", extra=()):
    """The members of a torch.save zip: data.pkl, byteorder, data/<key>..., version."""
    pkl = state_dict(base_entries()) if pkl is None else pkl
    records = base_records() if records is None else records
    members = [(folder + "/data.pkl", pkl)]
    if byteorder is not None:
        members.append((folder + "/byteorder", byteorder))
    members += [(name.replace("archive/", folder + "/", 1), data) for name, data in records]
    if version is not None:
        members.append((folder + "/version", version))
    return members + list(extra)


# ----------------------------------------------------------------------------------------
# Zip writing, every field under the caller's control.


class Entry:
    def __init__(self, name, data, method=0, flags=0):
        self.name = name.encode() if isinstance(name, str) else name
        self.data = data
        self.method = method
        self.flags = flags
        self.crc = zlib.crc32(data)
        self.payload = data if method == 0 else deflate(data)
        self.csize = len(self.payload)
        self.usize = len(data)
        # Overrides for the local header only.
        self.local_name = None
        self.local_csize = None
        self.local_usize = None
        self.local_method = None
        # Overrides for the central header only.
        self.cd_offset = None


def deflate(data):
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def zip_bytes(entries, prefix=b"", cd_count=None, zip64=None, tail=b""):
    out = bytearray(prefix)
    offsets = []
    for e in entries:
        offsets.append(len(out))
        name = e.local_name if e.local_name is not None else e.name
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, e.flags,
                           e.method if e.local_method is None else e.local_method, 0, 0x21, e.crc,
                           e.csize if e.local_csize is None else e.local_csize,
                           e.usize if e.local_usize is None else e.local_usize, len(name), 0)
        out += name + e.payload
    cd_start = len(out)
    for e, off in zip(entries, offsets):
        out += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, e.flags, e.method, 0, 0x21, e.crc,
                           e.csize, e.usize, len(e.name), 0, 0, 0, 0, 0,
                           off if e.cd_offset is None else e.cd_offset)
        out += e.name
    cd_size = len(out) - cd_start
    count = len(entries) if cd_count is None else cd_count
    if zip64 is not None:
        out += zip64(cd_start, cd_size, count, len(out))
        out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    else:
        out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, cd_size, cd_start, 0)
    return bytes(out + tail)


def entries_of(members, method=0):
    return [Entry(name, data, method) for name, data in members]


def torch_zip(members=None, **kw):
    return zip_bytes(entries_of(archive() if members is None else members), **kw)


# ----------------------------------------------------------------------------------------
# .npy / .npz


def npy(descr="'<f4'", shape=(2, 1, 2), data=None, header=None, version=(1, 0)):
    if header is None:
        shape_text = "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
        header = "{'descr': %s, 'fortran_order': False, 'shape': %s, }" % (descr, shape_text)
    head = header.encode("latin1")
    length_size = 2 if version[0] == 1 else 4
    pad = 64 - (10 + (length_size - 2) + len(head) + 1) % 64
    head = head + b" " * (pad % 64) + b"\n"
    length = struct.pack("<H" if length_size == 2 else "<I", len(head))
    if data is None:
        data = f32([0.25 * i for i in range(numel(shape))])
    return b"\x93NUMPY" + bytes(version) + length + head + data


def npz(members):
    return zip_bytes(entries_of([(name, data) for name, data in members]))


# ----------------------------------------------------------------------------------------
# Safetensors files.

def st_file(header, data, claimed=None):
    """A .safetensors image: the 8-byte header length (the true one unless `claimed`), the header
    (a dict written as compact JSON, or bytes as they are), then `data`."""
    text = header if isinstance(header, bytes) else json.dumps(header, separators=(",", ":")).encode()
    return struct.pack("<Q", len(text) if claimed is None else claimed) + text + data


def st_base():
    """The base LSTM's tensors as safetensors writes them: sorted by name (one dtype), packed."""
    header, data = {"__metadata__": {"format": "pt"}}, b""
    for k, (name, shape) in sorted(enumerate(SHAPES), key=lambda e: e[1][0]):
        raw = f32(values(k, numel(shape)))
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    return header, data


# ----------------------------------------------------------------------------------------
# The cases.

CASES = []


def case(file, attack, data=None, stderr=None, args=None, tensors=None):
    """Adds one case; data None means the file already exists (a golden fixture)."""
    if data is not None:
        (OUT / file).write_bytes(data)
    entry = {"file": file, "attack": attack}
    if args:
        entry["args"] = args
    if stderr is not None and stderr.endswith(": x"):
        stderr = stderr[:-1] + REFUSALS[file]
    if stderr is not None:
        entry["exit"] = 2
        entry["stderr"] = stderr
    else:
        entry["exit"] = 0
        entry["tensors"] = tensors
    CASES.append(entry)


# Why ptload reads files that torch.load(weights_only=True) refuses, and why that is safe.
READS_MORE = {
    "module": "a full-module pickle names the model's classes (torch.nn.modules.rnn.LSTM, __main__.Net); "
              "ptload never imports or calls them: it reads their pickled __dict__ as plain data and lists the tensors",
    "frame": "protocol 4 FRAME opcodes are only a length hint; torch's weights-only unpickler does not know the opcode, "
             "ptload checks each frame lies within the record and that no opcode crosses its end",
    "numpy": "numpy scalars (numpy.core.multiarray.scalar, numpy.dtype) in training checkpoints are kept as opaque "
             "objects and never constructed; the tensors beside them are read as usual",
}


# The refusals whose text does not depend on offsets computed above, by file.
REFUSALS = {
    'zip_name_dotdot.pt': "entry #7 is named 'archive/../../etc/passwd', which is not a plain relative path: it has a '..' component",
    'zip_name_absolute.pt': "entry #7 is named '/archive/data/9', which is not a plain relative path: it is an absolute path",
    'zip_name_nul.pt': "entry #7 is named 'archive/data/9\\u{0}.pkl', which is not a plain relative path: it contains a NUL byte",
    'zip_name_backslash.pt': "entry #7 is named 'archive\\..\\data.pkl', which is not a plain relative path: it contains a backslash",
    'zip64_count_lies.pt': 'the end record declares 10 entries, but a central directory of 426 bytes holds at most 9',
    'zip_local_size_differs.pt': "entry 'archive/data/0': its local header gives compressed size 104; the central directory gives 96",
    'zip_deflate_longer.pt': "entry 'archive/data/0' inflates to 96000 bytes; its header declares 96",
    'zip_name_dotdot.pt': "entry #7 is named 'archive/../../etc/passwd', which is not a plain relative path: it has a '..' component",
    'zip_name_absolute.pt': "entry #7 is named '/archive/data/9', which is not a plain relative path: it is an absolute path",
    'zip_name_nul.pt': "entry #7 is named 'archive/data/9\\u{0}.pkl', which is not a plain relative path: it contains a NUL byte",
    'zip_name_backslash.pt': "entry #7 is named 'archive\\..\\data.pkl', which is not a plain relative path: it contains a backslash",
    'zip64_bad_locator.pt': "the ZIP64 locator points at offset 1647, expected signature 'PK\\x06\\x06' there, found 0x01000000",
    'zip64_count_lies.pt': 'the end record declares 10 entries, but a central directory of 426 bytes holds at most 9',
    'zip64_huge_directory.pt': 'central directory at offset 1261, 4611686018427387904 bytes long, runs past the end of the file (1785 bytes)',
    'zip_no_archive_folder.pt': "no '<archive>/data.pkl' record: a zip file, but not a PyTorch checkpoint",
    'zip_two_archive_folders.pt': "records of several archives ('archive/data.pkl', 'other/data.pkl'); expected one",
    'zip_version_text.pt': "record 'archive/version' holds 'three'; expected a decimal file format version",
    'zip_version_future.pt': "record 'archive/version' says format version 99; PyTorch reads 1 to 10",
    'zip_byteorder_middle.pt': "record 'archive/byteorder' holds 'middle'; expected 'little' or 'big'",
    'pkl_global_os_system.pt': "archive/data.pkl references os.system, which belongs to 'os', which can execute code or reach the system; refused",
    'pkl_global_builtins_eval.pt': 'archive/data.pkl references builtins.eval, which can execute code or reach the system; refused',
    'pkl_global_attribute_path.pt': 'archive/data.pkl references torch.serialization.os.system, which is an attribute path, which can reach any object; refused',
    'pkl_stack_global_exec.pt': 'archive/data.pkl references builtins.exec, which can execute code or reach the system; refused',
    'pkl_stack_global_memo.pt': "archive/data.pkl references posix.system, which belongs to 'posix', which can execute code or reach the system; refused",
    'pkl_inst_popen.pt': "archive/data.pkl references subprocess.Popen, which belongs to 'subprocess', which can execute code or reach the system; refused",
    'pkl_obj_system.pt': "archive/data.pkl references os.system, which belongs to 'os', which can execute code or reach the system; refused",
    'pkl_newobj_ex_int.pt': 'archive/data.pkl: NEWOBJ_EX at offset 40: callable is int, not a global',
    'pkl_ext1.pt': 'archive/data.pkl: EXT1 at offset 36 refers to extension code 1; the extension registry is refused',
    'pkl_reduce_on_list.pt': 'archive/data.pkl: REDUCE at offset 4: callable is list, not a global',
    'pkl_reduce_args_list.pt': 'archive/data.pkl: REDUCE at offset 28 expected an argument tuple, found list',
    'pkl_build_on_list.pt': 'archive/data.pkl: BUILD at offset 4: list cannot take state',
    'pkl_setitem_on_list.pt': 'archive/data.pkl: SETITEM at offset 15 expected dict, found list',
    'pkl_append_on_dict.pt': 'archive/data.pkl: APPEND at offset 9 expected list, found dict',
    'pkl_stack_underflow.pt': 'archive/data.pkl: POP at offset 2: unpickling stack underflow',
    'pkl_mark_missing.pt': 'archive/data.pkl: TUPLE at offset 4: could not find MARK',
    'pkl_memo_unset.pt': 'archive/data.pkl: memo value not found at index 5 (offset 2)',
    'pkl_memo_huge_index.pt': 'archive/data.pkl: memo value not found at index 4000000000 (offset 2)',
    'pkl_unknown_opcode.pt': 'archive/data.pkl: unknown pickle opcode 0xff at offset 2',
    'pkl_bytes_2e62.pt': 'archive/data.pkl: pickle truncated at offset 11: needed 4611686018427387904 byte(s), 1 available',
    'pkl_unicode_4g.pt': 'archive/data.pkl: pickle truncated at offset 7: needed 4294967295 byte(s), 1 available',
    'pkl_long4_2g_digits.pt': 'archive/data.pkl: pickle truncated at offset 7: needed 2147483647 byte(s), 1 available',
    'pkl_frame_past_end.pt': 'archive/data.pkl: FRAME at offset 2 announces 1099511627776 bytes but only 1 remain',
    'pkl_no_stop.pt': 'archive/data.pkl: pickle truncated at offset 603: needed 1 byte(s), 0 available',
    'pkl_bytes_after_stop.pt': "record 'archive/data.pkl' has 205 bytes after the pickle's STOP opcode at offset 603; expected the record to end there",
    'pkl_proto_late.pt': 'archive/data.pkl: PROTO at offset 27: only the first opcode may be PROTO',
    'pkl_proto_6.pt': 'archive/data.pkl: unsupported pickle protocol 6 at offset 0',
    'pkl_frame_short.pt': 'archive/data.pkl: GLOBAL at offset 11 runs past the end of its FRAME at offset 21',
    'pkl_deep_nesting.pt': 'archive/data.pkl: value nested deeper than 10000 levels at offset 210001',
    'pkl_billion_laughs.pt': 'walking the pickled value meets more than 1010000 containers and tensors (shared references are met once per path); refused as an expansion attack',
    'pkl_key_dag.pt': 'archive/data.pkl: SETITEM at offset 524: unhashable key or element (tuple); keys are numbers, strings, bytes, globals, objects, or tuples and frozensets of those nesting at most 100 levels and holding at most 100,000 values',
    'pkl_key_rehash.pt': 'archive/data.pkl: more than 180113 units of work hashing dict keys and set elements at offset 123; the same keys are hashed again and again',
    'pkl_long_key_rehash.pt': 'archive/data.pkl: more than 245548 units of work hashing dict keys and set elements at offset 65786; the same keys are hashed again and again',
    'pkl_build_merge.pt': 'archive/data.pkl: more than 267796 units of work hashing dict keys and set elements at offset 107875; the same keys are hashed again and again',
    'ten_persid_short.pt': 'storage persistent id has 3 fields; expected 5',
    'ten_persid_class.pt': 'storage persistent id names torch.EvilStorage, not a known torch storage class',
    'ten_persid_module.pt': "persistent id has type 'module'; expected 'storage'",
    'ten_key_slash.pt': "storage key '../data.pkl' is not a plain record name",
    'ten_key_dotdot.pt': "storage key '..' is not a plain record name",
    'ten_key_missing.pt': "storage record 'archive/data/7' is missing",
    'ten_numel_mismatch.pt': "storage record 'archive/data/0' has 96 bytes; 10 elements of float32 need 40",
    'ten_offset_past.pt': "tensor needs 496 bytes of storage '0', which holds 96",
    'ten_extent_past.pt': "tensor needs 104 bytes of storage '0', which holds 96",
    'ten_negative_size.pt': 'tensor size [-12, 2] has a negative dimension',
    'ten_negative_stride.pt': 'tensor stride [-2, 1] has a negative entry',
    'ten_negative_offset.pt': 'tensor storage offset -4 is negative',
    'ten_size_overflow.pt': 'tensor size [1099511627776, 1099511627776], stride [1, 1], offset 0 overflow 64-bit arithmetic',
    'ten_rank_100000.pt': 'tensor has rank 100000; at most 64 dimensions are accepted',
    'ten_rank_mismatch.pt': 'tensor size [12, 2] and stride [2, 1, 1] have different ranks',
    'ten_key_two_dtypes.pt': "storage 'data/0' is referenced as float32 and as float64",
    'sd_stride0_weights.pt': "weight_hh_l0: tensor is a view of 1 element(s) of storage '1' repeated to 274877906944 elements; views that repeat their storage are materialized up to 268435456 elements",
    'sd_missing_weight_hh.pt': "the checkpoint holds no RNN, LSTM or GRU weights: 'weight_ih_l0' has no 'weight_hh_l0' beside it",
    'sd_wrong_gate_rows.pt': "the checkpoint holds no RNN, LSTM or GRU weights: 'weight_ih_l0' [10, 2] and 'weight_hh_l0' [12, 3] fit no layer (both must be matrices, and weight_ih's rows 1, 3 or 4 times weight_hh's columns: RNN, GRU, LSTM)",
    'sd_extra_key.pt': 'weight_ih_l0_reverse_extra is not used by LSTM(2, 3)',
    'ref_object_array.npy': "descr '|O' is an object array (pickled Python objects); only numeric and bool arrays are read",
    'ref_header_4gb.npy': "the .npy header declares 4294967280 bytes; at most 10000 are accepted (numpy's max_header_size)",
    'ref_header_call.npy': "the .npy header is not a plain Python literal: at offset 10 expected a literal value (a name is not one), found '__import__'",
    'ref_shape_larger.npy': 'header declares shape (1000, 1000) = 1000000 float32 values (4000000 bytes) but 16 bytes follow',
    'ref_npz_truncated.npz': 'no end of central directory record in the last 65,557 bytes; the file looks truncated',
    'ref_npz_crc.npz': "entry 'output.npy' has CRC-32 0x9a655a94; its header declares 0x7a7e445a",
    'ref_npz_object.npz': "member 'output.npy': descr '|O' is an object array (pickled Python objects); only numeric and bool arrays are read",
}


def expect_lstm(shapes=SHAPES):
    return {name: {"dtype": "float32", "shape": shape, "values": values(k, numel(shape))[:16]}
            for k, (name, shape) in enumerate(shapes)}


def replace_pkl(pkl):
    """The base archive with another data.pkl (deflated when large, to keep the corpus small)."""
    members = archive(pkl=pkl)
    es = entries_of(members)
    if len(pkl) > 10000:
        es[0] = Entry(members[0][0], pkl, method=8)
    return zip_bytes(es)


def refused_global(module, name, proto=2):
    return state_dict(base_entries()[:1] + [("x", lambda p: p.glob(module, name).mark().str("id").tuple().reduce())],
                      proto=proto)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.iterdir():
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old)
        elif old.name not in ("README.md", "torch_verdicts.json"):
            old.unlink()
    F = "ptload: {file}: "
    base = torch_zip()

    # Valid inputs the other cases are built from.
    case("base_lstm.pt", "the valid nn.LSTM(2, 3) state dict every attack starts from", base,
         tensors=expect_lstm())
    x = npy(shape=(2, 1, 2))
    (OUT / "base_x.npy").write_bytes(x)
    (OUT / "base_out.npy").write_bytes(npy(shape=(2, 1, 3)))

    # ---- zip layer ------------------------------------------------------------------------
    case("zip_empty.pt", "an empty file", b"",
         stderr=F + "not a PyTorch checkpoint: the file is empty")
    case("zip_truncated_tail.pt", "the last 10 bytes (inside the end record) cut off", base[:-10],
         stderr=F + "the end of central directory record at offset %d needs 22 bytes (22 plus its comment) but only 12 remain in the file; the file looks truncated" % (len(base) - 22))
    cd = base.index(b"PK\x01\x02")
    case("zip_truncated_in_records.pt", "cut inside the storage records, before the central directory",
         base[:cd - 20],
         stderr=F + "no end of central directory record in the last 65,557 bytes; the file looks truncated")
    case("zip_truncated_in_directory.pt", "cut inside the central directory", base[:cd + 30],
         stderr=F + "no end of central directory record in the last 65,557 bytes; the file looks truncated")
    case("zip_junk_before.pt", "16 bytes of junk before the first local header (no zip signature at 0)",
         b"#!/bin/sh\nexit\n\n" + base,
         stderr=F + "not a PyTorch checkpoint: it starts with neither a zip header nor a pickle")
    sfx = zip_bytes(entries_of(archive()), prefix=b"PK\x03\x04" + b"\0" * 28)
    case("zip_stub_before.pt", "a 32-byte stub starting 'PK\\x03\\x04' before the archive, offsets adjusted (self-extractor layout)",
         sfx, stderr=F + "expected the first local header at offset 0, found it at offset 32; bytes such as a self-extractor stub precede the archive")

    blob = bytearray(base)
    i = blob.index(b"OrderedDict") + 2
    blob[i] ^= 0x20
    case("zip_crc_data_pkl.pt", "one byte of data.pkl changed, its CRC-32 left as it was", bytes(blob),
         stderr=F + "entry 'archive/data.pkl' has CRC-32 %s; its header declares %s" % (
             "0x%08x" % zlib.crc32(zip_member(bytes(blob), "archive/data.pkl")),
             "0x%08x" % zlib.crc32(state_dict(base_entries()))))
    blob = bytearray(base)
    record = f32(values(1, 36))
    i = blob.index(record)
    blob[i + 5] ^= 0x01
    case("zip_crc_storage.pt", "one byte of storage archive/data/1 changed, its CRC-32 left as it was", bytes(blob),
         stderr=F + "entry 'archive/data/1' has CRC-32 %s; its header declares %s" % (
             "0x%08x" % zlib.crc32(bytes(blob[i:i + len(record)])), "0x%08x" % zlib.crc32(record)))

    es = entries_of(archive())
    es[0].flags = 1
    case("zip_encrypted.pt", "data.pkl flagged as encrypted (general-purpose bit 0)", zip_bytes(es),
         stderr=F + "entry 'archive/data.pkl' is encrypted; encrypted entries are not supported")
    for method, label in [(12, "bzip2"), (14, "lzma")]:
        es = entries_of(archive())
        es[0].method = method
        case("zip_method_%s.pt" % label, "data.pkl declares compression method %d (%s)" % (method, label), zip_bytes(es),
             stderr=F + "entry 'archive/data.pkl' uses compression method %d; expected 0 (stored) or 8 (deflated)" % method)

    es = entries_of(archive())
    es[0].local_name = b"archive/data.pkx"
    case("zip_local_name_differs.pt", "data.pkl's local header names another file than the central directory",
         zip_bytes(es), stderr=F + "entry 'archive/data.pkl': its local header names it 'archive/data.pkx'")
    es = entries_of(archive())
    es[2].local_csize = es[2].csize + 8
    es[2].local_usize = es[2].usize + 8
    case("zip_local_size_differs.pt", "storage data/0's local header declares 8 more bytes than the central directory",
         zip_bytes(es), stderr=F + "x")

    evil = state_dict([("x", lambda p: p.glob("os", "system").mark().str("id").tuple().reduce())])
    case("zip_duplicate_names.pt", "two entries named archive/data.pkl, the malicious one first",
         torch_zip([("archive/data.pkl", evil)] + archive()),
         stderr=F + "entries #0 and #1 are both named 'archive/data.pkl'")
    # Entry data/1's central record points inside data/0's bytes, where a local header for it hides.
    members = archive()
    es = entries_of(members)
    inner = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 0, 0, 0x21, es[3].crc, es[3].csize, es[3].usize,
                        len(es[3].name), 0) + es[3].name + es[3].payload
    es[2] = Entry("archive/data/0", inner + b"\0" * 4)
    blob = zip_bytes(es)
    hidden = blob.index(inner)
    es[3].cd_offset = hidden
    blob = zip_bytes(es)
    case("zip_overlapping_entries.pt", "entry data/1's central record points at a local header hidden inside data/0's bytes",
         blob, stderr=F + "entry 'archive/data/0' extends to offset %d but entry 'archive/data/1' starts at offset %d; entries must not overlap" % (
             hidden + len(inner) + 4, hidden))
    es = entries_of(archive())
    es[-1].csize += 20
    es[-1].usize += 20
    blob = zip_bytes(es)
    cd = blob.index(b"PK\x01\x02")
    case("zip_overlaps_directory.pt", "the last entry's sizes reach 20 bytes into the central directory",
         blob, stderr=F + "entry 'archive/version' extends to offset %d, past the start of the central directory at offset %d" % (cd + 20, cd))
    es = entries_of(archive())
    es[2].csize = es[2].usize = 0x7FFFFFF0
    blob = zip_bytes(es)
    off = blob.index(b"archive/data/0") + len("archive/data/0")
    case("zip_size_past_end.pt", "storage data/0 declares 2 GB of data in a 1 KB file", blob,
         stderr=F + "entry 'archive/data/0': data at offset %d, 2147483632 bytes long, runs past the end of the file (%d bytes)" % (off, len(blob)))
    es = entries_of(archive())
    es[1].cd_offset = 0x7FFF0000
    blob = zip_bytes(es)
    case("zip_offset_past_end.pt", "byteorder's central record points 2 GB past the end of the file", blob,
         stderr=F + "entry 'archive/byteorder': local header at offset 2147418112, 30 bytes long, runs past the end of the file (%d bytes)" % len(blob))
    members = archive()
    es = entries_of(members[:2]) + [Entry("archive/data/0", b"\0" * 96, method=8)] + entries_of(members[3:])
    es[2].payload = deflate(b"\0" * 96000)
    es[2].csize = len(es[2].payload)
    case("zip_deflate_longer.pt", "deflated storage data/0 declares 96 bytes and inflates to 96,000", zip_bytes(es),
         stderr=F + "x")
    for label, bad in [("dotdot", "archive/../../etc/passwd"), ("absolute", "/archive/data/9"),
                       ("nul", "archive/data/9\0.pkl"), ("backslash", "archive\\..\\data.pkl")]:
        case("zip_name_%s.pt" % label, "an extra entry named %r" % bad,
             torch_zip(archive(extra=[(bad, b"x")])),
             stderr=F + "x")
    case("zip_entry_count.pt", "the end record declares 5 entries; the central directory holds 7",
         torch_zip(cd_count=5), stderr=F + "the end record declares 5 entries; the central directory holds 7")

    def zip64_bad_signature(cd_start, cd_size, count, here):
        return struct.pack("<IIQI", 0x07064B50, 0, here - 40, 1)   # locator pointing before itself at junk
    case("zip64_bad_locator.pt", "a ZIP64 locator that points at bytes that are not a ZIP64 end record",
         torch_zip(zip64=zip64_bad_signature), stderr=F + "x")

    def zip64_lying(cd_start, cd_size, count, here):
        record = struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, count + 3, count + 3, cd_size, cd_start)
        return record + struct.pack("<IIQI", 0x07064B50, 0, here, 1)
    case("zip64_count_lies.pt", "a ZIP64 end record declaring 3 more entries than the central directory holds",
         torch_zip(zip64=zip64_lying), stderr=F + "x")

    def zip64_huge(cd_start, cd_size, count, here):
        record = struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, count, count, 1 << 62, cd_start)
        return record + struct.pack("<IIQI", 0x07064B50, 0, here, 1)
    case("zip64_huge_directory.pt", "a ZIP64 end record declaring a central directory of 2^62 bytes",
         torch_zip(zip64=zip64_huge), stderr=F + "x")

    case("zip_no_archive_folder.pt", "records at the top level (data.pkl, data/0, ...) with no archive folder",
         torch_zip([(n.replace("archive/", ""), d) for n, d in archive()]), stderr=F + "x")
    case("zip_two_archive_folders.pt", "records split between two archive folders",
         torch_zip(archive() + [("other/data.pkl", state_dict([]))]), stderr=F + "x")
    case("zip_version_text.pt", "archive/version is 'three'", torch_zip(archive(version=b"three")), stderr=F + "x")
    case("zip_version_future.pt", "archive/version is 99 (newer than any torch writes)", torch_zip(archive(version=b"99")),
         stderr=F + "x")
    case("zip_byteorder_middle.pt", "archive/byteorder is 'middle'", torch_zip(archive(byteorder=b"middle")),
         stderr=F + "x")

    # ---- pickle ---------------------------------------------------------------------------
    def pk(file, attack, pkl, stderr=None, tensors=None):
        case(file, attack, replace_pkl(pkl), stderr=stderr, tensors=tensors)

    pk("pkl_global_os_system.pt", "GLOBAL os.system called by REDUCE next to a valid tensor",
       refused_global("os", "system"), stderr=F + "x")
    pk("pkl_global_builtins_eval.pt", "GLOBAL builtins.eval", refused_global("builtins", "eval"), stderr=F + "x")
    pk("pkl_global_attribute_path.pt", "GLOBAL torch serialization.os.system (an attribute path)",
       refused_global("torch", "serialization.os.system"), stderr=F + "x")

    def stack_global(memo):
        p = P(4)
        p.glob("collections", "OrderedDict").empty_tuple().reduce().mark().str("x")
        if memo:
            p.str("posix").raw(b"\x94").str("system").raw(b"\x94")     # MEMOIZE twice
            p.str("unrelated").raw(b"\x94").raw(b"0")                  # noise
            p.get(0).get(1)
        else:
            p.str("builtins").str("exec")
        p.raw(b"\x93").mark().str("id").tuple().reduce().setitems().stop()
        return p.bytes()
    pk("pkl_stack_global_exec.pt", "STACK_GLOBAL builtins.exec (protocol 4)", stack_global(False), stderr=F + "x")
    pk("pkl_stack_global_memo.pt", "STACK_GLOBAL posix.system with both names fetched from the memo",
       stack_global(True), stderr=F + "x")

    p = P(2)
    p.glob("collections", "OrderedDict").empty_tuple().reduce().mark().str("x")
    p.mark().str("id").raw(b"isubprocess\nPopen\n").setitems().stop()
    pk("pkl_inst_popen.pt", "INST subprocess.Popen", p.bytes(), stderr=F + "x")
    p = P(2)
    p.glob("collections", "OrderedDict").empty_tuple().reduce().mark().str("x")
    p.mark().glob("os", "system").str("id").raw(b"o").setitems().stop()
    pk("pkl_obj_system.pt", "OBJ with os.system as the class", p.bytes(), stderr=F + "x")
    p = P(4)
    p.glob("collections", "OrderedDict").empty_tuple().reduce().mark().str("x")
    p.int(7).empty_tuple().empty_dict().raw(b"\x92").setitems().stop()
    pk("pkl_newobj_ex_int.pt", "NEWOBJ_EX with the int 7 as the class", p.bytes(), stderr=F + "x")
    p = P(2)
    p.glob("collections", "OrderedDict").empty_tuple().reduce().mark().str("x")
    p.raw(b"\x82\x01").setitems().stop()
    pk("pkl_ext1.pt", "EXT1 1 (a copyreg extension-registry lookup)", p.bytes(), stderr=F + "x")

    def wrong(file, attack, body):
        p = P(2)
        body(p)
        pk(file, attack, p.stop().bytes(), stderr=F + "x")
    wrong("pkl_reduce_on_list.pt", "REDUCE with a list as the callable",
          lambda p: p.empty_list().empty_tuple().reduce())
    wrong("pkl_reduce_args_list.pt", "REDUCE of OrderedDict with a list instead of an argument tuple",
          lambda p: p.glob("collections", "OrderedDict").empty_list().reduce())
    wrong("pkl_build_on_list.pt", "BUILD on a list", lambda p: p.empty_list().empty_dict().build())
    wrong("pkl_setitem_on_list.pt", "SETITEM on a list", lambda p: p.empty_list().str("k").str("v").setitem())
    wrong("pkl_append_on_dict.pt", "APPEND on a dict", lambda p: p.empty_dict().str("v").append())
    wrong("pkl_stack_underflow.pt", "POP on an empty stack", lambda p: p.raw(b"0"))
    wrong("pkl_mark_missing.pt", "TUPLE with no MARK set", lambda p: p.int(1).tuple())
    wrong("pkl_memo_unset.pt", "BINGET of memo slot 5, never set", lambda p: p.get(5))
    wrong("pkl_memo_huge_index.pt", "LONG_BINGET of memo slot 4,000,000,000", lambda p: p.long_get(4_000_000_000))
    wrong("pkl_unknown_opcode.pt", "opcode 0xff", lambda p: p.raw(b"\xff"))
    wrong("pkl_bytes_2e62.pt", "BINBYTES8 declaring 2^62 bytes", lambda p: p.raw(b"\x8e" + struct.pack("<Q", 1 << 62)))
    wrong("pkl_unicode_4g.pt", "BINUNICODE declaring 4 GB", lambda p: p.raw(b"X" + struct.pack("<I", 0xFFFFFFFF)))
    wrong("pkl_long4_2g_digits.pt", "LONG4 declaring 2 GB of digits", lambda p: p.raw(b"\x8b" + struct.pack("<i", 2**31 - 1)))
    wrong("pkl_frame_past_end.pt", "FRAME announcing 2^40 bytes",
          lambda p: p.raw(b"\x95" + struct.pack("<Q", 1 << 40)))
    body = state_dict(base_entries(), proto=None)
    pk("pkl_no_stop.pt", "a state dict whose STOP is missing", b"\x80\x02" + body[:-1], stderr=F + "x")
    pk("pkl_bytes_after_stop.pt", "a valid state dict followed by a second pickle (os.system) after STOP",
       state_dict(base_entries(), tail=refused_global("os", "system")), stderr=F + "x")
    pk("pkl_proto_late.pt", "a second PROTO opcode in the middle of the pickle",
       b"\x80\x02" + body[:25] + b"\x80\x05" + body[25:], stderr=F + "x")
    pk("pkl_proto_6.pt", "PROTO 6 (no such protocol)", b"\x80\x06" + body, stderr=F + "x")
    frame_body = state_dict(base_entries(), proto=None)
    pk("pkl_frame_short.pt", "FRAME announcing 10 bytes where the next opcode runs past them",
       b"\x80\x04\x95" + struct.pack("<Q", 10) + frame_body, stderr=F + "x")
    deep = P(2).raw(b"]" * 200_000 + b"a" * 199_999).stop().bytes()
    pk("pkl_deep_nesting.pt", "200,000 lists nested in each other", deep, stderr=F + "x")

    # Self-reference: the state dict holds a list that contains itself, and the tensors.
    p = P(2)
    p.glob("collections", "OrderedDict").empty_tuple().reduce().mark()
    for name, writer in base_entries():
        p.str(name)
        writer(p)
    p.str("loop").empty_list().put(200).get(200).append()
    p.setitems().stop()
    pk("pkl_self_reference.pt", "a list that contains itself beside the state dict's tensors", p.bytes(),
       tensors=expect_lstm())

    # A memo slot at index 2^32 - 1 (LONG_BINPUT), read back under a second key: legal, and the
    # memo must not be an array sized by the index.
    entries = base_entries()
    first = entries[0][1]
    entries[0] = (entries[0][0], lambda p: (first(p), p.raw(b"r" + struct.pack("<I", 0xFFFFFFFF))))
    entries.append(("alias", lambda p: p.long_get(0xFFFFFFFF)))
    aliased = expect_lstm()
    aliased["alias"] = aliased["weight_ih_l0"]
    pk("pkl_memo_put_huge.pt", "a tensor memoized at index 4,294,967,295 and fetched again as 'alias'",
       state_dict(entries), tensors=aliased)

    # Billion laughs: ten references to a tensor, ten references to that list, ... nine deep.
    p = P(2)
    p.empty_dict().str("w")
    tensor(p, "0", 24, [12, 2])
    p.put(0).raw(b"0")
    for level in range(1, 10):
        p.empty_list().mark()
        for _ in range(10):
            p.get(level - 1)
        p.appends().put(level).raw(b"0")
    p.get(9).setitem().stop()
    pk("pkl_billion_laughs.pt", "a tensor referenced 10^9 times through nine levels of ten shared lists",
       p.bytes(), stderr=F + "x")

    # Exponential key: a tuple DAG (t_k = (t_{k-1}, t_{k-1})) 64 levels deep used as a dict key.
    p = P(2)
    p.empty_dict().empty_tuple().put(0)
    for level in range(1, 65):
        p.raw(b"0").get(level - 1).get(level - 1).raw(b"\x86").put(level)
    p.str("v").setitem().stop()
    pk("pkl_key_dag.pt", "a dict key that is a tuple DAG of 2^64 leaves (t = (t, t), 64 times)", p.bytes(),
       stderr=F + "x")

    # Keys hashed again and again: each is within the per-key limits, but stored many times over
    # through the memo (a few bytes of pickle each time) the hashing would take hours; the key
    # work budget (100,000 units plus 1 per byte of pickle) stops it.
    p = P(2)
    p.none()
    for level in range(15):
        p.put(level).get(level).get(level).raw(b"\x86")     # TUPLE2: t = (t, t), 65,535 values
    p.put(15).raw(b"0").empty_dict()
    for _ in range(20_000):
        p.get(15).none().setitem()
    pk("pkl_key_rehash.pt", "a tuple key of 65,535 values (a DAG) stored 20,000 times through the memo",
       p.stop().bytes(), stderr=F + "x")
    p = P(2)
    p.str("k" * 65_536).put(0).raw(b"0").empty_dict()
    for _ in range(20_000):
        p.get(0).none().setitem()
    pk("pkl_long_key_rehash.pt", "a 64 KiB string key stored 20,000 times through the memo",
       p.stop().bytes(), stderr=F + "x")
    p = P(2)
    for slot in (0, 1):
        p.empty_dict().mark()
        for i in range(5_000):
            p.str(f"k{i}").none()
        p.setitems().put(slot).raw(b"0")
    p.empty_dict()
    for _ in range(10_000):
        p.get(0).build().get(1).build()
    pk("pkl_build_merge.pt", "BUILD on a dict 20,000 times, each merging a 5,000-key state into the last",
       p.stop().bytes(), stderr=F + "x")

    # ---- tensors --------------------------------------------------------------------------
    def with_tensor(file, attack, writer, records=None, stderr=None, tensors=None, args=None):
        pkl = state_dict([("weight_ih_l0", writer)])
        recs = base_records()[:1] if records is None else records
        es = entries_of(archive(pkl=pkl, records=recs))
        if len(pkl) > 10000:
            es[0] = Entry(es[0].name, pkl, method=8)
        case(file, attack, zip_bytes(es), stderr=stderr, tensors=tensors, args=args)

    def pid_tuple(*items):
        def w(p):
            p.mark()
            for item in items:
                item(p)
            p.tuple().binpersid()
        return w
    s = lambda v: (lambda p: p.str(v))
    n = lambda v: (lambda p: p.int(v))
    g = lambda m, nm: (lambda p: p.glob(m, nm))
    with_tensor("ten_persid_short.pt", "a persistent id of 3 items",
                lambda p: tensor(p, "0", 24, [12, 2], pid=pid_tuple(s("storage"), g("torch", "FloatStorage"), s("0"))),
                stderr=F + "x")
    with_tensor("ten_persid_class.pt", "a persistent id naming torch.EvilStorage",
                lambda p: tensor(p, "0", 24, [12, 2], storage="EvilStorage"), stderr=F + "x")
    with_tensor("ten_persid_module.pt", "a persistent id of type 'module' instead of 'storage'",
                lambda p: tensor(p, "0", 24, [12, 2], pid=pid_tuple(s("module"), g("torch", "FloatStorage"), s("0"), s("cpu"), n(24))),
                stderr=F + "x")
    with_tensor("ten_key_slash.pt", "a storage key '../data.pkl'",
                lambda p: tensor(p, "../data.pkl", 24, [12, 2]), stderr=F + "x")
    with_tensor("ten_key_dotdot.pt", "a storage key '..'", lambda p: tensor(p, "..", 24, [12, 2]), stderr=F + "x")
    with_tensor("ten_key_missing.pt", "a storage key with no record", lambda p: tensor(p, "7", 24, [12, 2]),
                stderr=F + "x")
    with_tensor("ten_numel_mismatch.pt", "numel 10 for a 24-float record", lambda p: tensor(p, "0", 10, [5, 2]),
                stderr=F + "x")
    with_tensor("ten_offset_past.pt", "storage offset 100 in a 24-element storage",
                lambda p: tensor(p, "0", 24, [12, 2], offset=100), stderr=F + "x")
    with_tensor("ten_extent_past.pt", "size [13, 2] in a 24-element storage", lambda p: tensor(p, "0", 24, [13, 2]),
                stderr=F + "x")
    with_tensor("ten_negative_size.pt", "size [-12, 2]", lambda p: tensor(p, "0", 24, [-12, 2], stride=[2, 1]),
                stderr=F + "x")
    with_tensor("ten_negative_stride.pt", "stride [-2, 1]", lambda p: tensor(p, "0", 24, [12, 2], stride=[-2, 1]),
                stderr=F + "x")
    with_tensor("ten_negative_offset.pt", "storage offset -4", lambda p: tensor(p, "0", 24, [12, 2], offset=-4),
                stderr=F + "x")
    with_tensor("ten_size_overflow.pt", "size [2^40, 2^40] (the product overflows 64 bits)",
                lambda p: tensor(p, "0", 24, [1 << 40, 1 << 40], stride=[1, 1]), stderr=F + "x")
    with_tensor("ten_rank_100000.pt", "a size of rank 100,000",
                lambda p: tensor(p, "0", 24, [1] * 100_000, stride=[1]), stderr=F + "x")
    with_tensor("ten_rank_mismatch.pt", "size of rank 2, stride of rank 3",
                lambda p: tensor(p, "0", 24, [12, 2], stride=[2, 1, 1]), stderr=F + "x")
    with_tensor("ten_stride0_2e40.pt", "a stride-0 view of one float claiming 2^40 elements (listed, never materialized)",
                lambda p: tensor(p, "0", 24, [1 << 20, 1 << 20], stride=[0, 0]),
                tensors={"weight_ih_l0": {"dtype": "float32", "shape": [1 << 20, 1 << 20], "values": None}})
    pkl = state_dict([("a", lambda p: tensor(p, "0", 24, [12, 2])),
                      ("b", lambda p: tensor(p, "0", 12, [12], storage="DoubleStorage"))])
    case("ten_key_two_dtypes.pt", "one storage key read as float32 and as float64",
         torch_zip(archive(pkl=pkl, records=base_records()[:1])), stderr=F + "x")

    # A stride-0 LSTM whose hidden size is 2^18: loading it for a run must not materialize 2^40 floats.
    big = 1 << 18
    def stride0(k, shape):
        return lambda p: tensor(p, str(k), 1, shape, stride=[0] * len(shape))
    shapes0 = [("weight_ih_l0", [4 * big, I]), ("weight_hh_l0", [4 * big, big]), ("bias_ih_l0", [4 * big]), ("bias_hh_l0", [4 * big])]
    pkl = state_dict([(name, stride0(k, shape)) for k, (name, shape) in enumerate(shapes0)])
    case("sd_stride0_weights.pt", "an LSTM whose weights are stride-0 views of one float each, hidden size 2^18",
         torch_zip(archive(pkl=pkl, records=[("archive/data/%d" % k, f32([0.5])) for k in range(4)])),
         args=["--input", "{dir}/base_x.npy", "--verify", "{dir}/base_out.npy"], stderr=F + "x")

    # ---- state dicts that do not fit their module ---------------------------------------------
    def sd(file, attack, shapes, stderr, drop=None, extra=None):
        entries = [e for e in base_entries(shapes) if e[0] != drop]
        records = [r for k, r in enumerate(base_records(shapes)) if shapes[k][0] != drop]
        if extra:
            entries.append((extra, lambda p: tensor(p, "9", 3, [3])))
            records.append(("archive/data/9", f32([1, 2, 3])))
        case(file, attack, torch_zip(archive(pkl=state_dict(entries), records=records)),
             args=["--input", "{dir}/base_x.npy", "--verify", "{dir}/base_out.npy"], stderr=stderr)
    sd("sd_missing_weight_hh.pt", "an LSTM state dict without weight_hh_l0", SHAPES, F + "x", drop="weight_hh_l0")
    sd("sd_wrong_gate_rows.pt", "weight_ih_l0 with 10 rows (not 4 x hidden)",
       [("weight_ih_l0", [10, I])] + SHAPES[1:], F + "x")
    sd("sd_extra_key.pt", "an LSTM state dict with an extra key 'weight_ih_l0_reverse_extra'", SHAPES, F + "x",
       extra="weight_ih_l0_reverse_extra")

    # ---- reference files -----------------------------------------------------------------
    def ref(file, attack, data, stderr, option="--input"):
        args = ["--input", "{dir}/base_x.npy", "--verify", "{dir}/" + file] if option == "--input" else [option, "{dir}/" + file]
        case(file, attack, data, args=args, stderr=stderr)
        CASES[-1]["file"] = "base_lstm.pt"
        CASES[-1]["reference"] = file
    ref("ref_object_array.npy", "an input .npy of dtype object (a pickle inside)",
        npy(descr="'|O'", shape=(2,), data=b"\x80\x02N."), stderr="ptload: {dir}/ref_object_array.npy: x")
    ref("ref_header_4gb.npy", "a version 2.0 .npy whose header declares 4 GB",
        b"\x93NUMPY\x02\x00" + struct.pack("<I", 0xFFFFFFF0) + b"{", stderr="ptload: {dir}/ref_header_4gb.npy: x")
    ref("ref_header_call.npy", "an .npy header with a call in it",
        npy(header="{'descr': __import__('os').system('id'), 'fortran_order': False, 'shape': (2, 1, 2), }"),
        stderr="ptload: {dir}/ref_header_call.npy: x")
    ref("ref_shape_larger.npy", "an .npy declaring 1000 x 1000 floats with 16 bytes of data",
        npy(shape=(1000, 1000), data=f32([1, 2, 3, 4])), stderr="ptload: {dir}/ref_shape_larger.npy: x")
    good = npz([("input.npy", x), ("output.npy", npy(shape=(2, 1, 3), data=f32([0] * 6)))])
    ref("ref_npz_truncated.npz", "a reference .npz cut in half", good[:len(good) // 2],
        stderr="ptload: {dir}/ref_npz_truncated.npz: x", option="--verify")
    blob = bytearray(good)
    blob[blob.index(b"\x93NUMPY", 100) + 80] ^= 0x10
    ref("ref_npz_crc.npz", "a reference .npz with one data byte of output.npy changed",
        bytes(blob), stderr="ptload: {dir}/ref_npz_crc.npz: x", option="--verify")
    ref("ref_npz_object.npz", "a reference .npz whose output.npy is an object array",
        npz([("input.npy", x), ("output.npy", npy(descr="'|O'", shape=(1,), data=b"\x80\x02N."))]),
        stderr="ptload: {dir}/ref_npz_object.npz: x", option="--verify")

    # ---- safetensors ------------------------------------------------------------------------
    header, data = st_base()
    case("st_base.safetensors", "the base nn.LSTM(2, 3) state dict as safetensors writes it", st_file(header, data),
         tensors=expect_lstm())
    case("st_header_past_end.safetensors", "a header length running past the end of the file",
         st_file(header, data, claimed=len(json.dumps(header, separators=(",", ":"))) + len(data) + 1),
         stderr=F + "header length %d runs past the end of the file (%d bytes after the length)"
         % (len(json.dumps(header, separators=(",", ":"))) + len(data) + 1, len(json.dumps(header, separators=(",", ":"))) + len(data)))
    case("st_header_giant.safetensors", "a header length of 2^62 bytes", st_file(header, data, claimed=1 << 62),
         stderr=F + "header length 4611686018427387904 is over the format's limit of 100000000 bytes")
    bad_key = json.dumps(header, separators=(",", ":")).encode().replace(b'"bias_hh_l0"', b'"bias_\xff_l0"')
    case("st_key_not_utf8.safetensors", "a tensor name that is not UTF-8 (byte 0xFF)", st_file(bad_key, data),
         stderr=F + "the header is not UTF-8")
    overlap = json.loads(json.dumps(header))
    overlap["bias_ih_l0"]["data_offsets"] = [0, 48]
    overlap["bias_hh_l0"]["data_offsets"] = [0, 48]
    case("st_overlapping.safetensors", "two tensors over the same bytes (and a hole where one was)",
         st_file(overlap, data), stderr=F + "tensor 'bias_ih_l0' (data_offsets [0, 48]) overlaps the tensor before it")
    outside = json.loads(json.dumps(header))
    outside["weight_ih_l0"]["data_offsets"] = [len(data) - 8, len(data) - 8 + 96]
    case("st_offsets_past_end.safetensors", "a tensor whose data_offsets run past the end of the data",
         st_file(outside, data), stderr=F + "tensor 'weight_ih_l0': data_offsets [%d, %d] run past the data's %d bytes"
         % (len(data) - 8, len(data) - 8 + 96, len(data)))
    lying = json.loads(json.dumps(header))
    lying["weight_hh_l0"]["shape"] = [12, 4]
    case("st_shape_disagrees.safetensors", "a shape that needs more bytes than its data_offsets hold",
         st_file(lying, data), stderr=F + "tensor 'weight_hh_l0': shape [12, 4] of F32 needs 192 bytes; data_offsets [%d, %d] hold 144"
         % tuple(header["weight_hh_l0"]["data_offsets"]))
    dtype = json.loads(json.dumps(header))
    dtype["bias_hh_l0"]["dtype"] = "F64"
    case("st_dtype_disagrees.safetensors", "a dtype whose size does not fit the data_offsets (F64 over 12 floats)",
         st_file(dtype, data), stderr=F + "tensor 'bias_hh_l0': shape [12] of F64 needs 96 bytes; data_offsets [0, 48] hold 48")
    text = json.dumps(header, separators=(",", ":"))
    dup = (text[:-1] + ',"bias_hh_l0":' + json.dumps(header["bias_hh_l0"], separators=(",", ":")) + "}").encode()
    case("st_duplicate_key.safetensors", "the same tensor name twice in the header", st_file(dup, data),
         stderr=F + "the header is not a safetensors header: key 'bias_hh_l0' appears twice")
    case("st_trailing_bytes.safetensors", "64 bytes after the last tensor that belong to none", st_file(header, data + bytes(64)),
         stderr=F + "64 bytes after the last tensor belong to no tensor")
    nested = json.loads(json.dumps(header))
    nested["__metadata__"] = {"format": {"nested": "object"}}
    case("st_nested.safetensors", "a header nesting objects deeper than the format does", st_file(nested, data),
         stderr=F + "the header is not a safetensors header: objects nest deeper than a safetensors header does")

    # ---- strictness, names ptload cannot write, manifests that leave their folder (issue 18) ---
    text = json.dumps(header, separators=(",", ":"))
    zeros = text.replace('"data_offsets":[0,', '"data_offsets":[' + "0" * 500 + ",", 1)
    case("st_offset_leading_zeros.safetensors", "a data offset written with 500 leading zeros (serde_json refuses them)",
         st_file(zeros.encode(), data),
         stderr=F + "the header is not a safetensors header: an integer at %d has a leading zero" % (zeros.index("0" * 500)))
    evil = json.loads(text)
    evil["../../evil"] = evil.pop("bias_hh_l0")
    case("st_key_dotdot.safetensors", "a tensor named '../../evil', exported to .npz (a zip-slip member name)",
         st_file(evil, data), args=["--export", "{dir}/never_written.npz"],
         stderr=F + "tensor '../../evil' cannot be named so in .npz: the member name is not a plain relative path "
         "(it has a '..' component), which readers refuse")
    reserved = [(("__metadata__" if name == "bias_hh_l0" else name), writer) for name, writer in base_entries()]
    case("pkl_key_metadata.pt", "a state-dict key '__metadata__', exported to .safetensors (the header reserves it)",
         torch_zip(archive(pkl=state_dict(reserved))), args=["--export", "{dir}/never_written.safetensors"],
         stderr=F + "tensor '__metadata__' cannot be named so in .safetensors: the header reserves '__metadata__' "
         "for the file's metadata")
    case("base_lstm.pt", "an export over its own input", args=["--export", "{dir}/base_lstm.pt"],
         stderr="ptload: {dir}/base_lstm.pt: cannot write: it is the input")
    CASES[-1]["reference"] = "export_over_input"
    # A golden folder with a symlink out of it (`up -> ..`), one to an absolute path, and a
    # manifest with a trailing comma. Nothing outside the folder is read or quoted.
    folder = OUT / "golden_escape"
    folder.mkdir()
    os.symlink("..", folder / "up")
    os.symlink("/etc/passwd", folder / "passwd.npz")
    one = {"name": "lstm", "npz": "up/ref_x.npz", "module": "", "kind": "LSTM"}
    manifest = {"format": "ptload-golden", "format_version": 2, "cases": [one]}
    for name, npz_path in [("up.json", "up/base_x.npy"), ("absolute.json", "passwd.npz")]:
        (folder / name).write_text(json.dumps(dict(manifest, cases=[dict(one, npz=npz_path)])))
        case(name, "a golden manifest whose case reads '%s', a symlink out of its folder" % npz_path,
             args=["--verify", "{dir}/golden_escape/" + name],
             stderr="ptload: {dir}/golden_escape/%s: case 'lstm': npz '%s' leaves the manifest's folder through a symbolic link"
             % (name, npz_path))
        CASES[-1]["file"] = "base_lstm.pt"
        CASES[-1]["reference"] = "golden_escape/" + name
    (folder / "trailing_comma.json").write_text(json.dumps(manifest)[:-2] + ",]}")
    case("trailing_comma.json", "a golden manifest with a trailing comma (Python's json refuses it)",
         args=["--verify", "{dir}/golden_escape/trailing_comma.json"],
         stderr="ptload: {dir}/golden_escape/trailing_comma.json: not a golden manifest: not JSON: a trailing comma at byte %d"
         % (len(json.dumps(manifest)) - 1))
    CASES[-1]["file"] = "base_lstm.pt"
    CASES[-1]["reference"] = "golden_escape/trailing_comma.json"

    # ---- files torch writes that torch.load(weights_only=True) refuses and ptload reads --------
    for name, attack in [("full_lstm.pt", "torch.save(model) of a whole nn.LSTM (a full-module pickle)"),
                         ("full_net.pt", "torch.save of a user-defined nn.Module (classes from __main__)")]:
        case("../checkpoints/" + name, attack, tensors={})
        CASES[-1]["golden"] = "../checkpoints/" + name.replace(".pt", ".expected.json")
        CASES[-1]["reads_more"] = READS_MORE["module"]
    body = state_dict(base_entries(), proto=None)
    pk("ok_protocol4_frames.pt", "the base state dict as protocol 4, in a FRAME",
       b"\x80\x04\x95" + struct.pack("<Q", len(body)) + body, tensors=expect_lstm())
    CASES[-1]["reads_more"] = READS_MORE["frame"]
    pk("ok_protocol5.pt", "the base state dict as protocol 5", b"\x80\x05" + body, tensors=expect_lstm())
    p = P(2)
    p.empty_dict().mark().str("model").raw(body[:-1])
    p.str("epoch").glob("numpy.core.multiarray", "scalar")
    p.glob("numpy", "dtype").mark().str("i8").false().raw(b"\x88").tuple().reduce()
    p.mark().int(3).str("<").none().none().none().int(-1).int(-1).int(0).tuple().build()
    p.raw(b"C\x08" + struct.pack("<q", 7)).raw(b"\x86").reduce()
    p.setitems().stop()
    pk("ok_numpy_scalar.pt", "a training checkpoint whose 'epoch' is a numpy int64 scalar",
       p.bytes(), tensors={("model." + k): v for k, v in expect_lstm().items()})
    CASES[-1]["reads_more"] = READS_MORE["numpy"]

    (OUT / "expected.json").write_text(json.dumps(CASES, indent=1) + "\n")
    write_tests()
    print("wrote %d cases to %s" % (len(CASES), OUT))


def case_id(c):
    return c.get("reference", c["file"])


def test_name(c):
    base = case_id(c).replace("../checkpoints/", "golden_")
    return "test_" + "".join(ch if ch.isalnum() else "_" for ch in base.rsplit(".", 1)[0])


def write_tests():
    """One XCTest method per case, so each file passes or fails on its own line of the report."""
    lines = ["// Generated by tools/make_hostile_corpus.py: one test per file of Fixtures/hostile/expected.json.",
             "// The checks themselves are in HostileCorpusTests.swift.", "",
             "extension HostileCorpusTests {",
             "    static let generatedCases = ["]
    lines += ['        "%s",' % case_id(c) for c in CASES]
    lines += ["    ]", ""]
    for c in CASES:
        lines.append('    func %s() throws { try check("%s") }' % (test_name(c), case_id(c)))
    lines.append("}")
    path = ROOT / "Tests" / "PTLoadCLITests" / "HostileCorpusTests+Cases.swift"
    path.write_text("\n".join(lines) + "\n")


def zip_member(blob, name):
    i = blob.index(name.encode())
    header = blob.rindex(b"PK\x03\x04", 0, i)
    _, _, _, _, _, _, _, csize, _, nlen, xlen = struct.unpack("<IHHHHHIIIHH", blob[header:header + 30])
    start = header + 30 + nlen + xlen
    return blob[start:start + csize]


if __name__ == "__main__":
    main()
