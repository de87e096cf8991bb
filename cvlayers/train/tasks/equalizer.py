r"""Baseband equalisation: 16-QAM through a multipath channel, a PA-like nonlinearity and
AWGN; a complex network maps a window of received samples to the transmitted symbol."""

from __future__ import annotations

import math
from pathlib import Path
from typing import cast

import torch
from torch import Tensor, nn

import cvlayers
from cvlayers.losses import ComplexMSELoss

from .base import Split, Task

# Multipath: a main tap at index 2, pre- and post-cursor echoes.
CHANNEL = (0.05 + 0.04j, -0.18 + 0.1j, 1.0 + 0.0j, 0.38 - 0.24j, -0.15 + 0.12j, 0.07 - 0.05j)
MAIN_TAP = 2
LEVELS = torch.tensor([-3.0, -1.0, 1.0, 3.0]) / math.sqrt(10.0)  # unit average power


def qam16(n: int, gen: torch.Generator) -> Tensor:
    idx = torch.randint(0, 4, (2, n), generator=gen)
    return torch.complex(LEVELS[idx[0]], LEVELS[idx[1]])


def decide(z: Tensor) -> Tensor:
    """Nearest 16-QAM point, per part."""

    def nearest(x: Tensor) -> Tensor:
        levels = LEVELS.to(x.device, x.dtype)
        return levels[(x.unsqueeze(-1) - levels).abs().argmin(-1)]

    return torch.complex(nearest(z.real), nearest(z.imag))


def channel(symbols: Tensor, snr_db: float, gen: torch.Generator) -> Tensor:
    """Linear multipath, then AM/AM compression and AM/PM rotation, then AWGN."""
    h = torch.tensor(CHANNEL, dtype=torch.complex64)
    n = symbols.numel()
    y = torch.zeros(n, dtype=torch.complex64)
    for k, tap in enumerate(h):
        y[k:] += tap * symbols[: n - k]
    power = y.abs() ** 2
    y = y * (1 - 0.06 * power) * torch.exp(1j * 0.12 * power)
    noise_power = y.abs().pow(2).mean() / 10 ** (snr_db / 10)
    noise = torch.randn(n, dtype=torch.complex64, generator=gen) * noise_power.sqrt()
    return y + noise


class EqualizerTask(Task):
    name = "equalizer"
    headline = "ser"
    taps = 11
    n_train = 16384
    n_test = 8192
    snr_db = 22.0

    def make_data(self, gen: torch.Generator) -> tuple[Split, Split]:
        splits = []
        for n in (self.n_train, self.n_test):
            symbols = qam16(n + self.taps, gen)
            received = channel(symbols, self.snr_db, gen)
            # Window k holds received[k .. k + taps); its centre received[k + taps // 2] is
            # the main-tap image of symbol k + taps // 2 - MAIN_TAP, the target.
            windows = received.unfold(0, self.taps, 1)[:n]
            delay = self.taps // 2 - MAIN_TAP
            splits.append(Split(windows, symbols[delay : delay + n]))
        return splits[0], splits[1]

    def make_model(self) -> nn.Module:
        return nn.Sequential(
            cvlayers.Linear(self.taps, 32),
            cvlayers.ModReLU(num_features=32, bias=-0.05),
            cvlayers.Linear(32, 1),
            nn.Flatten(0),
        )

    def loss(self, output: Tensor, target: Tensor) -> Tensor:
        return cast(Tensor, ComplexMSELoss()(output, target))

    @torch.no_grad()
    def evaluate(self, model: nn.Module) -> dict[str, float]:
        out = model(self.test.inputs)
        return {
            "mse": ComplexMSELoss()(out, self.test.targets).item(),
            "ser": (decide(out) != self.test.targets).float().mean().item(),
        }

    @torch.no_grad()
    def baseline(self) -> dict[str, float]:
        """No equaliser: decide on the received sample at the main tap."""
        raw = self.test.inputs[:, self.taps // 2]
        return {
            "mse": ComplexMSELoss()(raw, self.test.targets).item(),
            "ser": (decide(raw) != self.test.targets).float().mean().item(),
        }

    @torch.no_grad()
    def plot_extras(self, model: nn.Module, out: Path) -> list[Path]:
        from ..plots import constellations

        raw = self.test.inputs[:2000, self.taps // 2].cpu()
        equalised = model(self.test.inputs[:2000]).cpu()
        path = out / "constellation.png"
        constellations(raw, equalised, LEVELS, path)
        return [path]
