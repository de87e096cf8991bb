r"""Wirtinger derivatives on top of PyTorch's autograd.

For a real scalar :math:`L` and complex :math:`z = x + iy`, PyTorch's gradient is
:math:`g = \partial L/\partial x + i\,\partial L/\partial y = 2\,\partial L/\partial\bar z`.
For a complex scalar :math:`f = u + iv`, with :math:`g_u, g_v` PyTorch's gradients of
:math:`u` and :math:`v`:

.. math::
    \frac{\partial f}{\partial \bar z} = \tfrac12 (g_u + i g_v), \qquad
    \frac{\partial f}{\partial z} = \tfrac12\,\overline{(g_u - i g_v)} .

(For a real :math:`f`, :math:`g_v = 0`.) A holomorphic :math:`f` has
:math:`\partial f/\partial\bar z = 0`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = ["wirtinger"]


def _as_tuple(inputs: Tensor | Sequence[Tensor]) -> tuple[Tensor, ...]:
    tensors = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor) or not t.is_complex():
            kind = t.dtype if isinstance(t, Tensor) else type(t).__name__
            raise TypeError(
                f"inputs[{i}] must be a complex tensor, got {kind}; Wirtinger derivatives "
                "are defined for complex variables (use torch.autograd.grad for real ones)"
            )
    return tensors


def _grad(
    out: Tensor, inputs: tuple[Tensor, ...], retain_graph: bool, create_graph: bool
) -> tuple[Tensor, ...]:
    return torch.autograd.grad(
        out,
        inputs,
        retain_graph=retain_graph,
        create_graph=create_graph,
        materialize_grads=True,
    )


def wirtinger(
    output: Tensor,
    inputs: Tensor | Sequence[Tensor],
    create_graph: bool = False,
    retain_graph: bool | None = None,
) -> tuple[tuple[Tensor, ...], tuple[Tensor, ...]]:
    r"""Wirtinger derivatives :math:`(\partial f/\partial z, \partial f/\partial \bar z)`.

    Args:
        output: scalar :math:`f` (one element), real or complex.
        inputs: complex tensor(s) :math:`z` that require grad.
        create_graph: build a graph of the derivatives for higher order.
        retain_graph: keep the graph of ``output`` (default: ``create_graph``).

    Returns:
        ``(d_dz, d_dzconj)``: two tuples with one tensor per input.

    Example:
        >>> z = torch.tensor(1 + 2j, dtype=torch.complex128, requires_grad=True)
        >>> d_dz, d_dzconj = wirtinger((z * z.conj()).real, z)   # |z|^2
        >>> d_dz[0], d_dzconj[0]     # conj(z), z
        (tensor(1.-2.j, dtype=torch.complex128), tensor(1.+2.j, dtype=torch.complex128))
    """
    tensors = _as_tuple(inputs)
    if not isinstance(output, Tensor) or output.numel() != 1:
        shape = tuple(output.shape) if isinstance(output, Tensor) else type(output).__name__
        raise ValueError(f"output must be a scalar tensor (one element), got {shape}")
    keep = create_graph if retain_graph is None else retain_graph
    if not output.is_complex():
        grads = _grad(output.reshape(()), tensors, keep, create_graph)
        return tuple(g.conj() / 2 for g in grads), tuple(g / 2 for g in grads)
    f = output.reshape(())
    grad_u = _grad(f.real, tensors, True, create_graph)
    grad_v = _grad(f.imag, tensors, keep, create_graph)
    d_dzconj = tuple((gu + 1j * gv) / 2 for gu, gv in zip(grad_u, grad_v, strict=True))
    d_dz = tuple((gu - 1j * gv).conj() / 2 for gu, gv in zip(grad_u, grad_v, strict=True))
    return d_dz, d_dzconj
