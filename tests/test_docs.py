"""Every docstring example in the installed package runs and prints what it says."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import cvlayers
import cvlayers.losses
import cvlayers.optim

PACKAGES = [cvlayers, cvlayers.losses, cvlayers.optim]
MODULES = sorted(
    {p.__name__ for p in PACKAGES}
    | {m.name for p in PACKAGES for m in pkgutil.walk_packages(p.__path__, p.__name__ + ".")}
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    torch.manual_seed(0)
    result = doctest.testmod(module, extraglobs={"torch": torch}, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"


def test_readme_python_example_runs() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.DOTALL)
    assert blocks, "the README has a Python example"
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})


def test_losses_and_optim_load_on_first_access(tmp_path: Path) -> None:
    """``import cvlayers`` then ``cvlayers.optim.Adam``, as with ``torch.optim`` (it raised
    AttributeError unless ``cvlayers.optim`` was imported by name), without importing them
    before they are used; in a fresh interpreter, run away from the checkout."""
    code = (
        "import sys, cvlayers\n"
        "assert 'cvlayers.optim' not in sys.modules and 'cvlayers.losses' not in sys.modules\n"
        "assert cvlayers.optim.Adam.__module__ == 'cvlayers.optim.adam'\n"
        "assert cvlayers.losses.ComplexMSELoss is not None\n"
        "try:\n    cvlayers.not_a_module\nexcept AttributeError:\n    pass\n"
        "else:\n    raise SystemExit('no AttributeError')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
