"""Timing and reporting shared by every benchmark.

Each case times a candidate against a baseline with ``torch.utils.benchmark``, alternating
short blocks of the two many times, and reports their median times and the median of the
paired ratios: each ratio compares two blocks timed a few milliseconds apart, so that load
from other tenants of a shared machine, which comes and goes over seconds, hits both.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import platform
import statistics
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.utils.benchmark as tb

__all__ = [
    "Case",
    "environment",
    "pin_allocator",
    "print_table",
    "stream_bandwidth",
    "time_case",
    "time_pair",
    "write_json",
]


@dataclass
class Case:
    """One benchmark row: candidate vs baseline, medians in seconds, and the median of the
    paired ratios (candidate / baseline, lower is faster)."""

    bench: str
    name: str
    baseline: str
    candidate_s: float
    baseline_s: float
    ratio: float
    extra: dict[str, Any] = field(default_factory=dict)


def _syncer(device: torch.device | str) -> Callable[[], None]:
    return torch.cuda.synchronize if torch.device(device).type == "cuda" else (lambda: None)


def _timer(fn: Callable[[], object], sync: Callable[[], None]) -> tb.Timer:
    def run() -> None:
        fn()
        sync()

    return tb.Timer("run()", globals={"run": run}, num_threads=torch.get_num_threads())


def _median(fn: Callable[[], object], min_run_time: float, sync: Callable[[], None]) -> float:
    return _timer(fn, sync).blocked_autorange(min_run_time=min_run_time).median


def time_pair(
    candidate: Callable[[], object],
    baseline: Callable[[], object],
    *,
    min_run_time: float,
    rounds: int = 15,
    device: torch.device | str = "cpu",
) -> tuple[float, float, float]:
    """Median times of ``candidate`` and ``baseline`` and the median of their paired ratios,
    over ``rounds`` alternations of blocks of ~``min_run_time / 5`` seconds each (as many
    calls as fit, after a warm-up that sizes them)."""
    sync = _syncer(device)
    timers = [_timer(candidate, sync), _timer(baseline, sync)]
    numbers = []
    for timer in timers:
        per_call = timer.blocked_autorange(min_run_time=min_run_time / 5).median
        numbers.append(max(1, round(min_run_time / 5 / per_call)))
    cand, base = [], []
    for _ in range(rounds):
        base.append(timers[1].timeit(numbers[1]).median)
        cand.append(timers[0].timeit(numbers[0]).median)
    ratios = [c / b for c, b in zip(cand, base, strict=True)]
    return statistics.median(cand), statistics.median(base), statistics.median(ratios)


def time_case(
    bench: str,
    name: str,
    baseline: str,
    candidate_fn: Callable[[], object],
    baseline_fn: Callable[[], object],
    *,
    min_run_time: float,
    device: torch.device | str = "cpu",
    **extra: Any,
) -> Case:
    """A :class:`Case` row from :func:`time_pair` of ``candidate_fn`` against ``baseline_fn``."""
    t_cand, t_base, ratio = time_pair(
        candidate_fn, baseline_fn, min_run_time=min_run_time, device=device
    )
    return Case(bench, name, baseline, t_cand, t_base, ratio, extra)


def stream_bandwidth(nbytes: int, device: torch.device | str = "cpu") -> float:
    """Measured bytes per second (read + write) of the streaming kernel ``mul(src, 1, out=dst)``
    on ``nbytes`` buffers: the practical bound of a memory-bound elementwise op. (``copy_``
    is not used: on CPU it can be a single-threaded memcpy, slower than torch's kernels.)"""
    src = torch.ones(nbytes // 4, dtype=torch.float32, device=device)
    dst = torch.empty_like(src)
    t = _median(lambda: torch.mul(src, 1.0, out=dst), 0.3, _syncer(device))
    return 2 * nbytes / t


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters
_allocator = "default"


def pin_allocator() -> str:
    """Keep freed CPU memory in the process (glibc only; elsewhere a no-op).

    By default glibc serves a large tensor from fresh pages whenever its adaptive mmap and
    trim thresholds say so, which depends on what was allocated before: the same 16 MB
    output then costs ~2,000 page faults (several ms) on some calls and none on others,
    to either side of a comparison. Pinned thresholds reuse freed memory, so a benchmark
    times the kernels rather than the allocator's history. Returns what was done.
    """
    global _allocator
    libc_name = ctypes.util.find_library("c")
    libc = ctypes.CDLL(libc_name) if libc_name else None
    mallopt = getattr(libc, "mallopt", None)
    if mallopt is not None and platform.libc_ver()[0] == "glibc":
        big = 1 << 30
        if mallopt(_M_MMAP_THRESHOLD, big) == 1 and mallopt(_M_TRIM_THRESHOLD, big) == 1:
            _allocator = "glibc, mmap and trim thresholds pinned at 1 GiB"
    return _allocator


def environment() -> dict[str, Any]:
    return {
        "allocator": _allocator,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
        "machine": platform.machine(),
        "processor": platform.processor(),
        "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
    }


def print_table(cases: list[Case]) -> str:
    """A markdown table of the cases (also returned)."""
    lines = [
        "| benchmark | case | baseline | cvlayers (ms) | baseline (ms) | ratio | notes |",
        "|---|---|---|---:|---:|---:|---|",
    ]
    for c in cases:
        notes = ", ".join(f"{k}={v}" for k, v in c.extra.items())
        lines.append(
            f"| {c.bench} | {c.name} | {c.baseline} | {c.candidate_s * 1e3:.3f} | "
            f"{c.baseline_s * 1e3:.3f} | {c.ratio:.3f} | {notes} |"
        )
    table = "\n".join(lines)
    print(table)
    return table


def write_json(path: Path, cases: list[Case], config: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [asdict(c) for c in cases]
    payload = {"environment": environment(), "config": config, "cases": rows}
    path.write_text(json.dumps(payload, indent=2))
