"""Functional forms of the cvlayers optimizers (one call = one step, tensors updated in place)."""

from .adam import adam
from .sgd import sgd

__all__ = ["adam", "sgd"]
