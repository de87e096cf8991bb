"""The interface the training loop needs from a task."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn


@dataclass
class Split:
    inputs: Tensor
    targets: Tensor


class Task(ABC):
    """Data (made once from ``seed``), a model factory, a loss and held-out metrics."""

    name: str
    headline: str  # the metric printed in tables, a key of evaluate()'s result

    def __init__(self, seed: int, device: torch.device) -> None:
        self.seed = seed
        self.device = device
        self.train, self.test = self.make_data(torch.Generator().manual_seed(seed))
        self.train = Split(self.train.inputs.to(device), self.train.targets.to(device))
        self.test = Split(self.test.inputs.to(device), self.test.targets.to(device))

    @abstractmethod
    def make_data(self, gen: torch.Generator) -> tuple[Split, Split]:
        """Train and held-out splits, deterministic for ``gen``."""

    @abstractmethod
    def make_model(self) -> nn.Module:
        """A fresh model; the caller seeds torch's global generator first."""

    @abstractmethod
    def loss(self, output: Tensor, target: Tensor) -> Tensor:
        """A real scalar loss."""

    @abstractmethod
    def evaluate(self, model: nn.Module) -> dict[str, float]:
        """Held-out metrics (``self.headline`` among them)."""

    def baseline(self) -> dict[str, float]:
        """Metrics of a model-free reference (e.g. no equaliser); empty if none."""
        return {}

    def plot_extras(self, model: nn.Module, out: Path) -> list[Path]:
        """Task-specific figures of a trained model; returns the files written."""
        return []
