"""The main job, `python -m cvlayers.train`, on tiny configurations."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cvlayers.train.__main__ import main

pytest.importorskip("matplotlib")
pytest.importorskip("tqdm")


def _results(out: Path) -> dict[str, object]:
    payload: dict[str, object] = json.loads((out / "results.json").read_text())
    return payload


def test_single_run_writes_outputs_and_beats_no_equaliser(tmp_path: Path) -> None:
    assert main(["--epochs", "2", "--out", str(tmp_path), "--quiet"]) == 0
    for name in (
        "metrics.csv",
        "step_losses.csv",
        "results.json",
        "loss_curves.png",
        "constellation.png",
    ):
        assert (tmp_path / name).stat().st_size > 0, name
    results = _results(tmp_path)
    (run,) = results["runs"]  # type: ignore[misc]
    baseline = results["baseline"]
    assert not run["diverged"]
    assert run["metrics"]["ser"] < 0.2 * baseline["ser"]  # type: ignore[index]
    rows = (tmp_path / "metrics.csv").read_text().splitlines()
    first, last = float(rows[1].split(",")[-1]), float(rows[-1].split(",")[-1])
    assert last < first  # the training loss went down


def test_compare_retraces_torch_sgd_and_flags_no_conj(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--compare", "--epochs", "1", "--out", str(tmp_path), "--quiet"]) == 0
    printed = capsys.readouterr().out
    runs = {r["optimizer"]: r for r in _results(tmp_path)["runs"]}  # type: ignore[attr-defined]
    assert set(runs) == {
        "conj, half (default)",
        "conj, no half",
        "no conj, half",
        "no conj, no half",
        "torch.optim.SGD",
    }
    per_row: dict[str, list[float]] = {}
    with (tmp_path / "step_losses.csv").open() as f:
        for row in csv.DictReader(f):
            per_row.setdefault(row["optimizer"], []).append(float(row["loss"]))
    assert per_row["conj, no half"] == pytest.approx(per_row["torch.optim.SGD"], rel=1e-6)
    assert "'conj, no half' and torch.optim.SGD: 0" in printed
    # With this seed and lr the conjugate-free rows are not descent directions and blow up.
    assert runs["no conj, no half"]["diverged"]
    assert not runs["conj, half (default)"]["diverged"]


def test_deterministic_for_a_seed(tmp_path: Path) -> None:
    for name in ("a", "b"):
        main(["--epochs", "1", "--seed", "3", "--out", str(tmp_path / name), "--quiet"])
    a = (tmp_path / "a" / "step_losses.csv").read_text()
    assert a == (tmp_path / "b" / "step_losses.csv").read_text()


def test_digits_task_with_adam(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("sklearn")
    args = ["--task", "digits", "--optimizer", "adam", "--epochs", "3", "--out", str(tmp_path)]
    assert main([*args, "--quiet"]) == 0
    (run,) = _results(tmp_path)["runs"]  # type: ignore[misc]
    assert run["metrics"]["accuracy"] > 0.6  # chance is 0.1
    # The baseline (chance) has an accuracy but no loss: "-", not a NaN that reads as a failure.
    (row,) = [line for line in capsys.readouterr().out.splitlines() if "baseline" in line]
    assert row.split()[-2:] == ["0.1", "-"]


@pytest.mark.parametrize(
    "argv",
    [
        ["--task", "mnist"],
        ["--optimizer", "lbfgs"],
        ["--epochs", "0"],
        ["--lr", "-1"],
        ["--batch-size", "abc"],
        ["--device", "tpu"],
    ],
)
def test_bad_arguments_are_argparse_errors(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_out_fails_before_training(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    with pytest.raises(SystemExit) as exc:
        main(["--out", str(locked / "run")])
    assert exc.value.code == 2


def test_out_that_is_a_file_fails_before_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(SystemExit) as exc:
        main(["--out", str(blocker / "run")])
    assert exc.value.code == 2
    assert "not writable" in capsys.readouterr().err


def test_module_entry_point_help(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "cvlayers.train", "--help"],
        cwd=tmp_path,  # the installed package, not the checkout's source folder
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0
    assert "--compare" in proc.stdout
    assert "--no-conjugate" in proc.stdout
