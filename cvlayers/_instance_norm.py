r"""Instance norm of complex features: :mod:`cvlayers._norm`'s batch norm whitening, per
sample and channel.

Each ``(n, c)`` instance is whitened over its spatial positions,

.. math::
    y_{n c} = \Gamma_c V_{n c}^{-1/2} (z_{n c} - \mu_{n c}) + \beta_c,

with the instance's mean :math:`\mu_{nc}` and 2x2 covariance :math:`V_{nc}` of
:math:`(\mathrm{Re}, \mathrm{Im})` (:math:`+ \epsilon I`), and the channel's symmetric 2x2
scale :math:`\Gamma_c` (starting at :math:`I/\sqrt 2`) and complex shift :math:`\beta_c`.
As ``torch.nn.functional.instance_norm`` does, this is batch norm of the input seen as one
sample of :math:`N C` channels (so it runs in the same kernels); running statistics, where
tracked, move towards the instances' statistics averaged over the batch.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ._checks import check_complex
from ._norm import _BatchNorm, batch_norm

__all__ = ["InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d", "instance_norm"]


def instance_norm(
    input: Tensor,
    running_mean: Tensor | None = None,
    running_covar: Tensor | None = None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    use_input_stats: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    r"""Whitening instance norm of complex ``(N, C, *spatial)`` input (see the module doc),
    with the arguments of ``torch.nn.functional.instance_norm`` (``running_covar`` as in
    :func:`cvlayers.functional.batch_norm`, ``(C, 3)``; ``weight`` ``(C, 3)``).

    .. math::
        y_{nc} = \Gamma_c V_{nc}^{-1/2} (z_{nc} - \mu_{nc}) + \beta_c

    Example:
        >>> z = torch.tensor([[[1 + 1j, -1 - 1j, 1 - 1j, -1 + 1j]]])
        >>> instance_norm(z).abs().square().mean().round(decimals=4)
        tensor(1.)
    """
    check_complex(input, "input", None)
    if input.dim() < 3:
        raise ValueError(
            f"expected input of shape (N, C, *spatial) with a spatial dimension, got "
            f"{tuple(input.shape)}"
        )
    n, c = input.shape[:2]
    if n == 0:  # no instances: nothing to normalise (as torch's), no statistics to move
        return input.clone()

    def per_instance(t: Tensor | None) -> Tensor | None:
        return None if t is None else t.repeat(n, *([1] * (t.dim() - 1)))

    means, covars = per_instance(running_mean), per_instance(running_covar)
    out = batch_norm(
        input.reshape(1, n * c, *input.shape[2:]),
        means,
        covars,
        per_instance(weight),
        per_instance(bias),
        training=use_input_stats,
        momentum=momentum,
        eps=eps,
    )
    if use_input_stats and running_mean is not None and running_covar is not None:
        assert means is not None and covars is not None
        with torch.no_grad():
            running_mean.copy_(means.view(n, c).mean(0))
            running_covar.copy_(covars.view(n, c, 3).mean(0))
    return out.view(input.shape)


class _InstanceNorm(_BatchNorm):
    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = False,
        track_running_stats: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = torch.complex64,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__(
            num_features, eps, momentum, affine, track_running_stats, device, dtype, bias=bias
        )

    def _normalise(self, input: Tensor) -> Tensor:
        return instance_norm(
            input,
            self.running_mean,
            self.running_covar,
            self.weight,
            self.bias,
            self.training or not self.track_running_stats,
            self.momentum if self.momentum is not None else 0.0,
            self.eps,
        )


class InstanceNorm1d(_InstanceNorm):
    r"""Whitening instance norm of ``(N, C, L)`` or ``(C, L)`` complex input, with the arguments
    of ``torch.nn.InstanceNorm1d`` (``dtype`` defaults to ``torch.complex64``).

    .. math::
        y_{nc} = \Gamma_c V_{nc}^{-1/2} (z_{nc} - \mu_{nc}) + \beta_c

    Example:
        >>> InstanceNorm1d(2)(torch.randn(4, 2, 16, dtype=torch.complex64)).shape
        torch.Size([4, 2, 16])
    """

    spatial_dims = 1


class InstanceNorm2d(_InstanceNorm):
    r"""Whitening instance norm of ``(N, C, H, W)`` or ``(C, H, W)`` complex input, with the
    arguments of ``torch.nn.InstanceNorm2d``.

    .. math::
        y_{nc} = \Gamma_c V_{nc}^{-1/2} (z_{nc} - \mu_{nc}) + \beta_c

    Example:
        >>> InstanceNorm2d(2, affine=True)(torch.randn(4, 2, 8, 8, dtype=torch.complex64)).shape
        torch.Size([4, 2, 8, 8])
    """

    spatial_dims = 2


class InstanceNorm3d(_InstanceNorm):
    r"""Whitening instance norm of ``(N, C, D, H, W)`` or ``(C, D, H, W)`` complex input, with
    the arguments of ``torch.nn.InstanceNorm3d``.

    .. math::
        y_{nc} = \Gamma_c V_{nc}^{-1/2} (z_{nc} - \mu_{nc}) + \beta_c

    Example:
        >>> InstanceNorm3d(2)(torch.randn(1, 2, 2, 4, 4, dtype=torch.complex64)).shape
        torch.Size([1, 2, 2, 4, 4])
    """

    spatial_dims = 3
