"""Shared fixtures: every test that takes ``device`` or ``dtype`` runs on each of them.

``CVLAYERS_GPU_PATH`` (``make test-gpu-paths``, with ``CVLAYERS_NATIVE=0``) runs the CPU's
tests through a GPU's code paths, so that a machine without one checks them: ``compiled``,
the compiled maths of :mod:`cvlayers._compiled` (Inductor builds it in C++ here, in Triton
there); ``eager``, the eager maths with the GPU's products by a real on the real view,
and the optimizers' accelerator path for conj(grad).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import torch

from cvlayers import _compiled, _modulus, _native
from cvlayers.optim import _convention

GPU_PATH = os.environ.get("CVLAYERS_GPU_PATH", "")
if GPU_PATH == "compiled":
    _compiled.DEVICES.add("cpu")
elif GPU_PATH == "eager":
    _compiled.enabled(False)
    _modulus.times_real = _modulus.times_real_view
    _convention._fast_path = lambda acc, x: (0, None)  # conj(grad) into a temporary
elif GPU_PATH:
    raise pytest.UsageError(f"CVLAYERS_GPU_PATH={GPU_PATH!r}: expected compiled or eager")

DEVICES = [
    "cpu",
    pytest.param(
        "cuda",
        marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA not available"),
    ),
]
COMPLEX_DTYPES = [torch.complex64, torch.complex128]


@pytest.fixture(params=DEVICES)
def device(request: pytest.FixtureRequest) -> torch.device:
    return torch.device(request.param)


@pytest.fixture(params=COMPLEX_DTYPES, ids=["c64", "c128"])
def dtype(request: pytest.FixtureRequest) -> torch.dtype:
    return request.param


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def _ieee_fp32() -> Iterator[None]:
    """Tests compare float32 maths with float32 oracles, so no TF32 on CUDA: cuDNN allows it
    for convolutions by default, and the complex conv and its real decomposition round
    differently in it (1e-3 apart on an H100)."""
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


@pytest.fixture
def launches(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The kernel families launched (``cvlayers._native.launch``) during the test, in order;
    ``launches.clear()`` starts the count afresh."""
    launched: list[str] = []
    launch = _native.launch

    def spy(family: str, *args: Any, **kwargs: Any) -> Any:
        launched.append(family)
        return launch(family, *args, **kwargs)

    monkeypatch.setattr(_native, "launch", spy)
    return launched
