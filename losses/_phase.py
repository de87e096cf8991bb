"""Phase error between complex tensors."""

from __future__ import annotations

import torch
from torch import Tensor

from cvlayers._modulus import as_complex, unit

from ._base import ComplexLoss, check_reduction, check_target, reduce

__all__ = ["WEIGHTS", "PhaseLoss", "phase_loss"]

WEIGHTS = ("target", "none")


def _unit(z: Tensor) -> Tensor:
    """z / |z|, and z itself (that is 0) where z = 0; finite gradient everywhere.

    z is first divided by m = max(|Re z|, |Im z|), so that |z/m| is in [1, sqrt 2] and neither
    |z| nor the |z|^2 of the gradient over- or underflows (in float32 they would outside
    ~[1e-19, 1e19]). m is held constant: z/|z| does not change along z, the only direction
    in which a change of m moves z/m, so the gradient is exact."""
    pairs = torch.view_as_real(z)
    scale = pairs.abs().amax(-1, keepdim=True).detach()
    scaled = as_complex(pairs / torch.where(scale > 0, scale, 1.0))  # real division: no NaN
    return unit(scaled, torch.abs(scaled))


def phase_loss(
    input: Tensor, target: Tensor, reduction: str = "mean", weight: str = "target"
) -> Tensor:
    r"""Weighted phase error :math:`\ell_n = w_n\,(1 - \cos(\angle x_n - \angle y_n))`.

    With :math:`u = x/|x|` and :math:`c = \bar y/|y|`,
    :math:`\cos(\angle x - \angle y) = \mathrm{Re}(u\,c)`. The weight is
    :math:`w_n = |y_n|` for ``weight="target"`` (bins where the target is silent do not
    count, as in phase-aware STFT losses) or 1 for ``weight="none"``.

    At zero modulus there is no phase: a zero prediction or target counts as
    :math:`\cos = 0` (a quarter-turn error). Wirtinger gradient, for :math:`x_n \ne 0`:

    .. math::
        \frac{\partial \ell_n}{\partial \bar x_n} = -\frac{w_n}{2|x_n|}
            \Big(\bar c_n - \mathrm{Re}(x_n c_n)\,\frac{x_n}{|x_n|^2}\Big),

    tangent to the circle :math:`|x| = \text{const}`; at :math:`x_n = 0` it is the finite
    :math:`-w_n \bar c_n / 2` (it pulls the prediction towards the target's phase).

    Example:
        >>> phase_loss(torch.tensor([1j, 2.0 + 0j]), torch.tensor([1.0 + 0j, 3.0 + 0j]))
        tensor(0.5000)
    """
    check_reduction(reduction)
    if weight not in WEIGHTS:
        raise ValueError(f"weight must be one of {WEIGHTS}, got {weight!r}")
    target = check_target(input, target, "phase_loss")
    cos = (_unit(input) * _unit(target).conj()).real
    loss = 1 - cos
    if weight == "target":
        loss = torch.abs(target) * loss
    return reduce(loss, reduction)


class PhaseLoss(ComplexLoss):
    r"""Module form of :func:`phase_loss`: :math:`\operatorname{mean} w\,(1 - \cos\Delta\phi)`.

    Example:
        >>> PhaseLoss(weight="none")(torch.tensor([1j]), torch.tensor([-1j]))
        tensor(2.)
    """

    def __init__(self, reduction: str = "mean", weight: str = "target") -> None:
        super().__init__(reduction)
        if weight not in WEIGHTS:
            raise ValueError(f"weight must be one of {WEIGHTS}, got {weight!r}")
        self.weight = weight

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return phase_loss(input, target, self.reduction, self.weight)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, weight={self.weight!r}"
