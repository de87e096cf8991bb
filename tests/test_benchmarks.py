"""The benchmark runner's --quick mode runs and writes well-formed JSON (no timing asserts)."""

from __future__ import annotations

import importlib.util
import json
import platform
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]


# ``python -m benchmarks`` from outside the checkout, with the checkout last on the path:
# run from the root, the source folder cvlayers/ (without losses/ and optim/ mapped into
# it) would shadow a non-editable install.
RUN_BENCHMARKS = (
    f"import runpy, sys; sys.path.append({str(ROOT)!r}); "
    "runpy.run_module('benchmarks', run_name='__main__', alter_sys=True)"
)


def test_quick_benchmark_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, "-c", RUN_BENCHMARKS, "--quick", "--only", "optim", "--json", str(out)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "| optim | SGD momentum=0.0 conjugate=True half=True |" in proc.stdout
    payload = json.loads(out.read_text())
    assert payload["environment"]["torch"] == __import__("torch").__version__
    if platform.libc_ver()[0] == "glibc":  # freed memory is kept for reuse
        assert payload["environment"]["allocator"].startswith("glibc, mmap and trim")
    cases = payload["cases"]
    assert len(cases) == 16
    for case in cases:
        assert case["candidate_s"] > 0
        assert case["baseline_s"] > 0
        assert 0 < case["ratio"] < float("inf")  # the median of paired ratios


def test_fwd_bwd_times_a_copy_of_its_input() -> None:
    """A module that writes into its input (complextorch's CReLU does, then raises) must not
    change the tensor the next benchmark case runs on: it had left a quarter of the
    activations' input at exactly 0."""
    spec = importlib.util.spec_from_file_location("_fwdbwd", ROOT / "benchmarks" / "_fwdbwd.py")
    assert spec is not None and spec.loader is not None
    fwdbwd = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fwdbwd)
    z = torch.randn(64, dtype=torch.complex64)
    before = z.clone()

    def relu_in_place(t: torch.Tensor) -> torch.Tensor:
        torch.view_as_real(t.detach()).clamp_(min=0)
        return t * 2

    fwdbwd.fwd_bwd(relu_in_place, z)()
    assert torch.equal(z, before)
