"""Training tasks of the main job: each builds its data, model, loss and metrics from a seed."""

from __future__ import annotations

from .base import Task
from .digits import DigitsTask
from .equalizer import EqualizerTask

TASKS: dict[str, type[Task]] = {"equalizer": EqualizerTask, "digits": DigitsTask}

__all__ = ["TASKS", "DigitsTask", "EqualizerTask", "Task"]
