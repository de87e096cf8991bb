"""Losses for complex predictions; every loss returns a real tensor and documents its
Wirtinger gradient dL/d(input)* (PyTorch's ``input.grad`` is twice that)."""

from . import functional
from ._classification import ComplexCrossEntropyLoss
from ._mse import ComplexMSELoss, MagnitudeMSELoss
from ._phase import PhaseLoss
from ._robust import ComplexHuberLoss, ComplexL1Loss, ComplexSmoothL1Loss

__all__ = [
    "ComplexCrossEntropyLoss",
    "ComplexHuberLoss",
    "ComplexL1Loss",
    "ComplexMSELoss",
    "ComplexSmoothL1Loss",
    "MagnitudeMSELoss",
    "PhaseLoss",
    "functional",
]
