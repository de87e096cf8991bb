"""cvlayers: complex-valued layers, losses and optimizers with explicit gradient conventions.

Subpackages: :mod:`cvlayers.losses`, :mod:`cvlayers.optim`, :mod:`cvlayers.functional`,
:mod:`cvlayers.init`, :mod:`cvlayers.autograd`, :mod:`cvlayers.testing`.
"""

from . import autograd, functional, init, testing
from ._activation import (
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
from ._linear import Linear

__all__ = [
    "CELU",
    "CGELU",
    "CPReLU",
    "CReLU",
    "CSigmoid",
    "CTanh",
    "Cardioid",
    "ComplexToReal",
    "Linear",
    "Mod",
    "ModReLU",
    "ModSigmoid",
    "ModTanh",
    "RealToComplex",
    "ZReLU",
    "autograd",
    "functional",
    "init",
    "testing",
]
__version__ = "0.1.0"
