"""Functional forms of the cvlayers losses; every one returns a real tensor."""

from ._classification import complex_cross_entropy
from ._mse import complex_mse_loss, magnitude_mse_loss
from ._phase import phase_loss
from ._robust import complex_huber_loss, complex_l1_loss, complex_smooth_l1_loss

__all__ = [
    "complex_cross_entropy",
    "complex_huber_loss",
    "complex_l1_loss",
    "complex_mse_loss",
    "complex_smooth_l1_loss",
    "magnitude_mse_loss",
    "phase_loss",
]
