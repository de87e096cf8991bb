"""Conversions by ``Module.to(dtype)`` that keep each tensor complex or real.

A cvlayers model holds complex tensors (weights, shifts) and real ones (BatchNorm's 2x2
scale and covariance, ModReLU's bias, CPReLU's slopes). ``torch.nn.Module.to`` casts every
floating or complex tensor to the one dtype it is given: ``to(torch.complex128)`` makes the
real ones complex, which those layers reject, and ``to(torch.float64)`` drops the imaginary
parts of the complex ones. Modules built on :class:`KeepsKind` take only the precision from
such a conversion: a complex tensor asked to become real becomes complex of that precision,
and a real one asked to become complex becomes real of that precision. So
``model.to(torch.complex128)`` and ``model.to(torch.float64)`` both give complex128 and
float64 tensors. (``Module.double()`` casts only real tensors, as in torch.)
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from torch import Tensor, nn

from ._checks import REAL_DTYPE

__all__ = ["KeepsKind"]

_COMPLEX_DTYPE = {real: complex_ for complex_, real in REAL_DTYPE.items()}


def _keeping_kind(fn: Callable[[Tensor], Tensor]) -> Callable[[Tensor], Tensor]:
    def convert(t: Tensor) -> Tensor:
        with warnings.catch_warnings():  # the cast below replaces the lossy one
            warnings.filterwarnings("ignore", "Casting complex values to real", UserWarning)
            out = fn(t)
        if out.is_complex() == t.is_complex():  # (integer buffers are never converted)
            return out
        kind = _COMPLEX_DTYPE if t.is_complex() else REAL_DTYPE
        dtype = kind.get(out.dtype)
        return out if dtype is None else t.to(device=out.device, dtype=dtype)

    return convert


class KeepsKind(nn.Module):
    """A module whose tensors stay complex or real under ``to(dtype)`` (see the module doc)."""

    def _apply(self, fn: Callable[[Tensor], Tensor], recurse: bool = True) -> Any:
        return super()._apply(_keeping_kind(fn), recurse)  # type: ignore[no-untyped-call]
