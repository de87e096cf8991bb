"""DDP and FSDP2 (fully_shard) on 2 gloo CPU processes equal a single-process run on the
concatenated batch, for every convention of SGD and both Adam moments."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import torch

HERE = Path(__file__).parent
spec = importlib.util.spec_from_file_location("distributed_worker", HERE / "distributed_worker.py")
assert spec is not None and spec.loader is not None
worker = importlib.util.module_from_spec(spec)
spec.loader.exec_module(worker)

pytestmark = pytest.mark.skipif(
    not torch.distributed.is_available(), reason="torch.distributed not available"
)


def _single_process() -> list[list[torch.Tensor]]:
    x, y = worker.data()
    out = []
    for name, options in worker.CONFIGS:
        model = worker.make_model()
        worker.train(model, worker.make_optimizer(name, model.parameters(), options), x, y)
        out.append([p.detach() for p in model.parameters()])
    return out


@pytest.mark.parametrize("mode", ["ddp", "fsdp"])
def test_two_process_training_equals_single_process(mode: str, tmp_path: Path) -> None:
    out = tmp_path / f"{mode}.pt"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        str(HERE / "distributed_worker.py"),
        "--mode",
        mode,
        "--out",
        str(out),
    ]
    # The process group has a 30 s timeout and the launcher 120 s: a failed peer cannot hang.
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    distributed = torch.load(out)
    for config, got, expected in zip(worker.CONFIGS, distributed, _single_process(), strict=True):
        assert len(got) == len(expected)
        for a, b in zip(got, expected, strict=True):
            assert torch.allclose(a, b, rtol=1e-10, atol=1e-12), (config, (a - b).abs().max())
        moved = max(
            (a - b).abs().max().item()
            for a, b in zip(got, worker.make_model().parameters(), strict=True)
        )
        assert moved > 1e-3, config  # training changed the parameters
