"""The main job: train complex models and compare gradient conventions.

Run ``python -m cvlayers.train --help``.
"""

from .loop import History, train
from .optimizers import Row, rows
from .tasks import TASKS

__all__ = ["TASKS", "History", "Row", "rows", "train"]
