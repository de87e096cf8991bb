"""Phase error between complex tensors."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from cvlayers._function import Function
from cvlayers._modulus import as_complex, modulus, times_real, unit

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
    if target.shape != input.shape:
        input, target = torch.broadcast_tensors(input, target)  # type: ignore[no-untyped-call]
    loss: Tensor = _PhaseLoss.apply(input, target, weight == "target")[0]
    return reduce(loss, reduction)


def _eager_phase_loss(x: Tensor, y: Tensor, by_target: bool) -> Tensor:
    """The elementwise loss in differentiable torch ops (range-safe through :func:`_unit`)."""
    loss = 1 - (_unit(x) * _unit(y).conj()).real
    return torch.abs(y) * loss if by_target else loss


def _polar(z: Tensor) -> tuple[Tensor, Tensor]:
    """z/|z| (0 at z = 0) and |z|, neither over- nor underflowing; no graph."""
    r = modulus(z)
    return unit(z, r), r


class _PhaseLoss(Function):
    """The elementwise loss, saving the unit vectors, moduli and cos: its backward is the
    documented gradient in five passes, -G w (u_y - cos u_x)/|x| (3x faster than autograd
    through :func:`_eager_phase_loss`, CPU, 1M complex64), divided on the real view so that a
    denormal |x| gives +-inf, not NaN. A recorded backward (double backward) differentiates
    :func:`_eager_phase_loss` instead."""

    @staticmethod
    def forward(x: Tensor, y: Tensor, by_target: bool) -> tuple[Tensor, ...]:
        """The loss, then the intermediates that the backward reuses (outputs, so that
        torch.func transforms see them)."""
        ux, rx = _polar(x)
        uy, ry = _polar(y)
        cos = (ux * uy.conj()).real
        return ry * (1 - cos) if by_target else 1 - cos, ux, uy, rx, ry, cos

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: tuple[Tensor, ...]) -> None:
        x, y, ctx.by_target = inputs
        ctx.mark_non_differentiable(*output[1:])
        ctx.set_materialize_grads(False)  # no zero-filled gradients for those
        ctx.save_for_backward(x, y, *output[1:])
        ctx.save_for_forward(*output[1:])

    @staticmethod
    def tangent(
        ctx: Any, x_t: Tensor | None, y_t: Tensor | None, _: None
    ) -> tuple[Tensor | None, ...]:
        """The loss's tangent Re(conj(g_x) v_x) + Re(conj(g_y) v_y), with g the gradients of the
        backward for an upstream 1 (the loss is real); the other outputs have none."""
        ux, uy, rx, ry, cos = ctx.saved_tensors
        ones = torch.ones_like(cos)
        needs = x_t is not None, y_t is not None
        grads = _phase_grads(ux, uy, rx, ry, cos, ctx.by_target, ones, *needs)
        loss_t = torch.zeros_like(ones)
        for g, v in zip(grads, (x_t, y_t), strict=True):
            if g is not None and v is not None:
                loss_t = loss_t + (g.conj() * v).real
        return loss_t, None, None, None, None, None

    @staticmethod
    def backward(
        ctx: Any, grad: Tensor | None, *_: Tensor | None
    ) -> tuple[Tensor | None, Tensor | None, None]:
        if grad is None:  # the loss took no part in what is differentiated (not materialized)
            return None, None, None
        x, y, ux, uy, rx, ry, cos = ctx.saved_tensors
        needs = ctx.needs_input_grad[:2]
        if torch.is_grad_enabled():  # create_graph: a backward that is itself differentiable
            loss = _eager_phase_loss(x, y, ctx.by_target)
            wanted = [t for t, need in zip((x, y), needs, strict=True) if need]
            grads = iter(torch.autograd.grad(loss, wanted, grad, create_graph=True))
            return next(grads) if needs[0] else None, next(grads) if needs[1] else None, None
        grad_x, grad_y = _phase_grads(ux, uy, rx, ry, cos, ctx.by_target, grad, *needs)
        return grad_x, grad_y, None


def _phase_grads(
    ux: Tensor,
    uy: Tensor,
    rx: Tensor,
    ry: Tensor,
    cos: Tensor,
    by_target: bool,
    grad: Tensor,
    need_x: bool,
    need_y: bool,
) -> tuple[Tensor | None, Tensor | None]:
    """The gradients of the elementwise loss for ``x`` and ``y`` (where asked for), from the
    forward's unit vectors, moduli and cos, for the upstream ``grad``."""
    grad_x = grad_y = None
    if need_x:
        weighted = grad * ry if by_target else grad
        grad_x = -unit((uy - times_real(ux, cos)) * weighted, rx)
    if need_y and by_target:  # d/dy of |y| - Re(u_x conj(y)); 0 at y = 0 (least norm)
        grad_y = times_real(uy - ux, grad * (ry > 0))
    elif need_y:  # as for x, with the roles swapped
        grad_y = -unit((ux - times_real(uy, cos)) * grad, ry)
    return grad_x, grad_y


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
