"""Dropout for complex tensors: one mask shared by the real and imaginary parts."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ._checks import check_complex
from ._modulus import times_real_view

__all__ = ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "dropout"]


def dropout(input: Tensor, p: float = 0.5, training: bool = True, channel_dims: int = 0) -> Tensor:
    r"""Zero whole complex entries with probability ``p`` and scale the others by
    :math:`1/(1-p)`; the real and imaginary parts of an entry share its mask.

    ``channel_dims = k > 0`` drops whole channels of an input shaped ``(N, C, *spatial)``
    with ``k`` spatial dimensions (``Dropout1d/2d/3d``).

    Example:
        >>> z = torch.full((1000,), 1 + 1j)
        >>> out = dropout(z, p=0.5)
        >>> bool(((out == 0) | (out == 2 + 2j)).all())   # both parts kept or both dropped
        True
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    check_complex(input, "input", None)
    if not training or p == 0.0:
        return input
    if channel_dims and input.dim() != channel_dims + 2:
        raise ValueError(
            f"Dropout{channel_dims}d expects input of shape (N, C, {channel_dims} spatial "
            f"dims), got {tuple(input.shape)}"
        )
    shape = input.shape if not channel_dims else (*input.shape[:2], *([1] * channel_dims))
    keep = torch.empty(shape, dtype=input.real.dtype, device=input.device).bernoulli_(1 - p)
    scale = keep.div_(1 - p) if p < 1.0 else keep
    return times_real_view(input, scale)


class Dropout(nn.Module):
    r"""Complex dropout with a mask shared by the real and imaginary parts.

    Example:
        >>> m = Dropout(p=0.2).eval()
        >>> m(torch.ones(3, dtype=torch.complex64))
        tensor([1.+0.j, 1.+0.j, 1.+0.j])
    """

    channel_dims = 0

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p

    def forward(self, input: Tensor) -> Tensor:
        return dropout(input, self.p, self.training, self.channel_dims)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Dropout1d(Dropout):
    """Zero whole channels of ``(N, C, L)`` complex inputs."""

    channel_dims = 1


class Dropout2d(Dropout):
    """Zero whole channels of ``(N, C, H, W)`` complex inputs."""

    channel_dims = 2


class Dropout3d(Dropout):
    """Zero whole channels of ``(N, C, D, H, W)`` complex inputs."""

    channel_dims = 3
