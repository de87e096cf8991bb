"""Squared-error losses on complex tensors."""

from __future__ import annotations

import torch
from torch import Tensor

from cvlayers._modulus import modulus_fn

from ._base import ComplexLoss, check_reduction, check_target, reduce

__all__ = ["ComplexMSELoss", "MagnitudeMSELoss", "complex_mse_loss", "magnitude_mse_loss"]


def complex_mse_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    r"""Mean squared modulus of the error, :math:`\ell_n = |x_n - y_n|^2`, as a real tensor.

    With :math:`e = x - y`, the Wirtinger gradient of each term is
    :math:`\partial \ell_n / \partial \bar x_n = e_n`, so for ``reduction="mean"``
    ``input.grad`` is :math:`2 e / N` (PyTorch stores twice the conjugate Wirtinger derivative).

    Args:
        input: complex prediction.
        target: complex (or real, meaning zero imaginary part) target of the same shape.
        reduction: ``"mean"`` | ``"sum"`` | ``"none"``.

    Example:
        >>> x = torch.tensor([1 + 1j, 2 + 2j])
        >>> y = torch.tensor([1 + 2j, 2 + 3j])
        >>> complex_mse_loss(x, y)
        tensor(1.)
    """
    check_reduction(reduction)
    target = check_target(input, target, "complex_mse_loss")
    # |e|^2 = Re(e)^2 + Im(e)^2 on the real view: no sqrt, so exact and smooth at e = 0.
    error = input - target
    squares = torch.view_as_real(error).square()
    if reduction == "none":
        return squares.sum(-1)
    total = squares.sum()
    return total if reduction == "sum" else total / error.numel()


class ComplexMSELoss(ComplexLoss):
    r"""Module form of :func:`complex_mse_loss`: :math:`\operatorname{mean}|x - y|^2`.

    Numerically equal to ``torchcvnn.nn.ComplexMSELoss`` and, for real tensors, to
    ``torch.nn.MSELoss``.

    Example:
        >>> loss = ComplexMSELoss()
        >>> loss(torch.tensor([1 + 1j]), torch.tensor([1.0]))
        tensor(1.)
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return complex_mse_loss(input, target, self.reduction)


def magnitude_mse_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    r"""Phase-blind squared error of the moduli, :math:`\ell_n = (|x_n| - |y_n|)^2`.

    ``target`` may be complex (its modulus is used) or real (its absolute value is used).

    Wirtinger gradient: :math:`\partial\ell_n/\partial\bar x_n = (|x_n| - |y_n|)\,
    x_n / |x_n|`, and 0 at :math:`x_n = 0`, where the modulus has no gradient direction
    (the subgradient of smallest modulus: finite, never NaN).

    Example:
        >>> magnitude_mse_loss(torch.tensor([3 + 4j]), torch.tensor([-2j]))
        tensor(9.)
    """
    check_reduction(reduction)
    target = check_target(input, target, "magnitude_mse_loss")
    return reduce((modulus_fn(input) - modulus_fn(target)).square(), reduction)


class MagnitudeMSELoss(ComplexLoss):
    r"""Module form of :func:`magnitude_mse_loss`: :math:`\operatorname{mean}(|x| - |y|)^2`.

    Example:
        >>> MagnitudeMSELoss()(torch.tensor([1j, 2.0 + 0j]), torch.tensor([1.0, 0.0]))
        tensor(2.)
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return magnitude_mse_loss(input, target, self.reduction)
