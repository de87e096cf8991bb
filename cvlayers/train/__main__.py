"""``python -m cvlayers.train`` (or ``cvlayers-train``): train a complex network and see what
the gradient convention does to training.

Examples:
    python -m cvlayers.train --compare                 # every convention + torch.optim.SGD
    python -m cvlayers.train --task digits --optimizer adam --no-conjugate
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import torch

from .loop import History, train
from .optimizers import Row, factory, rows
from .tasks import TASKS

DEFAULT_LR = {"sgd": 0.1, "adam": 3e-3}


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative number, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="cvlayers-train",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--task", choices=sorted(TASKS), default="equalizer")
    p.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd")
    p.add_argument("--conjugate", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--half", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument(
        "--lr", type=_non_negative_float, default=None, help="default: sgd 0.1, adam 3e-3"
    )
    p.add_argument("--momentum", type=_non_negative_float, default=0.9, help="SGD only")
    p.add_argument("--epochs", type=_positive_int, default=25)
    p.add_argument("--batch-size", type=_positive_int, default=128)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--out", type=Path, default=Path("runs"), help="output directory")
    p.add_argument("--compare", action="store_true", help="every convention + torch.optim")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


def _device(choice: str, parser: argparse.ArgumentParser) -> torch.device:
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if choice == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: CUDA is not available")
    return torch.device(choice)


def _check_writable(out: Path, parser: argparse.ArgumentParser) -> None:
    """Fail before training, not after, when the results cannot be saved."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as err:
        parser.error(f"--out {out}: not writable ({err.strerror or err})")


def _table(histories: list[History], baseline: dict[str, float], headline: str) -> str:
    keys = sorted({k for h in histories for k in h.metrics} | set(baseline))
    head = f"{'optimizer':<26} {'final train loss':>16} " + " ".join(f"{k:>10}" for k in keys)
    lines = [head, "-" * len(head)]

    def cells(metrics: dict[str, float]) -> str:  # "-": not measured (a NaN is a result)
        return " ".join(f"{metrics[k]:>10.4g}" if k in metrics else f"{'-':>10}" for k in keys)

    for h in histories:
        loss = f"diverged@{len(h.step_loss)}" if h.diverged else f"{h.train_loss[-1]:.5g}"
        lines.append(f"{h.label:<26} {loss:>16} {cells(h.metrics)}")
    if baseline:
        lines.append(f"{'(no training: baseline)':<26} {'':>16} {cells(baseline)}")
    lines.append(f"headline metric: {headline} (held-out set)")
    return "\n".join(lines)


def _write_curves(path: Path, header: tuple[str, str, str], curves: dict[str, list[float]]) -> Path:
    """One row per (curve, 1-based index, value)."""
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for label, values in curves.items():
            writer.writerows([label, i, f"{v:.9g}"] for i, v in enumerate(values, 1))
    return path


def _write(
    out: Path, config: dict[str, object], histories: list[History], task_baseline: dict[str, float]
) -> list[Path]:
    metrics_csv = _write_curves(
        out / "metrics.csv",
        ("optimizer", "epoch", "train_loss"),
        {h.label: h.train_loss for h in histories},
    )
    steps_csv = _write_curves(
        out / "step_losses.csv",
        ("optimizer", "step", "loss"),
        {h.label: h.step_loss for h in histories},
    )
    results = out / "results.json"
    payload = {
        "config": config,
        "baseline": task_baseline,
        "runs": [
            {
                "optimizer": h.label,
                "diverged": h.diverged,
                "metrics": h.metrics,
                "final_train_loss": h.train_loss[-1] if h.train_loss else None,
                "steps": len(h.step_loss),
            }
            for h in histories
        ],
    }
    results.write_text(json.dumps(payload, indent=2, allow_nan=True))
    return [metrics_csv, steps_csv, results]


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    device = _device(args.device, parser)
    _check_writable(args.out, parser)
    lr = DEFAULT_LR[args.optimizer] if args.lr is None else args.lr
    torch.use_deterministic_algorithms(True, warn_only=True)

    started = time.perf_counter()
    task = TASKS[args.task](args.seed, device)
    selected = (
        rows(args.optimizer)
        if args.compare
        else [Row(f"conjugate={args.conjugate}, half={args.half}", args.conjugate, args.half)]
    )
    histories, models = [], []
    for row in selected:
        model, history = train(
            task,
            factory(args.optimizer, row, lr, args.momentum),
            label=row.label,
            epochs=args.epochs,
            batch_size=args.batch_size,
            seed=args.seed,
            quiet=args.quiet,
        )
        histories.append(history)
        models.append(model)

    baseline = task.baseline()
    print(_table(histories, baseline, task.headline))
    if args.compare:
        same = [h.step_loss for h in histories if h.label in ("conj, no half", histories[-1].label)]
        gap = max(abs(a - b) for a, b in zip(*same, strict=True))
        print(f"max |loss difference| between 'conj, no half' and {histories[-1].label}: {gap:.3g}")

    config = {**{k: str(v) for k, v in vars(args).items()}, "lr": lr, "device": str(device)}
    written = _write(args.out, config, histories, baseline)
    from .plots import loss_curves

    curves = args.out / "loss_curves.png"
    loss_curves(histories, f"{args.task}: {args.optimizer}, lr={lr:g}, seed={args.seed}", curves)
    written += [curves, *task.plot_extras(models[0], args.out)]
    print(f"wrote {', '.join(str(p) for p in written)} in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
