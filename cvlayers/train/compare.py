"""Train one small complex model under every gradient convention and under torch.optim.SGD."""

from __future__ import annotations

from dataclasses import dataclass

import torch

import cvlayers
from cvlayers.losses import ComplexMSELoss
from cvlayers.optim import SGD

__all__ = ["CONVENTIONS", "Row", "compare_conventions"]

# (label, conjugate, half); None marks the torch.optim.SGD baseline.
CONVENTIONS: list[tuple[str, bool | None, bool | None]] = [
    ("cvlayers conj+half (default)", True, True),
    ("cvlayers conj, no half", True, False),
    ("cvlayers no conj, half", False, True),
    ("cvlayers no conj, no half", False, False),
    ("torch.optim.SGD", None, None),
]


@dataclass(frozen=True)
class Row:
    label: str
    losses: list[float]


def _data(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A complex linear system y = A x + noise, the simplest equalisation-like problem."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(256, 8, dtype=torch.complex64, generator=gen)
    a = torch.randn(8, 4, dtype=torch.complex64, generator=gen) / 8**0.5
    noise = 0.05 * torch.randn(256, 4, dtype=torch.complex64, generator=gen)
    return x, x @ a + noise


def compare_conventions(steps: int = 200, lr: float = 0.1, seed: int = 0) -> list[Row]:
    """Loss after each step for every convention row, from identical initial weights."""
    x, y = _data(seed)
    loss_fn = ComplexMSELoss()
    rows = []
    for label, conjugate, half in CONVENTIONS:
        torch.manual_seed(seed)
        model = cvlayers.Linear(8, 4)
        if conjugate is None or half is None:
            opt: torch.optim.Optimizer = torch.optim.SGD(model.parameters(), lr=lr)
        else:
            opt = SGD(model.parameters(), lr=lr, conjugate=conjugate, half=half)
        losses = []
        for _ in range(steps):
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        rows.append(Row(label, losses))
    return rows
