"""Losses for complex predictions; every loss returns a real tensor."""

from . import functional
from ._mse import ComplexMSELoss

__all__ = ["ComplexMSELoss", "functional"]
