"""Functional forms of the cvlayers modules; each module calls the function here."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from ._activation_functional import (
    cardioid,
    ccelu,
    celu,
    cgelu,
    complex_to_real,
    cprelu,
    crelu,
    csigmoid,
    ctanh,
    mod,
    mod_sigmoid,
    mod_tanh,
    modrelu,
    real_to_complex,
    zrelu,
)
from ._checks import check_complex
from ._dropout import dropout, dropout1d, dropout2d, dropout3d
from ._instance_norm import instance_norm
from ._norm import batch_norm, group_norm, layer_norm
from ._pool import (
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    adaptive_avg_pool3d,
    adaptive_max_pool1d,
    adaptive_max_pool2d,
    adaptive_max_pool3d,
    avg_pool1d,
    avg_pool2d,
    avg_pool3d,
    max_pool1d,
    max_pool2d,
    max_pool3d,
    max_unpool1d,
    max_unpool2d,
    max_unpool3d,
)
from ._rms_norm import rms_norm
from ._upsample import interpolate

__all__ = [
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_avg_pool3d",
    "adaptive_max_pool1d",
    "adaptive_max_pool2d",
    "adaptive_max_pool3d",
    "avg_pool1d",
    "avg_pool2d",
    "avg_pool3d",
    "batch_norm",
    "cardioid",
    "ccelu",
    "celu",
    "cgelu",
    "complex_to_real",
    "cprelu",
    "crelu",
    "csigmoid",
    "ctanh",
    "dropout",
    "dropout1d",
    "dropout2d",
    "dropout3d",
    "group_norm",
    "instance_norm",
    "interpolate",
    "layer_norm",
    "linear",
    "max_pool1d",
    "max_pool2d",
    "max_pool3d",
    "max_unpool1d",
    "max_unpool2d",
    "max_unpool3d",
    "mod",
    "mod_sigmoid",
    "mod_tanh",
    "modrelu",
    "real_to_complex",
    "rms_norm",
    "zrelu",
]


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    r"""Complex affine map :math:`y = x W^T + b` (no conjugate on :math:`W`).

    Args:
        input: complex tensor of shape ``(*, in_features)``.
        weight: complex tensor of shape ``(out_features, in_features)``.
        bias: optional complex tensor of shape ``(out_features,)``.

    Example:
        >>> x = torch.ones(2, 3, dtype=torch.complex64)
        >>> w = torch.full((4, 3), 1j, dtype=torch.complex64)
        >>> linear(x, w).shape
        torch.Size([2, 4])
    """
    check_complex(input, "input", weight.dtype)
    if input.dim() == 0 or input.shape[-1] != weight.shape[-1]:
        raise ValueError(f"input must have shape (*, {weight.shape[-1]}), got {tuple(input.shape)}")
    return F.linear(input, weight, bias)
