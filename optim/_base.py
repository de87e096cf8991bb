"""The base of every cvlayers optimizer: torch.optim.Optimizer plus the convention options."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch.optim.optimizer import Optimizer

from . import _convention as cv

__all__ = ["ConventionOptimizer"]


class ConventionOptimizer(Optimizer):
    """Validates ``conjugate`` / ``half`` (and subclass options) in every param group, fills
    defaults when loading an older state dict, and runs the closure; subclasses implement
    :meth:`_step_group`."""

    # Options that older state dicts (or torch.optim's) may lack, with their defaults.
    group_defaults: ClassVar[dict[str, Any]] = {
        "maximize": False,
        "foreach": None,
        "conjugate": True,
        "half": True,
    }

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        super().add_param_group(param_group)
        self._check_group(self.param_groups[-1])

    def _check_group(self, group: dict[str, Any]) -> None:
        cv.check_convention(group["conjugate"], group["half"])

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            for key, value in self.group_defaults.items():
                group.setdefault(key, value)

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        """Perform a single optimisation step.

        Args:
            closure: a closure that re-evaluates the model and returns the loss.
        """
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            self._step_group(group)
        return loss

    def _step_group(self, group: dict[str, Any]) -> None:
        raise NotImplementedError
