"""Every docstring example in the installed package runs and prints what it says."""

from __future__ import annotations

import doctest
import importlib
import inspect
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import cvlayers
import cvlayers.init
import cvlayers.losses
import cvlayers.optim
import cvlayers.testing
from cvlayers import functional as CF

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


# Every public module, function and class: its formula and a runnable example.
PUBLIC = [
    (package.__name__, name, getattr(package, name))
    for package in (cvlayers, CF, cvlayers.init, cvlayers.losses, cvlayers.optim, cvlayers.testing)
    for name in package.__all__
    if not inspect.ismodule(getattr(package, name)) and callable(getattr(package, name))
]


@pytest.mark.parametrize(("package", "name", "obj"), PUBLIC, ids=[f"{p}.{n}" for p, n, _ in PUBLIC])
def test_public_docstrings_have_a_formula_and_an_example(
    package: str, name: str, obj: object
) -> None:
    doc = inspect.getdoc(obj) or ""
    assert ".. math::" in doc or ":math:" in doc, f"{package}.{name} states no formula"
    assert ">>>" in doc, f"{package}.{name} has no example"


# cvlayers.functional's forms with a torch.nn.functional counterpart of the same role.
_TORCH_COUNTERPARTS = {
    "crelu": "relu",
    "celu": "elu",
    "ccelu": "celu",
    "cgelu": "gelu",
    "csigmoid": "sigmoid",
    "ctanh": "tanh",
    "cprelu": "prelu",
    **{name: name for name in ("dropout", "linear", "batch_norm", "instance_norm")},
    **{name: name for name in ("layer_norm", "group_norm", "rms_norm", "interpolate")},
    # (torch's max_poolNd dispatch on return_indices with (*args, **kwargs): their
    # _with_indices forms have the parameters.)
    **{f"max_pool{d}d": f"max_pool{d}d_with_indices" for d in (1, 2, 3)},
    **{f"avg_pool{d}d": f"avg_pool{d}d" for d in (1, 2, 3)},
    **{
        f"adaptive_{kind}_pool{d}d": f"adaptive_{kind}_pool{d}d_with_indices"
        if kind == "max"
        else f"adaptive_avg_pool{d}d"
        for kind in ("max", "avg")
        for d in (1, 2, 3)
    },
    **{f"max_unpool{d}d": f"max_unpool{d}d" for d in (1, 2, 3)},
}


def test_functional_forms_take_torch_nn_functionals_parameter_names() -> None:
    """Every form takes its tensor as ``input`` (``F.relu(input=x)`` style calls work), and
    one with a torch counterpart takes that counterpart's parameters by name, in order
    (``running_covar`` for ``running_var``: a 2x2 covariance, not a variance)."""
    for name in CF.__all__:
        params = list(inspect.signature(getattr(CF, name)).parameters)
        assert params[0] == "input", (name, params)
        if name not in _TORCH_COUNTERPARTS:
            continue
        try:
            signature = inspect.signature(getattr(F, _TORCH_COUNTERPARTS[name]))
        except ValueError:  # a C builtin without one (avg_pool1d, linear)
            continue
        theirs = ["running_covar" if p == "running_var" else p for p in signature.parameters]
        assert params[: len(theirs)] == theirs, (name, params, theirs)
