r"""Root-mean-square normalisation of complex features (``torch.nn.RMSNorm``'s, on :math:`|z|`).

Over the last ``len(normalized_shape)`` dimensions, per sample,

.. math::
    y = \frac{z}{\sqrt{\mathbb{E}|z|^2 + \epsilon}}\,\gamma,

with a complex ``weight`` :math:`\gamma` per element (starting at 1). Nothing is subtracted,
so the phase of every value is kept (up to :math:`\gamma`), and a fresh layer outputs
:math:`\mathbb{E}|y|^2 = 1`, the power the other norms of cvlayers give. :math:`\epsilon`
defaults, as torch's, to the machine epsilon of the real dtype; :math:`z = 0` maps to 0 with a
finite gradient for any :math:`\epsilon > 0`. On real data (Im z = 0) this is
``torch.nn.functional.rms_norm``.

torchcvnn's ``RMSNorm`` takes the same constructor arguments but is another map: it whitens
the 2x2 covariance of :math:`(\mathrm{Re}, \mathrm{Im})` about 0 for each feature, with
statistics taken across the batch (and its weight is ``(D, 2, 2)``).

On contiguous CPU input it runs in the layer norm kernels: the mean square in one pass, the
normalisation and :math:`\gamma` in one; the backward in two.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ._checks import REAL_DTYPE
from ._norm import (
    _check_eps,
    _check_shapes,
    _fused_layer_norm,
    _normalized_dims,
    _PerSampleNorm,
    _power_norm_eager,
    _scale_shift,
)

__all__ = ["RMSNorm", "rms_norm"]


def rms_norm(
    input: Tensor,
    normalized_shape: int | tuple[int, ...] | list[int],
    weight: Tensor | None = None,
    eps: float | None = None,
) -> Tensor:
    r"""Complex RMS norm over the last ``len(normalized_shape)`` dimensions, per sample
    (``torch.nn.functional.rms_norm``'s arguments):

    .. math::
        y = \frac{z}{\sqrt{\mathbb{E}|z|^2 + \epsilon}}\,\gamma

    with complex ``weight`` :math:`\gamma` (``None``: 1); ``eps=None`` is the machine epsilon
    of ``input``'s real dtype.

    Example:
        >>> z = torch.tensor([[3 + 4j, 0j]])
        >>> rms_norm(z, (2,), eps=0.0)
        tensor([[0.8485+1.1314j, 0.0000+0.0000j]])
    """
    shape = _normalized_dims(input, normalized_shape)
    _check_shapes(weight=(weight, shape))
    if eps is None:
        eps = torch.finfo(REAL_DTYPE[input.dtype]).eps
    _check_eps(eps)
    features = math.prod(shape)
    fused = _fused_layer_norm(input, features, weight, None, eps, centred=False)
    if fused is not None:
        return fused
    normed = _power_norm_eager(input, len(shape), eps, centred=False)
    return _scale_shift(normed, weight, None, features, 1)


class RMSNorm(_PerSampleNorm):
    r"""Per-sample complex RMS norm over the last ``len(normalized_shape)`` dimensions:
    :math:`y = z/\sqrt{\mathbb{E}|z|^2 + \epsilon}\,\gamma`, with ``torch.nn.RMSNorm``'s
    arguments and a complex ``weight`` :math:`\gamma` (starting at 1) of ``normalized_shape``.

    Statistics never mix samples of a batch (torchcvnn's ``RMSNorm`` does).

    Example:
        >>> norm = RMSNorm(8)
        >>> y = norm(torch.randn(4, 8, dtype=torch.complex64) * 5 + 3)
        >>> round(y.abs().pow(2).mean().item(), 3)
        1.0
    """

    def __init__(
        self,
        normalized_shape: int | tuple[int, ...] | list[int],
        eps: float | None = None,
        elementwise_affine: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = torch.complex64,
    ) -> None:
        super().__init__()
        self.eps = eps
        self._make_feature_norm(normalized_shape, elementwise_affine, False, device, dtype)

    def forward(self, input: Tensor) -> Tensor:
        return rms_norm(input, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        affine = self.elementwise_affine
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={affine}"
