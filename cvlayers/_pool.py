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


# The modules are torch.nn's own classes (arguments, defaults, attributes, repr and argument
# checks at construction), with a forward that calls the complex functional form.


class MaxPool1d(nn.MaxPool1d):
    """Max pooling by modulus with the arguments of ``torch.nn.MaxPool1d``.

    Example:
        >>> MaxPool1d(2)(torch.tensor([[[1 + 0j, -3j, 2 + 0j, 1 + 1j]]]))
        tensor([[[-0.-3.j, 2.+0.j]]])
    """

    def forward(self, input: Tensor) -> Any:
        return max_pool1d(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
            ceil_mode=self.ceil_mode,
            return_indices=self.return_indices,
        )


class MaxPool2d(nn.MaxPool2d):
    """Max pooling by modulus with the arguments of ``torch.nn.MaxPool2d``: returns the
    complex entry of largest modulus in each window (per batch and channel plane).

    Example:
        >>> MaxPool2d(2, return_indices=True)(torch.tensor([[[[1, -3j], [2j, 1 + 1j]]]]))[1]
        tensor([[[[1]]]])
    """

    def forward(self, input: Tensor) -> Any:
        return max_pool2d(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
            ceil_mode=self.ceil_mode,
            return_indices=self.return_indices,
        )


class AdaptiveMaxPool2d(nn.AdaptiveMaxPool2d):
    """Adaptive max pooling by modulus (arguments of ``torch.nn.AdaptiveMaxPool2d``).

    Example:
        >>> AdaptiveMaxPool2d(1)(torch.tensor([[[[1, -3j], [2j, 1 + 1j]]]]))
        tensor([[[[-0.-3.j]]]])
    """

    def forward(self, input: Tensor) -> Any:
        return adaptive_max_pool2d(input, self.output_size, return_indices=self.return_indices)


class AvgPool1d(nn.AvgPool1d):
    """Average pooling of the real and imaginary parts (``torch.nn.AvgPool1d`` arguments).

    Example:
        >>> AvgPool1d(2)(torch.tensor([[[1 + 1j, 3 - 1j]]]))
        tensor([[[2.+0.j]]])
    """

    def forward(self, input: Tensor) -> Tensor:
        return avg_pool1d(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
        )


class AvgPool2d(nn.AvgPool2d):
    """Average pooling of the real and imaginary parts (``torch.nn.AvgPool2d`` arguments).

    Example:
        >>> AvgPool2d(2)(torch.full((1, 1, 2, 2), 1 + 2j))
        tensor([[[[1.+2.j]]]])
    """

    def forward(self, input: Tensor) -> Tensor:
        return avg_pool2d(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
            self.divisor_override,
        )


class AdaptiveAvgPool1d(nn.AdaptiveAvgPool1d):
    """Adaptive average pooling of the real and imaginary parts.

    Example:
        >>> AdaptiveAvgPool1d(1)(torch.tensor([[[1 + 1j, 3 - 1j]]]))
        tensor([[[2.+0.j]]])
    """

    def forward(self, input: Tensor) -> Tensor:
        return adaptive_avg_pool1d(input, self.output_size)


class AdaptiveAvgPool2d(nn.AdaptiveAvgPool2d):
    """Adaptive average pooling of the real and imaginary parts.

    Example:
        >>> AdaptiveAvgPool2d(1)(torch.full((1, 1, 2, 2), 1 + 2j))
        tensor([[[[1.+2.j]]]])
    """

    def forward(self, input: Tensor) -> Tensor:
        return adaptive_avg_pool2d(input, self.output_size)
