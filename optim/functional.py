"""Functional forms of the cvlayers optimizers (one call = one step, tensors updated in place)."""

from .sgd import sgd

__all__ = ["sgd"]
