"""Cross-entropy on complex features."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from cvlayers._modulus import modulus_fn

from ._base import ComplexLoss

__all__ = ["LOGITS", "ComplexCrossEntropyLoss", "complex_cross_entropy"]

LOGITS: dict[str, Callable[[Tensor], Tensor]] = {
    "modulus": modulus_fn,
    "real": torch.real,
    "squared_modulus": lambda z: torch.view_as_real(z).square().sum(-1),
}


def _to_logits(input: Tensor, logits: str | Callable[[Tensor], Tensor]) -> Tensor:
    if not input.is_complex():
        raise TypeError(f"input must be a complex tensor of features, got {input.dtype}")
    if callable(logits):
        out = logits(input)
        if out.is_complex() or out.shape != input.shape:
            raise ValueError(
                "a logits callable must map complex features to real logits of the same shape, "
                f"got {out.dtype} of shape {tuple(out.shape)}"
            )
        return out
    if logits not in LOGITS:
        raise ValueError(f"logits must be one of {tuple(LOGITS)} or a callable, got {logits!r}")
    return LOGITS[logits](input)


def complex_cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
    logits: str | Callable[[Tensor], Tensor] = "modulus",
) -> Tensor:
    r"""``torch.nn.functional.cross_entropy`` on real logits :math:`\ell = f(z)` of complex
    features :math:`z` of shape ``(N, C, ...)``; ``target`` holds class indices (or class
    probabilities) exactly as for ``cross_entropy``.

    Mappings :math:`f`: ``"modulus"`` :math:`|z|` (phase-invariant, the default),
    ``"real"`` :math:`\mathrm{Re}\,z`, ``"squared_modulus"`` :math:`|z|^2`, or a callable.

    Wirtinger gradient, with :math:`p = \mathrm{softmax}(\ell)` and one-hot :math:`y`
    (``mean`` over :math:`N` samples adds a factor :math:`1/N`):
    :math:`\partial L/\partial\bar z = (p - y)\,z/(2|z|)` for the modulus (0 at z = 0),
    :math:`(p - y)/2` for the real part and :math:`(p - y)\,z` for the squared modulus.

    Example:
        >>> z = torch.tensor([[3 + 4j, 1j]])
        >>> complex_cross_entropy(z, torch.tensor([0]))   # logits |z| = [5, 1]
        tensor(0.0181)
    """
    return F.cross_entropy(
        _to_logits(input, logits),
        target,
        weight=weight,
        ignore_index=ignore_index,
        reduction=reduction,
        label_smoothing=label_smoothing,
    )


class ComplexCrossEntropyLoss(ComplexLoss):
    r"""Module form of :func:`complex_cross_entropy`, with the arguments of
    ``torch.nn.CrossEntropyLoss`` plus ``logits``.

    .. math::
        L = -\log \mathrm{softmax}(f(z))_y, \qquad f(z) = |z|, \ \mathrm{Re}\,z \text{ or } |z|^2

    Example:
        >>> loss = ComplexCrossEntropyLoss(logits="modulus")
        >>> loss(torch.randn(4, 3, dtype=torch.complex64), torch.tensor([0, 2, 1, 0])).shape
        torch.Size([])
    """

    def __init__(
        self,
        weight: Tensor | None = None,
        ignore_index: int = -100,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
        logits: str | Callable[[Tensor], Tensor] = "modulus",
    ) -> None:
        super().__init__(reduction)
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing}")
        if not callable(logits) and logits not in LOGITS:
            raise ValueError(f"logits must be one of {tuple(LOGITS)} or a callable, got {logits!r}")
        self.register_buffer("weight", weight)
        self.weight: Tensor | None
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing
        self.logits = logits

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return complex_cross_entropy(
            input,
            target,
            self.weight,
            self.ignore_index,
            self.reduction,
            self.label_smoothing,
            self.logits,
        )

    def extra_repr(self) -> str:
        name = (
            self.logits if isinstance(self.logits, str) else getattr(self.logits, "__name__", "fn")
        )
        return f"{super().extra_repr()}, logits={name!r}"
