"""Forward + backward closures and optional third-party modules for the layer benchmarks."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn


def fwd_bwd(module: Callable[[Tensor], Tensor], x: Tensor) -> Callable[[], None]:
    """One forward and backward pass with a fixed upstream gradient (no loss reduction), on a
    copy of ``x``: a module that writes into its input (complextorch's CReLU does, before it
    raises) cannot change what the next case is timed on."""
    x = x.detach().clone().requires_grad_(True)
    with torch.no_grad():
        out = module(x)
        grad = torch.ones_like(out)

    def run() -> None:
        x.grad = None
        module(x).backward(grad)

    return run


def runs(fn: Callable[[], None], label: str) -> bool:
    """Whether ``fn`` runs; a peer that cannot do a training step is reported and skipped."""
    try:
        fn()
    except Exception as err:
        print(f"skipped {label}: {type(err).__name__}: {str(err)[:80]}")
        return False
    return True


def third_party(package: str, names: list[str], *args: Any, **kwargs: Any) -> nn.Module | None:
    """The first of ``names`` in ``package`` built with ``args``, or None if unavailable."""
    try:
        mod = importlib.import_module(package)
    except ImportError:
        return None
    for name in names:
        cls = getattr(mod, name, None)
        if cls is None:
            continue
        try:
            built: nn.Module = cls(*args, **kwargs)
            return built
        except TypeError:
            continue
    return None
