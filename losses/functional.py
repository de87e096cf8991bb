"""Functional forms of the cvlayers losses."""

from ._mse import complex_mse_loss

__all__ = ["complex_mse_loss"]
