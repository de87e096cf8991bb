r"""Independent oracles for tests of complex gradients (shipped so users can test their code).

:func:`finite_difference_wirtinger` differentiates by central differences on the real and
imaginary parts separately, in float64, with no autograd involved:

.. math::
    \partial_x f \approx \frac{f(z+h) - f(z-h)}{2h}, \quad
    \partial_y f \approx \frac{f(z+ih) - f(z-ih)}{2h}, \quad
    \frac{\partial f}{\partial \bar z} = \tfrac12(\partial_x f + i\,\partial_y f), \quad
    \frac{\partial f}{\partial z} = \tfrac12(\partial_x f - i\,\partial_y f).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

__all__ = ["finite_difference_wirtinger", "torch_grad_from_wirtinger"]


def finite_difference_wirtinger(
    fn: Callable[..., Tensor], inputs: Sequence[Tensor], eps: float = 1e-6
) -> tuple[tuple[Tensor, ...], tuple[Tensor, ...]]:
    """``(df/dz, df/dz*)`` of a scalar ``fn(*inputs)`` by float64 central differences.

    ``inputs`` are complex tensors (they are promoted to complex128); ``fn`` may return a real
    or complex scalar. Cost: four calls of ``fn`` per input element.

    Example:
        >>> z = torch.tensor([1 + 2j], dtype=torch.complex128)
        >>> d_dz, d_dzc = finite_difference_wirtinger(lambda z: (z * z).sum(), [z])
        >>> torch.allclose(d_dz[0], 2 * z), d_dzc[0].abs().max().item() < 1e-8
        (True, True)
    """
    points = [t.detach().to(torch.complex128).clone() for t in inputs]
    d_dz: list[Tensor] = []
    d_dzconj: list[Tensor] = []

    def value() -> Tensor:
        with torch.no_grad():
            return fn(*points).to(torch.complex128).reshape(())

    for z in points:
        dz = torch.zeros_like(z)
        dzc = torch.zeros_like(z)
        flat, flat_dz, flat_dzc = z.view(-1), dz.view(-1), dzc.view(-1)
        for i in range(flat.numel()):
            partials = []
            for step in (eps, 1j * eps):
                original = flat[i].clone()
                flat[i] = original + step
                plus = value()
                flat[i] = original - step
                minus = value()
                flat[i] = original
                partials.append((plus - minus) / (2 * eps))
            f_x, f_y = partials
            flat_dzc[i] = (f_x + 1j * f_y) / 2
            flat_dz[i] = (f_x - 1j * f_y) / 2
        d_dz.append(dz)
        d_dzconj.append(dzc)
    return tuple(d_dz), tuple(d_dzconj)


def torch_grad_from_wirtinger(d_dzconj: Tensor) -> Tensor:
    """What PyTorch stores in ``.grad`` for a real loss: ``2 dL/dz*``.

    Example:
        >>> torch_grad_from_wirtinger(torch.tensor([1 - 2j]))
        tensor([2.-4.j])
    """
    return 2 * d_dzconj
