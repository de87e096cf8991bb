"""Complex convolutions: torch.nn's own classes with complex parameters and initialisation.

PyTorch convolves complex tensors natively (every padding mode included), so these are
``torch.nn.ConvNd`` with ``dtype`` defaulting to ``torch.complex64``, the complex Glorot
initialisation of :func:`cvlayers.init.complex_glorot_` (fan_in = in_channels / groups x
kernel size) with zero bias, and a check that the input is complex of the layer's dtype.
Every argument, default, ``extra_repr`` and ``state_dict`` key is torch.nn's.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import Tensor, nn

from . import init
from ._checks import check_complex, complex_dtype
from ._conversion import KeepsKind

__all__ = ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"]


class _ComplexConv(KeepsKind):
    """Mixin placed before a torch.nn convolution class."""

    weight: Tensor
    bias: Tensor | None

    def __init__(self, *args: Any, dtype: torch.dtype | None = torch.complex64, **kwargs: Any):
        super().__init__(*args, dtype=complex_dtype(dtype), **kwargs)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Show torch.nn's signature (with dtype's default complex64) to help() and IDEs."""
        super().__init_subclass__(**kwargs)
        torch_class = next(c for c in cls.__mro__ if c.__module__.startswith("torch.nn."))
        torch_init = inspect.signature(torch_class)
        params = list(torch_init.parameters.values())
        params = [p.replace(default=torch.complex64) if p.name == "dtype" else p for p in params]
        cls.__signature__ = torch_init.replace(parameters=params)  # type: ignore[attr-defined]

    def reset_parameters(self) -> None:
        """Complex Glorot weight, zero bias."""
        init.complex_glorot_(self.weight)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def forward(self, input: Tensor) -> Tensor:
        check_complex(input, "input", self.weight.dtype)
        out: Tensor = super().forward(input)
        return out


class _ComplexConvTranspose(_ComplexConv):
    def forward(self, input: Tensor, output_size: list[int] | None = None) -> Tensor:
        """torch.nn's: ``output_size`` picks among the sizes that ``stride`` allows."""
        check_complex(input, "input", self.weight.dtype)
        out: Tensor = super(_ComplexConv, self).forward(input, output_size)
        return out


class Conv1d(_ComplexConv, nn.Conv1d):
    r"""Complex 1-D convolution, :math:`y = W \star x + b` with complex :math:`W, b`.

    Same arguments as ``torch.nn.Conv1d`` (``dtype`` defaults to ``torch.complex64``).

    Example:
        >>> conv = Conv1d(2, 4, kernel_size=3, padding="same")
        >>> conv(torch.randn(8, 2, 16, dtype=torch.complex64)).shape
        torch.Size([8, 4, 16])
    """


class Conv2d(_ComplexConv, nn.Conv2d):
    r"""Complex 2-D convolution with the arguments of ``torch.nn.Conv2d``.

    .. math::
        y = W \star x + b \quad \text{(complex } W, b\text{)}

    Example:
        >>> Conv2d(1, 3, 3)(torch.randn(2, 1, 8, 8, dtype=torch.complex64)).shape
        torch.Size([2, 3, 6, 6])
    """


class Conv3d(_ComplexConv, nn.Conv3d):
    r"""Complex 3-D convolution with the arguments of ``torch.nn.Conv3d``.

    .. math::
        y = W \star x + b \quad \text{(complex } W, b\text{)}

    Example:
        >>> Conv3d(1, 2, 3)(torch.randn(1, 1, 4, 4, 4, dtype=torch.complex64)).shape
        torch.Size([1, 2, 2, 2, 2])
    """


class ConvTranspose1d(_ComplexConvTranspose, nn.ConvTranspose1d):
    r"""Complex transposed 1-D convolution with the arguments of ``torch.nn.ConvTranspose1d``.

    .. math::
        y = W \star^{\top} x + b \quad \text{(the convolution's adjoint; complex } W, b\text{)}

    Example:
        >>> ConvTranspose1d(2, 1, 4, stride=2)(torch.randn(1, 2, 5, dtype=torch.complex64)).shape
        torch.Size([1, 1, 12])
    """


class ConvTranspose2d(_ComplexConvTranspose, nn.ConvTranspose2d):
    r"""Complex transposed 2-D convolution with the arguments of ``torch.nn.ConvTranspose2d``.

    .. math::
        y = W \star^{\top} x + b \quad \text{(the convolution's adjoint; complex } W, b\text{)}

    Example:
        >>> ConvTranspose2d(2, 1, 2, stride=2)(torch.randn(1, 2, 3, 3, dtype=torch.complex64)).shape
        torch.Size([1, 1, 6, 6])
    """


class ConvTranspose3d(_ComplexConvTranspose, nn.ConvTranspose3d):
    r"""Complex transposed 3-D convolution with the arguments of ``torch.nn.ConvTranspose3d``.

    .. math::
        y = W \star^{\top} x + b \quad \text{(the convolution's adjoint; complex } W, b\text{)}

    Example:
        >>> x = torch.randn(1, 2, 2, 3, 3, dtype=torch.complex64)
        >>> ConvTranspose3d(2, 1, 2, stride=2)(x).shape
        torch.Size([1, 1, 4, 6, 6])
    """
