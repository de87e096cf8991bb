"""Argument checks and dispatch shared by the cvlayers optimizers (mirroring torch.optim)."""

from __future__ import annotations

from typing import cast

import torch
from torch import Tensor
from torch.optim.optimizer import _default_to_fused_or_foreach

__all__ = ["check_lr", "resolve_foreach", "scalar"]


def check_lr(lr: float | Tensor) -> None:
    """Raise ``ValueError`` for a negative or multi-element learning rate, as torch.optim."""
    if isinstance(lr, Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    if lr < 0.0:
        raise ValueError(f"Invalid learning rate: {lr}")


def resolve_foreach(foreach: bool | None, params: list[Tensor]) -> bool:
    """``foreach`` as given, or torch.optim's default for these parameters when ``None``."""
    if foreach is not None:
        return foreach
    return _default_to_fused_or_foreach(params, differentiable=False, use_fused=False)[1]


def scalar(value: float | Tensor) -> float:
    """A hyper-parameter as a Python float (a 1-element tensor is read once, outside compile)."""
    if isinstance(value, Tensor) and not torch.compiler.is_compiling():
        return float(value.item())
    return cast(float, value)
