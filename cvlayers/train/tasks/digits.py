r"""scikit-learn's bundled 8x8 digits, as the 2-D FFT of each image (complex features),
classified by a small complex network with a cross-entropy on the modulus of its output."""

from __future__ import annotations

from typing import cast

import torch
from torch import Tensor, nn

import cvlayers
from cvlayers.losses import ComplexCrossEntropyLoss

from .base import Split, Task


def load_digits_fft() -> tuple[Tensor, Tensor]:
    try:
        from sklearn.datasets import load_digits  # type: ignore[import-untyped]
    except ImportError as err:  # pragma: no cover - depends on the install
        raise SystemExit("--task digits needs scikit-learn: pip install 'cvlayers[train]'") from err
    data = load_digits()
    images = torch.tensor(data.images, dtype=torch.float32) / 16.0
    spectra = torch.fft.fft2(images, norm="ortho").reshape(len(images), 64)
    return spectra.to(torch.complex64), torch.tensor(data.target)


class DigitsTask(Task):
    name = "digits"
    headline = "accuracy"

    def make_data(self, gen: torch.Generator) -> tuple[Split, Split]:
        x, y = load_digits_fft()
        order = torch.randperm(len(x), generator=gen)
        cut = int(0.8 * len(x))
        train, test = order[:cut], order[cut:]
        return Split(x[train], y[train]), Split(x[test], y[test])

    def make_model(self) -> nn.Module:
        return nn.Sequential(
            cvlayers.Linear(64, 64),
            cvlayers.ModReLU(num_features=64, bias=-0.05),
            cvlayers.Linear(64, 10),
        )

    def loss(self, output: Tensor, target: Tensor) -> Tensor:
        return cast(Tensor, ComplexCrossEntropyLoss(logits="modulus")(output, target))

    @torch.no_grad()
    def evaluate(self, model: nn.Module) -> dict[str, float]:
        out = model(self.test.inputs)
        return {
            "loss": float(self.loss(out, self.test.targets)),
            "accuracy": (out.abs().argmax(1) == self.test.targets).float().mean().item(),
        }

    def baseline(self) -> dict[str, float]:
        return {"accuracy": 0.1}  # chance
