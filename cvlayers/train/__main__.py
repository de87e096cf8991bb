"""``python -m cvlayers.train``: compare the gradient conventions on a small complex problem."""

from __future__ import annotations

import argparse

from .compare import compare_conventions


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="cvlayers-train", description=__doc__)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.steps <= 0:
        parser.error("--steps must be positive")
    if args.lr < 0:
        parser.error("--lr must be non-negative")
    rows = compare_conventions(args.steps, args.lr, args.seed)
    width = max(len(r.label) for r in rows)
    print(f"{'optimizer':<{width}}  {'first loss':>10}  {'final loss':>10}")
    for r in rows:
        print(f"{r.label:<{width}}  {r.losses[0]:>10.5f}  {r.losses[-1]:>10.5f}")


if __name__ == "__main__":
    main()
