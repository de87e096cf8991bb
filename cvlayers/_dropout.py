"""Dropout for complex tensors: one mask shared by the real and imaginary parts."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ._checks import check_complex
from ._modulus import times_real_view

__all__ = [
    "Dropout",
    "Dropout1d",
    "Dropout2d",
    "Dropout3d",
    "dropout",
    "dropout1d",
    "dropout2d",
    "dropout3d",
]


def _check_p(p: float) -> None:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


# Channel dropout also takes an unbatched (C, *spatial) input where torch does: dropout1d's
# (C, L) and dropout3d's (C, D, H, W). (torch reads a 3-D input to dropout2d as (N, C, L),
# with a warning that this will change; cvlayers asks for 4-D there.)
_UNBATCHED = {1: True, 2: False, 3: True}
_SPATIAL = {1: "L", 2: "H, W", 3: "D, H, W"}


def _dropout(input: Tensor, p: float, training: bool, inplace: bool, channel_dims: int) -> Tensor:
    """Entry-wise (``channel_dims = 0``) or channel-wise dropout of ``(N, C, *spatial)`` with
    ``channel_dims`` spatial dimensions (or ``(C, *spatial)``, see _UNBATCHED)."""
    _check_p(p)
    check_complex(input, "input", None)
    batched = input.dim() == channel_dims + 2
    unbatched = channel_dims and _UNBATCHED[channel_dims] and input.dim() == channel_dims + 1
    if channel_dims and not (batched or unbatched):
        spatial = _SPATIAL[channel_dims]
        allowed = f"(N, C, {spatial})" + (f" or (C, {spatial})" if _UNBATCHED[channel_dims] else "")
        raise ValueError(
            f"Dropout{channel_dims}d expects input of shape {allowed}, got {tuple(input.shape)}"
        )
    if not training or p == 0.0:
        return input
    # One draw per entry, or per channel: over (N, C) or (C,), broadcast over the spatial dims.
    channels = input.shape[: input.dim() - channel_dims]
    shape = input.shape if not channel_dims else (*channels, *([1] * channel_dims))
    keep = torch.empty(shape, dtype=input.real.dtype, device=input.device).bernoulli_(1 - p)
    scale = keep.div_(1 - p) if p < 1.0 else keep
    return input.mul_(scale) if inplace else times_real_view(input, scale)


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    r"""Zero whole complex entries with probability ``p`` and scale the others by
    :math:`1/(1-p)`; the real and imaginary parts of an entry share its mask. The arguments
    are those of ``torch.nn.functional.dropout`` (``inplace=True`` writes into ``input``).

    .. math::
        y = \frac{m}{1 - p}\, z, \qquad m \sim \mathrm{Bernoulli}(1 - p) \text{ per entry}

    Example:
        >>> z = torch.full((1000,), 1 + 1j)
        >>> out = dropout(z, p=0.5)
        >>> bool(((out == 0) | (out == 2 + 2j)).all())   # both parts kept or both dropped
        True
    """
    return _dropout(input, p, training, inplace, 0)


def dropout1d(
    input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False
) -> Tensor:
    r""":func:`dropout` of whole channels of an ``(N, C, L)`` or ``(C, L)`` input
    (``F.dropout1d``'s arguments).

    .. math::
        y_{nc} = \frac{m_{nc}}{1 - p}\, z_{nc}, \qquad m_{nc} \sim \mathrm{Bernoulli}(1 - p)

    Example:
        >>> out = dropout1d(torch.ones(4, 3, 5, dtype=torch.complex64), p=0.5)
        >>> bool(((out == 0).all(-1) | (out == 2).all(-1)).all())
        True
    """
    return _dropout(input, p, training, inplace, 1)


def dropout2d(
    input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False
) -> Tensor:
    r""":func:`dropout` of whole channels of an ``(N, C, H, W)`` input.

    .. math::
        y_{nc} = \frac{m_{nc}}{1 - p}\, z_{nc}, \qquad m_{nc} \sim \mathrm{Bernoulli}(1 - p)

    Example:
        >>> dropout2d(torch.ones(1, 2, 3, 3, dtype=torch.complex64), training=False).shape
        torch.Size([1, 2, 3, 3])
    """
    return _dropout(input, p, training, inplace, 2)


def dropout3d(
    input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False
) -> Tensor:
    r""":func:`dropout` of whole channels of an ``(N, C, D, H, W)`` or ``(C, D, H, W)`` input.

    .. math::
        y_{nc} = \frac{m_{nc}}{1 - p}\, z_{nc}, \qquad m_{nc} \sim \mathrm{Bernoulli}(1 - p)

    Example:
        >>> dropout3d(torch.ones(1, 2, 2, 2, 2, dtype=torch.complex64), p=0.0).shape
        torch.Size([1, 2, 2, 2, 2])
    """
    return _dropout(input, p, training, inplace, 3)


class Dropout(nn.Module):
    r"""Complex dropout with a mask shared by the real and imaginary parts; the arguments,
    defaults and ``repr`` of ``torch.nn.Dropout``.

    .. math::
        y = \frac{m}{1 - p}\, z, \qquad m \sim \mathrm{Bernoulli}(1 - p) \text{ per entry}

    Example:
        >>> m = Dropout(p=0.2).eval()
        >>> m(torch.ones(3, dtype=torch.complex64))
        tensor([1.+0.j, 1.+0.j, 1.+0.j])
    """

    channel_dims = 0

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        _check_p(p)
        self.p = p
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return _dropout(input, self.p, self.training, self.inplace, self.channel_dims)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout1d(Dropout):
    r"""Zero whole channels of ``(N, C, L)`` or unbatched ``(C, L)`` complex inputs.

    .. math::
        y_{nc} = \frac{m_{nc}}{1 - p}\, z_{nc}, \qquad m_{nc} \sim \mathrm{Bernoulli}(1 - p)

    Example:
        >>> out = Dropout1d(0.5)(torch.ones(4, 3, 5, dtype=torch.complex64))
        >>> bool(((out == 0).all(-1) | (out == 2).all(-1)).all())  # channels kept whole
        True
    """

    channel_dims = 1


class Dropout2d(Dropout):
    r"""Zero whole channels of ``(N, C, H, W)`` complex inputs.

    .. math::
        y_{nc} = \frac{m_{nc}}{1 - p}\, z_{nc}, \qquad m_{nc} \sim \mathrm{Bernoulli}(1 - p)

    Example:
        >>> Dropout2d(0.5).eval()(torch.ones(1, 2, 3, 3, dtype=torch.complex64)).sum()
        tensor(18.+0.j)
    """

    channel_dims = 2


class Dropout3d(Dropout):
    r"""Zero whole channels of ``(N, C, D, H, W)`` or unbatched ``(C, D, H, W)`` complex inputs.

    .. math::
        y_{nc} = \frac{m_{nc}}{1 - p}\, z_{nc}, \qquad m_{nc} \sim \mathrm{Bernoulli}(1 - p)

    Example:
        >>> Dropout3d(0.0)(torch.ones(1, 2, 2, 2, 2, dtype=torch.complex64)).shape
        torch.Size([1, 2, 2, 2, 2])
    """

    channel_dims = 3
