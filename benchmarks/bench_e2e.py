"""One training step (forward, backward, SGD step) of the same small complex CNN built from
cvlayers, from torchcvnn and from complextorch (where installed)."""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable

import torch
from torch import nn

import cvlayers
from cvlayers.losses import ComplexMSELoss
from cvlayers.optim import SGD

from ._fwdbwd import runs
from ._harness import Case, time_case

C = torch.complex64


def cnn_cvlayers() -> nn.Module:
    return nn.Sequential(
        cvlayers.Conv2d(2, 16, 3, padding=1),
        cvlayers.BatchNorm2d(16),
        cvlayers.CReLU(),
        cvlayers.MaxPool2d(2),
        cvlayers.Conv2d(16, 16, 3, padding=1),
        cvlayers.CReLU(),
        cvlayers.AdaptiveAvgPool2d(4),
        nn.Flatten(),
        cvlayers.Linear(256, 10),
    )


def cnn_torchcvnn() -> nn.Module | None:
    try:
        t = importlib.import_module("torchcvnn.nn")
    except ImportError:
        return None
    return nn.Sequential(
        nn.Conv2d(2, 16, 3, padding=1, dtype=C),
        t.BatchNorm2d(16),
        t.CReLU(),
        t.MaxPool2d(2),
        nn.Conv2d(16, 16, 3, padding=1, dtype=C),
        t.CReLU(),
        t.AdaptiveAvgPool2d(4),
        nn.Flatten(),
        nn.Linear(256, 10, dtype=C),
    )


def cnn_complextorch() -> nn.Module | None:
    try:
        c = importlib.import_module("complextorch.nn")
    except ImportError:
        return None
    return nn.Sequential(
        c.Conv2d(2, 16, 3, padding=1),
        c.BatchNorm2d(16),
        c.CVSplitReLU(),
        c.MagMaxPool2d(2),
        c.Conv2d(16, 16, 3, padding=1),
        c.CVSplitReLU(),
        c.AdaptiveAvgPool2d(4),
        nn.Flatten(),
        c.Linear(256, 10),
    )


def _step(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> Callable[[], None]:
    opt = SGD(model.parameters(), lr=1e-3, momentum=0.9)
    loss_fn = ComplexMSELoss()

    def step() -> None:
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()

    return step


def run(quick: bool = False, device: torch.device | str = "cpu") -> list[Case]:
    device = torch.device(device)
    warnings.filterwarnings("ignore", message="Complex modules are a new feature")
    batch, size = (4, 16) if quick else (32, 32)
    min_run_time = 0.1 if quick else 1.0
    x = torch.randn(batch, 2, size, size, dtype=C, device=device)
    y = torch.randn(batch, 10, dtype=C, device=device)
    ours = _step(cnn_cvlayers().to(device), x, y)
    cases = []
    for label, build in (("torchcvnn CNN", cnn_torchcvnn), ("complextorch CNN", cnn_complextorch)):
        model = build()
        if model is None:
            continue
        theirs = _step(model.to(device), x, y)
        if not runs(theirs, label):
            continue
        name = f"CNN train step, batch {batch}x2x{size}x{size}"
        cases.append(
            time_case("e2e", name, label, ours, theirs, min_run_time=min_run_time, device=device)
        )
    return cases
