"""Reduction handling and the base class shared by every cvlayers loss."""

from __future__ import annotations

import warnings
from typing import Literal

import torch
from torch import Tensor, nn

__all__ = ["REDUCTIONS", "ComplexLoss", "check_reduction", "check_target", "reduce"]

Reduction = Literal["mean", "sum", "none"]
REDUCTIONS: tuple[str, ...] = ("mean", "sum", "none")


def check_reduction(reduction: str) -> None:
    """Raise ``ValueError`` for an unknown reduction."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")


def reduce(loss: Tensor, reduction: str) -> Tensor:
    """Apply ``reduction`` to an element-wise, real loss."""
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    check_reduction(reduction)
    return loss


def _broadcastable(a: torch.Size, b: torch.Size) -> bool:
    return all(x == y or x == 1 or y == 1 for x, y in zip(reversed(a), reversed(b), strict=False))


def check_target(input: Tensor, target: Tensor, name: str) -> Tensor:
    """Validate a complex ``input`` and return ``target`` as ``input``'s complex dtype.

    A real target is taken to have zero imaginary part. A shape that would broadcast warns as
    ``torch.nn.MSELoss`` does; shapes that do not broadcast raise.
    """
    if not input.is_complex():
        raise TypeError(
            f"{name}: input must be a complex tensor, got {input.dtype}; "
            "for real data use the torch.nn loss"
        )
    if not (target.is_complex() or target.is_floating_point()):
        raise TypeError(f"{name}: target must be complex or floating point, got {target.dtype}")
    if target.shape != input.shape:
        if not _broadcastable(target.shape, input.shape):
            raise ValueError(
                f"{name}: target shape {tuple(target.shape)} does not match input shape "
                f"{tuple(input.shape)}"
            )
        warnings.warn(
            f"{name}: using a target size ({tuple(target.shape)}) that is different to the "
            f"input size ({tuple(input.shape)}). This will likely lead to incorrect results "
            "due to broadcasting. Please ensure they have the same size.",
            stacklevel=3,
        )
    return target.to(input.dtype)


class ComplexLoss(nn.Module):
    """Base class: holds and validates ``reduction`` like ``torch.nn.modules.loss._Loss``."""

    reduction: str

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        check_reduction(reduction)
        self.reduction = reduction

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"
