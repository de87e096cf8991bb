r"""Complex weight initialisers (Trabelsi et al., *Deep Complex Networks*, 2018).

A complex weight :math:`W = |W| e^{i\phi}` drawn with a Rayleigh modulus of scale
:math:`\sigma` and a uniform phase :math:`\phi \sim U[-\pi, \pi)` is circular with

.. math::
    \mathbb{E}[W] = 0, \qquad \operatorname{Var}(W) = \mathbb{E}|W|^2 = 2\sigma^2 .

For a layer :math:`y = W x` with independent circular inputs,
:math:`\mathbb{E}|y|^2 = \text{fan\_in}\,\operatorname{Var}(W)\,\mathbb{E}|x|^2`.

* Glorot: :math:`\operatorname{Var}(W) = 2 / (\text{fan\_in} + \text{fan\_out})`, i.e.
  :math:`\sigma = 1/\sqrt{\text{fan\_in} + \text{fan\_out}}`; keeps the forward and backward
  variance balanced.
* He: :math:`\operatorname{Var}(W) = 2 / \text{fan\_in}`, i.e.
  :math:`\sigma = 1/\sqrt{\text{fan\_in}}`; compensates an activation that halves the power
  (CReLU on circular input).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["complex_glorot_", "complex_he_", "complex_rayleigh_", "unitary_"]


def _fans(tensor: Tensor) -> tuple[int, int]:
    if tensor.dim() < 2:
        raise ValueError(
            f"fan_in and fan_out need a weight with at least 2 dimensions, got shape "
            f"{tuple(tensor.shape)}"
        )
    receptive = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def complex_rayleigh_(
    tensor: Tensor, sigma: float, generator: torch.Generator | None = None
) -> Tensor:
    r"""Fill a complex ``tensor`` in place with Rayleigh(:math:`\sigma`) modulus, uniform phase.

    Example:
        >>> w = torch.empty(3, 4, dtype=torch.complex64)
        >>> _ = complex_rayleigh_(w, sigma=0.5)
    """
    if not tensor.is_complex():
        raise TypeError(f"tensor must be complex, got {tensor.dtype}")
    if sigma < 0:
        raise ValueError(f"sigma must be non-negative, got {sigma}")
    real_dtype = tensor.real.dtype
    with torch.no_grad():
        u = torch.rand(tensor.shape, dtype=real_dtype, device=tensor.device, generator=generator)
        modulus = sigma * torch.sqrt(-2.0 * torch.log1p(-u))
        phase = torch.rand(
            tensor.shape, dtype=real_dtype, device=tensor.device, generator=generator
        )
        phase = (2 * phase - 1) * math.pi
        tensor.copy_(torch.polar(modulus, phase))
    return tensor


def complex_glorot_(tensor: Tensor, generator: torch.Generator | None = None) -> Tensor:
    r"""Complex Glorot: :math:`\mathbb{E}|W|^2 = 2/(\text{fan\_in}+\text{fan\_out})`.

    Example:
        >>> w = complex_glorot_(torch.empty(400, 600, dtype=torch.complex128))
        >>> round(w.abs().pow(2).mean().item() * (600 + 400) / 2, 1)
        1.0
    """
    fan_in, fan_out = _fans(tensor)
    return complex_rayleigh_(tensor, 1.0 / math.sqrt(fan_in + fan_out), generator)


def complex_he_(tensor: Tensor, generator: torch.Generator | None = None) -> Tensor:
    r"""Complex He: :math:`\mathbb{E}|W|^2 = 2/\text{fan\_in}`.

    Example:
        >>> w = complex_he_(torch.empty(400, 600, dtype=torch.complex128))  # fan_in 600
        >>> round(w.abs().pow(2).mean().item() * 600 / 2, 1)
        1.0
    """
    fan_in, _ = _fans(tensor)
    return complex_rayleigh_(tensor, 1.0 / math.sqrt(fan_in), generator)


def unitary_(tensor: Tensor, generator: torch.Generator | None = None) -> Tensor:
    r"""Fill a square complex ``(n, n)`` tensor with a Haar-random unitary matrix
    (:math:`W^H W = I`): QR of a complex Gaussian matrix, with the phases of ``diag(R)``
    moved into ``Q`` so that the distribution is uniform (Mezzadri, 2007).

    Example:
        >>> w = unitary_(torch.empty(4, 4, dtype=torch.complex128))
        >>> torch.allclose(w.conj().T @ w, torch.eye(4, dtype=torch.complex128))
        True
    """
    if not tensor.is_complex():
        raise TypeError(f"tensor must be complex, got {tensor.dtype}")
    if tensor.dim() != 2 or tensor.shape[0] != tensor.shape[1]:
        raise ValueError(f"unitary_ needs a square 2-D tensor, got shape {tuple(tensor.shape)}")
    with torch.no_grad():
        a = torch.randn(tensor.shape, dtype=torch.complex128, generator=generator)
        q, r = torch.linalg.qr(a)
        d = torch.diagonal(r)
        q = q * (d / d.abs())
        tensor.copy_(q.to(tensor.device, tensor.dtype))
    return tensor
