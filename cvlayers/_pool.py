"""Pooling for complex tensors: max by modulus (returning the complex value), averages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ._checks import check_complex
from ._modulus import modulus

__all__ = [
    "AdaptiveAvgPool1d",
    "AdaptiveAvgPool2d",
    "AdaptiveMaxPool2d",
    "AvgPool1d",
    "AvgPool2d",
    "MaxPool1d",
    "MaxPool2d",
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_max_pool2d",
    "avg_pool1d",
    "avg_pool2d",
    "max_pool1d",
    "max_pool2d",
]


def _by_modulus(
    real_pool: Callable[..., tuple[Tensor, Tensor]], spatial: int
) -> Callable[..., Tensor]:
    def pool(input: Tensor, *args: Any, return_indices: bool = False, **kwargs: Any) -> Any:
        check_complex(input, "input", None)
        if input.dim() not in (spatial + 1, spatial + 2):
            raise ValueError(
                f"expected a complex input with {spatial + 1} (unbatched) or {spatial + 2} "
                f"dimensions, got shape {tuple(input.shape)}"
            )
        with torch.no_grad():
            _, idx = real_pool(modulus(input.detach()), *args, return_indices=True, **kwargs)
        # Indices address each (batch, channel) plane separately: gather plane by plane.
        flat = input.flatten(-spatial)
        out = flat.gather(-1, idx.flatten(-spatial)).view(idx.shape)
        return (out, idx) if return_indices else out

    return pool


def _by_parts(real_pool: Callable[..., Tensor]) -> Callable[..., Tensor]:
    def pool(input: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        check_complex(input, "input", None)
        if input.dim() < 2:
            raise ValueError(f"expected a batched or unbatched complex input, got {input.shape}")
        # Pool Re and Im in one call, stacked along the first dimension.
        out = real_pool(torch.cat([input.real, input.imag], dim=0), *args, **kwargs)
        real, imag = out.chunk(2, dim=0)
        return torch.complex(real, imag)

    return pool


max_pool1d = _by_modulus(F.max_pool1d, 1)
max_pool2d = _by_modulus(F.max_pool2d, 2)
adaptive_max_pool2d = _by_modulus(F.adaptive_max_pool2d, 2)
avg_pool1d = _by_parts(F.avg_pool1d)
avg_pool2d = _by_parts(F.avg_pool2d)
adaptive_avg_pool1d = _by_parts(F.adaptive_avg_pool1d)
adaptive_avg_pool2d = _by_parts(F.adaptive_avg_pool2d)

max_pool2d.__doc__ = """Max pooling by modulus: each window returns its complex entry of
largest |z|, with the arguments of ``torch.nn.functional.max_pool2d``. The gradient flows to
that entry."""


class _Pool(nn.Module):
    """Holds the pooling arguments and calls the functional form."""

    fn: Callable[..., Any]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self.args = args
        self.kwargs = kwargs

    def forward(self, input: Tensor) -> Any:
        return type(self).fn(input, *self.args, **self.kwargs)

    def extra_repr(self) -> str:
        items = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return ", ".join(items)


class MaxPool1d(_Pool):
    """Max pooling by modulus with the arguments of ``torch.nn.MaxPool1d``.

    Example:
        >>> MaxPool1d(2)(torch.tensor([[[1 + 0j, -3j, 2 + 0j, 1 + 1j]]]))
        tensor([[[-0.-3.j, 2.+0.j]]])
    """

    fn = staticmethod(max_pool1d)


class MaxPool2d(_Pool):
    """Max pooling by modulus with the arguments of ``torch.nn.MaxPool2d``: returns the
    complex entry of largest modulus in each window (per batch and channel plane)."""

    fn = staticmethod(max_pool2d)


class AdaptiveMaxPool2d(_Pool):
    """Adaptive max pooling by modulus (arguments of ``torch.nn.AdaptiveMaxPool2d``)."""

    fn = staticmethod(adaptive_max_pool2d)


class AvgPool1d(_Pool):
    """Average pooling of the real and imaginary parts (``torch.nn.AvgPool1d`` arguments)."""

    fn = staticmethod(avg_pool1d)


class AvgPool2d(_Pool):
    """Average pooling of the real and imaginary parts (``torch.nn.AvgPool2d`` arguments).

    Example:
        >>> AvgPool2d(2)(torch.full((1, 1, 2, 2), 1 + 2j))
        tensor([[[[1.+2.j]]]])
    """

    fn = staticmethod(avg_pool2d)


class AdaptiveAvgPool1d(_Pool):
    """Adaptive average pooling of the real and imaginary parts."""

    fn = staticmethod(adaptive_avg_pool1d)


class AdaptiveAvgPool2d(_Pool):
    """Adaptive average pooling of the real and imaginary parts."""

    fn = staticmethod(adaptive_avg_pool2d)
