"""ptload_tools.common.pickles: pickles assembled opcode by opcode read back as Python reads them."""
from __future__ import annotations

import collections
import io
import pickle
import pickletools
from typing import Any, List, Tuple

import pytest

from ptload_tools.common.pickles import (PickleWriter, contiguous_strides, ordered_dict_pickle, pickle_protocol,
                                         rebuilt_tensor)


@pytest.mark.parametrize("value", [0, 1, 255, 256, 65535, 65536, -1, -129, 2**31 - 1, -2**31, 2**31, -2**31 - 1,
                                   2**63, -(2**100)])
def test_int_uses_the_shortest_opcode_and_reads_back(value: int) -> None:
    data = PickleWriter(2).int(value).stop().bytes()
    assert pickle.loads(data) == value
    ops = [op.name for op, _, _ in pickletools.genops(data)]
    want = ("BININT1" if 0 <= value < 256 else "BININT2" if 0 <= value < 65536
            else "BININT" if -2**31 <= value < 2**31 else "LONG1")
    assert ops == ["PROTO", want, "STOP"]


def test_str_and_containers_read_back() -> None:
    p = PickleWriter(2)
    p.empty_dict().mark().str("h\u00e9llo \U0001F600").mark().int(1).str("x").tuple()
    p.str("list").empty_list().mark().int(2).int(3).appends().setitems().stop()
    assert pickle.loads(p.bytes()) == {"h\u00e9llo \U0001F600": (1, "x"), "list": [2, 3]}


def test_memo_put_get_share_one_object() -> None:
    p = PickleWriter(2)
    p.empty_list().put(0).mark().get(0).get(0).tuple().stop()
    first, second = pickle.loads(p.bytes())
    assert first is second


def test_ordered_dict_pickle_is_a_state_dict_of_the_values_pushed() -> None:
    data = ordered_dict_pickle([("b", lambda p: p.int(2)), ("a", lambda p: p.none())], tail=b"rest")
    assert data.endswith(b".rest")
    value = pickle.loads(data[:-4])
    assert isinstance(value, collections.OrderedDict) and list(value.items()) == [("b", 2), ("a", None)]


class _Recorder(pickle.Unpickler):
    """Resolves torch's globals to recorders, so no torch is needed to read a torch-shaped pickle."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return lambda *args: ("tensor", args)
        if module == "torch":
            return name
        return super().find_class(module, name)

    def persistent_load(self, pid: Any) -> Any:
        return ("persistent", pid)


def test_rebuilt_tensor_is_rebuild_tensor_v2_with_contiguous_strides() -> None:
    data = ordered_dict_pickle([("w", lambda p: rebuilt_tensor(p, "0", 24, [12, 2], offset=3))])
    kind, args = _Recorder(io.BytesIO(data)).load()["w"]
    storage, offset, size, stride, requires_grad, hooks = args
    assert kind == "tensor" and storage == ("persistent", ("storage", "FloatStorage", "0", "cpu", 24))
    assert (offset, size, stride, requires_grad, hooks) == (3, (12, 2), (2, 1), False, collections.OrderedDict())


def test_contiguous_strides() -> None:
    cases: List[Tuple[List[int], List[int]]] = [([], []), ([5], [1]), ([2, 3, 4], [12, 4, 1]), ([4, 0, 2], [0, 2, 1])]
    for size, stride in cases:
        assert contiguous_strides(size) == stride


@pytest.mark.parametrize("protocol", range(0, pickle.HIGHEST_PROTOCOL + 1))
def test_pickle_protocol_reads_proto_or_the_highest_opcode(protocol: int) -> None:
    assert pickle_protocol(pickle.dumps({"a": [1, 2.5, "x"]}, protocol=protocol)) == protocol
    assert pickle_protocol(PickleWriter(None).empty_dict().stop().bytes()) == 1  # EMPTY_DICT is protocol 1
