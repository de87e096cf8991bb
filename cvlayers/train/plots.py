"""Figures of the main job (matplotlib, written as PNG without a display)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from torch import Tensor

from .loop import History


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def loss_curves(histories: list[History], title: str, path: Path) -> None:
    """Loss at every step (log-log): early steps show the step size, divergence shows as a
    curve that leaves the plot (marked with x where the run was stopped)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 5))
    styles = ["-", "--", "-.", ":", "-"]
    for i, h in enumerate(histories):
        baseline = h.label.startswith("torch")
        finite = [v for v in h.step_loss if math.isfinite(v)]
        steps = range(1, len(finite) + 1)
        label = h.label + (f" (diverged at step {len(h.step_loss)})" if h.diverged else "")
        (line,) = ax.plot(
            steps,
            finite,
            styles[i % 5],
            lw=4 if baseline else 1.4,
            alpha=0.4 if baseline else 0.9,
            label=label,
        )
        if h.diverged and finite:
            ax.plot(len(finite), finite[-1], "x", ms=10, mew=2, color=line.get_color())
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("training loss (minibatch)")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def constellations(received: Tensor, equalised: Tensor, levels: Tensor, path: Path) -> None:
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.5), sharex=True, sharey=True)
    for ax, z, title in ((axes[0], received, "received"), (axes[1], equalised, "equalised")):
        ax.scatter(z.real, z.imag, s=2, alpha=0.35)
        grid = [(a.item(), b.item()) for a in levels for b in levels]
        ax.scatter(*zip(*grid, strict=True), marker="x", c="red", s=40, label="16-QAM")
        ax.set_title(title)
        ax.set_aspect("equal")
        ax.grid(True, alpha=0.3)
    axes[0].legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
