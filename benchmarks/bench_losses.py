"""Forward + backward of each loss against the same formula written with plain torch ops
(and torchcvnn's ComplexMSELoss where installed)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from cvlayers.losses import functional as LF

from ._fwdbwd import fwd_bwd, third_party
from ._harness import Case, time_case

Loss = Callable[[Tensor], Tensor]


def _naive(target: Tensor) -> dict[str, tuple[Loss, Loss]]:
    """name -> (cvlayers, the textbook one-liner with torch ops)."""
    y = target
    return {
        "complex_mse_loss": (
            lambda x: LF.complex_mse_loss(x, y),
            lambda x: (x - y).abs().square().mean(),
        ),
        "complex_l1_loss": (lambda x: LF.complex_l1_loss(x, y), lambda x: (x - y).abs().mean()),
        "complex_huber_loss": (
            lambda x: LF.complex_huber_loss(x, y),
            lambda x: torch.nn.functional.huber_loss((x - y).abs(), torch.zeros_like(y.real)),
        ),
        "magnitude_mse_loss": (
            lambda x: LF.magnitude_mse_loss(x, y),
            lambda x: (x.abs() - y.abs()).square().mean(),
        ),
        "phase_loss": (
            lambda x: LF.phase_loss(x, y),
            lambda x: (y.abs() * (1 - torch.cos(x.angle() - y.angle()))).mean(),
        ),
    }


def run(quick: bool = False, device: torch.device | str = "cpu") -> list[Case]:
    device = torch.device(device)
    numel = 1 << (12 if quick else 20)
    min_run_time = 0.05 if quick else 0.3
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(numel, dtype=torch.complex64, generator=gen).to(device)
    y = torch.randn(numel, dtype=torch.complex64, generator=gen).to(device)
    cases = []
    for name, (ours, naive) in _naive(y).items():
        cases.append(
            time_case(
                "losses",
                f"{name} fwd+bwd, {numel}",
                "plain torch formula",
                fwd_bwd(ours, x),
                fwd_bwd(naive, x),
                min_run_time=min_run_time,
                device=device,
            )
        )
    theirs = third_party("torchcvnn.nn", ["ComplexMSELoss"])
    if theirs is not None:
        cases.append(
            time_case(
                "losses",
                f"complex_mse_loss fwd+bwd, {numel}",
                "torchcvnn ComplexMSELoss",
                fwd_bwd(lambda t: LF.complex_mse_loss(t, y), x),
                fwd_bwd(lambda t: theirs(t, y), x),
                min_run_time=min_run_time,
                device=device,
            )
        )
    return cases
