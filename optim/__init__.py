"""Convention-aware optimizers: ``torch.optim`` with an explicit complex gradient convention.

See :class:`cvlayers.optim.SGD` for the ``conjugate`` and ``half`` options and
:class:`cvlayers.optim.Adam` for the ``moment`` option.
"""

from . import functional
from .adam import Adam, AdamW
from .sgd import SGD

__all__ = ["SGD", "Adam", "AdamW", "functional"]
