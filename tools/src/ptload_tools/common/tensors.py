"""Tensor comparisons the torch generators share (needs torch)."""
from __future__ import annotations

import torch


def dtype_name(dtype: torch.dtype) -> str:
    """``torch.float32`` → ``"float32"``."""
    return str(dtype).replace("torch.", "")


def plain(t: torch.Tensor) -> torch.Tensor:
    """The tensor without autograd or subclass: its data as a plain ``torch.Tensor``."""
    return t.detach().as_subclass(torch.Tensor)


def tensor_bytes(t: torch.Tensor) -> bytes:
    """The tensor's elements in row-major order, host (little-endian) byte order."""
    t = plain(t)
    if t.numel() == 0:
        return b""
    return t.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()


def same_bits(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Same dtype, same shape and the same bytes in row-major order (NaN payloads included)."""
    return a.dtype == b.dtype and list(a.shape) == list(b.shape) and tensor_bytes(a) == tensor_bytes(b)
