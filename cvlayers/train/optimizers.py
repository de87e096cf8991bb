"""The optimizer rows of the main job: every convention and the torch.optim baseline."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import torch
from torch import nn

from cvlayers.optim import SGD, Adam

from .loop import OptimizerFactory


@dataclass(frozen=True)
class Row:
    label: str
    conjugate: bool | None  # None: the torch.optim baseline
    half: bool | None


def rows(optimizer: str) -> list[Row]:
    """The four convention rows of conventions.md, then torch.optim's own optimizer."""
    return [
        Row("conj, half (default)", True, True),
        Row("conj, no half", True, False),
        Row("no conj, half", False, True),
        Row("no conj, no half", False, False),
        Row(f"torch.optim.{'SGD' if optimizer == 'sgd' else 'Adam'}", None, None),
    ]


def factory(name: str, row: Row, lr: float, momentum: float) -> OptimizerFactory:
    def make(params: list[nn.Parameter]) -> torch.optim.Optimizer:
        if name == "sgd":
            if row.conjugate is None or row.half is None:
                return torch.optim.SGD(params, lr=lr, momentum=momentum)
            return SGD(params, lr=lr, momentum=momentum, conjugate=row.conjugate, half=row.half)
        if row.conjugate is None or row.half is None:
            return torch.optim.Adam(params, lr=lr)
        return Adam(params, lr=lr, conjugate=row.conjugate, half=row.half)

    return partial(make)
