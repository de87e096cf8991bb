"""Checkpoint and resume in a new process gives bit-identical parameters (CPU), through the
documented example script; the same script runs on 2 processes under torchrun."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "train_ddp.py"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(*args: str, launcher: list[str] | None = None) -> None:
    cmd = [
        *(launcher or [sys.executable]),
        str(SCRIPT),
        "--steps",
        "12",
        "--save-every",
        "4",
        *args,
    ]
    env = {"MASTER_PORT": str(_free_port())} if launcher is None else {}  # torchrun: own
    proc = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env={**__import__("os").environ, **env},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_resume_in_a_new_process_is_bit_identical(optimizer: str, tmp_path: Path) -> None:
    common = ["--optimizer", optimizer, "--lr", "0.05" if optimizer == "sgd" else "0.003"]
    _run(*common, "--out", str(tmp_path / "straight.pt"))
    ckpt = str(tmp_path / "ck.pt")
    _run(*common, "--checkpoint", ckpt, "--stop-after", "6")
    midway = list(torch.load(ckpt)["model"].values())  # before the resumed run overwrites it
    _run(*common, "--checkpoint", ckpt, "--resume", "--out", str(tmp_path / "resumed.pt"))
    straight = torch.load(tmp_path / "straight.pt")
    resumed = torch.load(tmp_path / "resumed.pt")
    for a, b in zip(straight, resumed, strict=True):
        assert torch.equal(a, b)
    assert any(not torch.equal(a, b) for a, b in zip(straight, midway, strict=True))


def test_example_runs_on_two_processes(tmp_path: Path) -> None:
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    _run("--out", str(tmp_path / "p.pt"), launcher=launcher)
    assert len(torch.load(tmp_path / "p.pt")) == 5
