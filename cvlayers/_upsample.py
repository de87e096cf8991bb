"""Resampling complex tensors: ``torch.nn.functional.interpolate`` has no complex kernels.

Every mode of ``interpolate`` (nearest, linear, bilinear, bicubic, trilinear, area, with or
without antialiasing) is a fixed linear combination of input values with real weights, so
applying it to the real and imaginary parts apart is the complex interpolation itself.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from ._pool import _by_parts

__all__ = ["Upsample", "interpolate"]

_Sizes = int | tuple[int, ...] | None
_Scales = float | tuple[float, ...] | None


def interpolate(
    input: Tensor,
    size: _Sizes = None,
    scale_factor: _Scales = None,
    mode: str = "nearest",
    align_corners: bool | None = None,
    recompute_scale_factor: bool | None = None,
    antialias: bool = False,
) -> Tensor:
    r"""Resample complex ``(N, C, *spatial)`` input with the arguments of
    ``torch.nn.functional.interpolate``:
    :math:`y_i = \sum_j w_{ij} z_j` with the mode's real weights :math:`w_{ij}`, that is the
    real and imaginary parts resampled apart.

    Example:
        >>> interpolate(torch.tensor([[[1 + 1j, 3 - 1j]]]), scale_factor=2, mode="linear")
        tensor([[[1.0000+1.0000j, 1.5000+0.5000j, 2.5000-0.5000j, 3.0000-1.0000j]]])
    """
    return _by_parts(
        input,
        lambda t: F.interpolate(
            t, size, scale_factor, mode, align_corners, recompute_scale_factor, antialias
        ),
    )


class Upsample(nn.Upsample):
    r"""Upsampling of complex input with the arguments of ``torch.nn.Upsample`` (see
    :func:`interpolate`).

    .. math::
        y = \mathrm{interp}(\mathrm{Re}\,z) + i\,\mathrm{interp}(\mathrm{Im}\,z)

    Example:
        >>> Upsample(scale_factor=2)(torch.tensor([[[1 + 1j, 2 - 2j]]]))
        tensor([[[1.+1.j, 1.+1.j, 2.-2.j, 2.-2.j]]])
    """

    def forward(self, input: Tensor) -> Tensor:
        return interpolate(
            input,
            self.size,
            self.scale_factor,
            self.mode,
            self.align_corners,
            self.recompute_scale_factor,
        )
