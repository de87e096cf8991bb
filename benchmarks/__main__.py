"""``python -m benchmarks [--quick] [--json PATH] [--only NAME ...]``: run every benchmark.

Prints a markdown table of medians and ratios against the baseline measured in the same
process, and writes them (with torch version, thread count and shapes) to JSON.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from . import bench_e2e, bench_layers, bench_losses, bench_optim
from ._harness import Case, environment, pin_allocator, print_table, write_json

BENCHMARKS = {
    "optim": bench_optim.run,
    "layers": bench_layers.run,
    "losses": bench_losses.run,
    "e2e": bench_e2e.run,
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small shapes, short timings")
    parser.add_argument("--only", nargs="+", choices=sorted(BENCHMARKS), default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/latest.json"))
    parser.add_argument("--markdown", type=Path, default=None, help="also write the table")
    args = parser.parse_args(argv)
    pin_allocator()
    env = environment()
    print(f"torch {env['torch']}, {env['threads']} threads, device {args.device}")
    print(f"allocator: {env['allocator']}")
    cases: list[Case] = []
    for name in args.only or list(BENCHMARKS):
        cases.extend(BENCHMARKS[name](quick=args.quick, device=torch.device(args.device)))
    table = print_table(cases)
    write_json(args.json, cases, {"quick": args.quick, "device": args.device})
    if args.markdown is not None:
        args.markdown.write_text(table + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
