"""cvlayers: complex-valued layers, losses and optimizers with explicit gradient conventions.

Subpackages: :mod:`cvlayers.losses`, :mod:`cvlayers.optim`, :mod:`cvlayers.functional`,
:mod:`cvlayers.init`, :mod:`cvlayers.autograd`, :mod:`cvlayers.testing`.
"""

from . import autograd, functional, init, testing
from ._linear import Linear

__all__ = ["Linear", "autograd", "functional", "init", "testing"]
__version__ = "0.1.0"
