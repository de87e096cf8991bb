"""Convention-aware optimizers: ``torch.optim`` with an explicit complex gradient convention.

See :class:`cvlayers.optim.SGD` for the ``conjugate`` and ``half`` options.
"""

from . import functional
from .sgd import SGD

__all__ = ["SGD", "functional"]
