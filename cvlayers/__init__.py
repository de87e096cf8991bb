"""cvlayers: complex-valued layers, losses and optimizers with explicit gradient conventions.

Subpackages: :mod:`cvlayers.losses`, :mod:`cvlayers.optim`, :mod:`cvlayers.functional`,
:mod:`cvlayers.init`, :mod:`cvlayers.autograd`, :mod:`cvlayers.testing`. ``losses`` and
``optim`` load on first use, so that ``import cvlayers`` then ``cvlayers.optim.Adam`` works
as ``torch.optim.Adam`` does after ``import torch``.
"""

import importlib
from types import ModuleType
from typing import TYPE_CHECKING

from . import autograd, functional, init, testing
from ._activation import (
    CCELU,
    CELU,
    CGELU,
    Cardioid,
    ComplexToReal,
    CPReLU,
    CReLU,
    CSigmoid,
    CTanh,
    Mod,
    ModReLU,
    ModSigmoid,
    ModTanh,
    RealToComplex,
    ZReLU,
)
from ._conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from ._dropout import Dropout, Dropout1d, Dropout2d, Dropout3d
from ._instance_norm import InstanceNorm1d, InstanceNorm2d, InstanceNorm3d
from ._linear import Linear
from ._norm import BatchNorm1d, BatchNorm2d, BatchNorm3d, GroupNorm, LayerNorm
from ._pool import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AdaptiveAvgPool3d,
    AdaptiveMaxPool1d,
    AdaptiveMaxPool2d,
    AdaptiveMaxPool3d,
    AvgPool1d,
    AvgPool2d,
    AvgPool3d,
    MaxPool1d,
    MaxPool2d,
    MaxPool3d,
    MaxUnpool1d,
    MaxUnpool2d,
    MaxUnpool3d,
)
from ._rms_norm import RMSNorm
from ._upsample import Upsample

__all__ = [
    "CCELU",
    "CELU",
    "CGELU",
    "AdaptiveAvgPool1d",
    "AdaptiveAvgPool2d",
    "AdaptiveAvgPool3d",
    "AdaptiveMaxPool1d",
    "AdaptiveMaxPool2d",
    "AdaptiveMaxPool3d",
    "AvgPool1d",
    "AvgPool2d",
    "AvgPool3d",
    "BatchNorm1d",
    "BatchNorm2d",
    "BatchNorm3d",
    "CPReLU",
    "CReLU",
    "CSigmoid",
    "CTanh",
    "Cardioid",
    "ComplexToReal",
    "Conv1d",
    "Conv2d",
    "Conv3d",
    "ConvTranspose1d",
    "ConvTranspose2d",
    "ConvTranspose3d",
    "Dropout",
    "Dropout1d",
    "Dropout2d",
    "Dropout3d",
    "GroupNorm",
    "InstanceNorm1d",
    "InstanceNorm2d",
    "InstanceNorm3d",
    "LayerNorm",
    "Linear",
    "MaxPool1d",
    "MaxPool2d",
    "MaxPool3d",
    "MaxUnpool1d",
    "MaxUnpool2d",
    "MaxUnpool3d",
    "Mod",
    "ModReLU",
    "ModSigmoid",
    "ModTanh",
    "RMSNorm",
    "RealToComplex",
    "Upsample",
    "ZReLU",
    "autograd",
    "functional",
    "init",
    "losses",
    "optim",
    "testing",
]
__version__ = "0.1.0"

_LAZY = ("losses", "optim")

if TYPE_CHECKING:
    from . import losses, optim


def __getattr__(name: str) -> ModuleType:
    """``cvlayers.losses`` and ``cvlayers.optim``, imported on first access."""
    if name in _LAZY:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
