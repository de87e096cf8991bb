"""The main job: train complex models and compare gradient conventions."""

from .compare import CONVENTIONS, Row, compare_conventions

__all__ = ["CONVENTIONS", "Row", "compare_conventions"]
