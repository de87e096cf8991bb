"""One optimizer step over ~10M complex64 parameters in 100 tensors, each convention,
against torch.optim's foreach implementation in the same process."""

from __future__ import annotations

from collections.abc import Callable

import torch

from cvlayers.optim import SGD, Adam

from ._harness import Case, stream_bandwidth, time_case

CONVENTIONS = [(True, True), (True, False), (False, True), (False, False)]


def make_params(
    quick: bool, device: torch.device, dtype: torch.dtype = torch.complex64
) -> list[torch.nn.Parameter]:
    """50 weights (rows, 199) and 50 biases (rows,): 10.0M elements, or 1/20 of it."""
    rows = 50 if quick else 1000
    gen = torch.Generator().manual_seed(0)
    shapes = [(rows, 199)] * 50 + [(rows,)] * 50
    params = []
    for shape in shapes:
        p = torch.nn.Parameter(torch.randn(shape, dtype=dtype, generator=gen).to(device))
        p.grad = torch.randn(shape, dtype=dtype, generator=gen).to(device)
        params.append(p)
    return params


def _stepper(
    make: Callable[[list[torch.nn.Parameter]], torch.optim.Optimizer],
    params: list[torch.nn.Parameter],
) -> Callable[[], None]:
    opt = make(params)
    opt.step()  # create the state (momentum buffers) outside the timed region
    return lambda: opt.step()


def run(quick: bool = False, device: torch.device | str = "cpu") -> list[Case]:
    device = torch.device(device)
    min_run_time = 0.05 if quick else 0.5
    return _sgd_cases(quick, device, min_run_time) + _adam_cases(quick, device, min_run_time)


def _adam_cases(quick: bool, device: torch.device, min_run_time: float) -> list[Case]:
    ours_params = make_params(quick, device)
    ref_params = make_params(quick, device)
    baseline = _stepper(lambda p: torch.optim.Adam(p, lr=1e-6, foreach=True), ref_params)
    cases = []
    for moment in ("componentwise", "modulus"):
        for conjugate, half in CONVENTIONS:
            candidate = _stepper(
                lambda p, m=moment, c=conjugate, h=half: Adam(
                    p, lr=1e-6, foreach=True, conjugate=c, half=h, moment=m
                ),
                ours_params,
            )
            cases.append(
                time_case(
                    "optim",
                    f"Adam moment={moment} conjugate={conjugate} half={half}",
                    "torch.optim.Adam(foreach=True)",
                    candidate,
                    baseline,
                    min_run_time=min_run_time,
                    device=device,
                    numel=sum(p.numel() for p in ours_params),
                )
            )
    return cases


def _sgd_cases(quick: bool, device: torch.device, min_run_time: float) -> list[Case]:
    cases = []
    for momentum in (0.0, 0.9):
        ours_params = make_params(quick, device)
        ref_params = make_params(quick, device)
        numel = sum(p.numel() for p in ours_params)
        # bytes touched per step: p, g (+ buffer twice when momentum) read, p (+ buf) written
        tensors_moved = 3 if momentum == 0 else 8
        nbytes = tensors_moved * numel * ours_params[0].element_size()
        bandwidth = stream_bandwidth(numel * ours_params[0].element_size(), device)
        baseline = _stepper(
            lambda p, m=momentum: torch.optim.SGD(p, lr=1e-6, momentum=m, foreach=True),
            ref_params,
        )
        for conjugate, half in CONVENTIONS:
            candidate = _stepper(
                lambda p, m=momentum, c=conjugate, h=half: SGD(
                    p, lr=1e-6, momentum=m, foreach=True, conjugate=c, half=h
                ),
                ours_params,
            )
            case = time_case(
                "optim",
                f"SGD momentum={momentum} conjugate={conjugate} half={half}",
                "torch.optim.SGD(foreach=True)",
                candidate,
                baseline,
                min_run_time=min_run_time,
                device=device,
                numel=numel,
                tensors=len(ours_params),
            )
            case.extra["bw_fraction"] = round(nbytes / case.candidate_s / bandwidth, 2)
            cases.append(case)
    return cases
