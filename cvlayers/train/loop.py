"""The training loop shared by every task and optimizer row."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from .tasks import Task

_DIVERGED = 1e6  # a loss above this (or non-finite) stops the run as diverged
OptimizerFactory = Callable[[list[nn.Parameter]], torch.optim.Optimizer]


@dataclass
class History:
    label: str
    train_loss: list[float] = field(default_factory=list)  # mean over each epoch
    step_loss: list[float] = field(default_factory=list)  # every step, up to a divergence
    metrics: dict[str, float] = field(default_factory=dict)  # held-out, after training
    diverged: bool = False


def train(
    task: Task,
    make_optimizer: OptimizerFactory,
    *,
    label: str,
    epochs: int,
    batch_size: int,
    seed: int,
    quiet: bool = True,
) -> tuple[nn.Module, History]:
    """Train a fresh model of ``task``: same seed, same initial weights, same batch order."""
    torch.manual_seed(seed)
    model = task.make_model().to(task.device)
    optimizer = make_optimizer(list(model.parameters()))
    history = History(label)
    order_gen = torch.Generator().manual_seed(seed + 1)
    n = task.train.inputs.shape[0]
    bar = _progress(epochs, label, quiet)
    for _ in range(epochs):
        total, count = 0.0, 0
        order = torch.randperm(n, generator=order_gen).to(task.device)
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            optimizer.zero_grad()
            loss = task.loss(model(task.train.inputs[idx]), task.train.targets[idx])
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
            value = loss.item()
            history.step_loss.append(value)
            if not math.isfinite(value) or value > _DIVERGED:
                history.diverged = True  # the no-conj rows can run away: stop, report it
                break
            total += value * len(idx)
            count += len(idx)
        if history.diverged:
            break
        history.train_loss.append(total / count)
        if bar is not None:
            bar.set_postfix(loss=f"{total / count:.4g}")
            bar.update()
    if bar is not None:
        bar.close()
    history.metrics = task.evaluate(model) if not history.diverged else {}
    return model, history


def _progress(epochs: int, label: str, quiet: bool) -> Any:
    if quiet:
        return None
    from tqdm import tqdm  # type: ignore[import-untyped]

    # Bars on a terminal only: piped into a log, each redraw would add a line.
    on_terminal = sys.stderr.isatty()
    return tqdm(
        total=epochs, desc=f"{label:<28}", unit="epoch", leave=True, disable=not on_terminal
    )
