"""The benchmark runner's --quick mode runs and writes well-formed JSON (no timing asserts)."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from pathlib import Path

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
        assert abs(case["ratio"] - case["candidate_s"] / case["baseline_s"]) < 1e-12
