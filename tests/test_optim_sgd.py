"""cvlayers.optim.SGD against closed forms, finite differences and torch.optim.SGD."""

from __future__ import annotations

import copy
import functools
import itertools
import math
from collections.abc import Callable
from typing import Any

import pytest
import torch

import cvlayers
from cvlayers.losses import ComplexMSELoss
from cvlayers.optim import SGD
from cvlayers.optim.functional import sgd
from cvlayers.testing import finite_difference_wirtinger

CONVENTIONS = list(itertools.product([True, False], [True, False]))
CONVENTION_IDS = [f"conj={c},half={h}" for c, h in CONVENTIONS]


def identity(grad: torch.Tensor) -> torch.Tensor:
    return grad


def direction(grad: torch.Tensor, conjugate: bool, half: bool) -> torch.Tensor:
    """The convention table of conventions.md, written out independently of the optimizer."""
    d = grad if conjugate else grad.conj().resolve_conj()
    return d / 2 if half else d.clone()


# -- worked example 1 of conventions.md ---------------------------------------------------


@pytest.mark.parametrize(
    ("conjugate", "half", "expected"),
    [(True, True, -1j), (True, False, -1 - 2j), (False, True, 1j), (False, False, -1 + 2j)],
)
def test_worked_example_single_weight(
    device: torch.device, conjugate: bool, half: bool, expected: complex
) -> None:
    layer = cvlayers.Linear(1, 1, bias=False, dtype=torch.complex128, device=device)
    with torch.no_grad():
        layer.weight.fill_(1)
    x = torch.tensor([[1 + 1j]], dtype=torch.complex128, device=device)
    y = torch.tensor([[1]], dtype=torch.complex128, device=device)
    yhat = layer(x)
    yhat.retain_grad()
    loss = ComplexMSELoss()(yhat, y)
    loss.backward()
    assert loss.item() == 1.0
    assert yhat.grad is not None and layer.weight.grad is not None
    assert yhat.grad.item() == 2j
    assert layer.weight.grad.item() == 2 + 2j
    SGD(layer.parameters(), lr=1, conjugate=conjugate, half=half).step()
    assert layer.weight.item() == expected


# -- finite-difference oracle ----------------------------------------------------------------


def _random_real_loss(model: cvlayers.Linear, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    out = model(x)
    # Non-holomorphic and not a plain MSE: |out - t|^2 plus a phase-sensitive term.
    return ((out - t).abs() ** 2).mean() + 0.3 * (out.real * out.imag).mean()


@pytest.mark.parametrize(("conjugate", "half"), CONVENTIONS, ids=CONVENTION_IDS)
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_every_convention_matches_finite_differences(
    conjugate: bool, half: bool, momentum: float
) -> None:
    model = cvlayers.Linear(3, 2, dtype=torch.complex128)
    x = torch.randn(5, 3, dtype=torch.complex128)
    t = torch.randn(5, 2, dtype=torch.complex128)
    lr, steps = 0.05, 3
    params = [p.detach().clone() for p in model.parameters()]

    def loss_at(*ps: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            model.weight.copy_(ps[0])
            assert model.bias is not None
            model.bias.copy_(ps[1])
        return _random_real_loss(model, x, t)

    # Oracle: the update of conventions.md applied to float64 finite-difference derivatives.
    expected, bufs = [p.clone() for p in params], [None, None]
    for _ in range(steps):
        d_dz, d_dzconj = finite_difference_wirtinger(loss_at, expected)
        for i, (dz, dzc) in enumerate(zip(d_dz, d_dzconj, strict=True)):
            d = (dzc if conjugate else dz) * (1 if half else 2)
            buf = d if bufs[i] is None or momentum == 0 else momentum * bufs[i] + d
            bufs[i] = buf
            expected[i] = expected[i] - lr * buf

    with torch.no_grad():
        for p, v in zip(model.parameters(), params, strict=True):
            p.copy_(v)
    opt = SGD(model.parameters(), lr=lr, momentum=momentum, conjugate=conjugate, half=half)
    for _ in range(steps):
        opt.zero_grad()
        _random_real_loss(model, x, t).backward()
        opt.step()
    for p, e in zip(model.parameters(), expected, strict=True):
        torch.testing.assert_close(p.detach(), e, rtol=1e-7, atol=1e-8)


# -- bit-exactness against torch.optim.SGD ------------------------------------------------


OPTION_GRID = [
    {"momentum": m, "dampening": dmp, "nesterov": n, "weight_decay": wd, "maximize": mx}
    for m, dmp, n, wd, mx in itertools.product(
        [0.0, 0.9], [0.0, 0.3], [False, True], [0.0, 0.01], [False, True]
    )
    if not (n and (m == 0 or dmp != 0))
]
# Shapes exercise both paths of the conjugate kernel: long rows, tiny tensors, odd sizes
# with no row length (fallback), and 0-d.
SHAPES = [(7, 33), (33,), (5, 3, 3), (4099,), ()]


def p0_real_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.zeros((), dtype=dtype).real.dtype


def _run(
    make_opt: Callable[..., torch.optim.Optimizer],
    kwargs: dict[str, Any],
    grad_of: Callable[[torch.Tensor], torch.Tensor],
    dtype: torch.dtype,
    device: torch.device,
    steps: int = 4,
) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    params = [torch.nn.Parameter(torch.randn(s, dtype=dtype, generator=gen)) for s in SHAPES]
    params.append(torch.nn.Parameter(torch.randn(5, dtype=p0_real_dtype(dtype), generator=gen)))
    params = [torch.nn.Parameter(p.detach().to(device)) for p in params]
    opt = make_opt(params, **kwargs)
    for _ in range(steps):
        for p in params:
            g = torch.randn(p.shape, dtype=p.dtype, generator=gen).to(device)
            p.grad = grad_of(g) if p.is_complex() else g
        opt.step()
    return [p.detach() for p in params]


@pytest.mark.parametrize("foreach", [False, True])
def test_conjugate_without_half_is_torch_sgd_bit_for_bit(
    device: torch.device, dtype: torch.dtype, foreach: bool
) -> None:
    for options in OPTION_GRID:
        kw = {"lr": 0.1, "foreach": foreach, **options}
        ours = _run(SGD, {**kw, "conjugate": True, "half": False}, identity, dtype, device)
        ref = _run(torch.optim.SGD, kw, identity, dtype, device)
        for a, b in zip(ours, ref, strict=True):
            assert torch.equal(a, b), options


@pytest.mark.parametrize(("conjugate", "half"), CONVENTIONS, ids=CONVENTION_IDS)
@pytest.mark.parametrize("foreach", [False, True])
def test_every_convention_is_torch_sgd_on_its_direction(
    device: torch.device, dtype: torch.dtype, conjugate: bool, half: bool, foreach: bool
) -> None:
    """Scaling by 1/2 and conjugating are exact, so the match is bit-for-bit."""
    for options in OPTION_GRID:
        kw = {"lr": 0.1, "foreach": foreach, **options}
        ours = _run(SGD, {**kw, "conjugate": conjugate, "half": half}, identity, dtype, device)
        to_d = functools.partial(direction, conjugate=conjugate, half=half)
        ref = _run(torch.optim.SGD, kw, to_d, dtype, device)
        for a, b in zip(ours, ref, strict=True):
            assert torch.equal(a, b), options


def test_real_parameters_ignore_the_convention(device: torch.device) -> None:
    real = torch.nn.Parameter(torch.randn(4, 3, device=device))
    cplx = torch.nn.Parameter(torch.randn(3, dtype=torch.complex64, device=device))
    ref = torch.nn.Parameter(real.detach().clone())
    ours = SGD([real, cplx], lr=0.1, momentum=0.9, conjugate=False, half=True)
    torch_opt = torch.optim.SGD([ref], lr=0.1, momentum=0.9)
    for _ in range(3):
        g = torch.randn(4, 3, device=device)
        real.grad, ref.grad = g.clone(), g.clone()
        cplx.grad = torch.randn(3, dtype=torch.complex64, device=device)
        ours.step()
        torch_opt.step()
    assert torch.equal(real, ref)


# -- descent ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("conjugate", "loss_goes"), [(True, "down"), (False, "up")])
def test_only_conjugate_descends(conjugate: bool, loss_goes: str) -> None:
    """L = |w - t|^2 at w - t = i: G = dL/dw* = i, Re(G^2) = -1, so conj steps go uphill."""
    t = torch.tensor(0.5 + 0.5j, dtype=torch.complex128)
    w = torch.nn.Parameter(t + 1j)
    opt = SGD([w], lr=0.1, conjugate=conjugate)
    before = (w - t).abs().square()
    before.backward()
    opt.step()
    after = (w.detach() - t).abs().square()
    assert (after < before.detach()) == (loss_goes == "down")
    # Closed form: w - t = i - 0.1 * C(i); |.|^2 = 0.81 (conjugate) or 1.21 (conj(i) = -i).
    assert math.isclose(after.item(), 0.81 if conjugate else 1.21, rel_tol=1e-12)


# -- param groups, state, schedulers, functional ---------------------------------------------


def test_per_group_convention_equals_separate_optimizers() -> None:
    a = torch.nn.Parameter(torch.randn(6, dtype=torch.complex128))
    b = torch.nn.Parameter(torch.randn(6, dtype=torch.complex128))
    a2, b2 = (torch.nn.Parameter(p.detach().clone()) for p in (a, b))
    grouped = SGD(
        [{"params": [a]}, {"params": [b], "conjugate": False, "half": False, "lr": 0.3}],
        lr=0.1,
        momentum=0.5,
    )
    sep = [
        SGD([a2], lr=0.1, momentum=0.5),
        SGD([b2], lr=0.3, momentum=0.5, conjugate=False, half=False),
    ]
    for _ in range(3):
        ga, gb = torch.randn(6, dtype=torch.complex128), torch.randn(6, dtype=torch.complex128)
        a.grad, a2.grad, b.grad, b2.grad = ga, ga.clone(), gb, gb.clone()
        grouped.step()
        for o in sep:
            o.step()
    assert torch.equal(a, a2)
    assert torch.equal(b, b2)


@pytest.mark.parametrize("foreach", [False, True])
def test_state_dict_round_trip_resumes_identically(foreach: bool) -> None:
    def model_and_opt() -> tuple[cvlayers.Linear, SGD]:
        torch.manual_seed(3)
        m = cvlayers.Linear(4, 3)
        return m, SGD(m.parameters(), lr=0.05, momentum=0.9, nesterov=True, foreach=foreach)

    x, t = torch.randn(8, 4, dtype=torch.complex64), torch.randn(8, 3, dtype=torch.complex64)

    def step(m: cvlayers.Linear, o: SGD) -> None:
        o.zero_grad()
        ComplexMSELoss()(m(x), t).backward()
        o.step()

    m1, o1 = model_and_opt()
    for _ in range(3):
        step(m1, o1)
    # deepcopy: state_dict() holds references to the live tensors, as a checkpoint would not.
    saved_model, saved_opt = copy.deepcopy((m1.state_dict(), o1.state_dict()))
    assert saved_opt["param_groups"][0]["conjugate"] is True
    assert saved_opt["param_groups"][0]["half"] is True
    step(m1, o1)

    m2, o2 = model_and_opt()
    m2.load_state_dict(saved_model)
    o2.load_state_dict(saved_opt)
    step(m2, o2)
    for p, q in zip(m1.parameters(), m2.parameters(), strict=True):
        assert torch.equal(p, q)


def test_loading_a_torch_sgd_state_dict_uses_the_defaults() -> None:
    p = torch.nn.Parameter(torch.randn(3, dtype=torch.complex64))
    ref = torch.optim.SGD([p], lr=0.1, momentum=0.9)
    p.grad = torch.randn(3, dtype=torch.complex64)
    ref.step()
    ours = SGD([p], lr=0.5)
    ours.load_state_dict(ref.state_dict())
    group = ours.param_groups[0]
    assert (group["lr"], group["conjugate"], group["half"]) == (0.1, True, True)
    assert torch.equal(ours.state[p]["momentum_buffer"], ref.state[p]["momentum_buffer"])


def test_works_with_lr_scheduler() -> None:
    w = torch.nn.Parameter(torch.ones(1, dtype=torch.complex128))
    opt = SGD([w], lr=1.0)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    for expected_lr in (1.0, 0.5, 0.25):
        assert opt.param_groups[0]["lr"] == expected_lr
        w.grad = torch.full((1,), 2 + 2j, dtype=torch.complex128)
        before = w.detach().clone()
        opt.step()
        sched.step()
        assert torch.equal(w.detach(), before - expected_lr * (1 + 1j))


def test_tensor_lr_equals_float_lr() -> None:
    a = torch.nn.Parameter(torch.randn(4, dtype=torch.complex64))
    b = torch.nn.Parameter(a.detach().clone())
    g = torch.randn(4, dtype=torch.complex64)
    a.grad, b.grad = g, g.clone()
    SGD([a], lr=torch.tensor(0.25), conjugate=False).step()
    SGD([b], lr=0.25, conjugate=False).step()
    assert torch.equal(a, b)


@pytest.mark.parametrize(("conjugate", "half"), CONVENTIONS, ids=CONVENTION_IDS)
def test_functional_sgd_matches_the_class(conjugate: bool, half: bool) -> None:
    p = torch.randn(10, dtype=torch.complex64)
    q = torch.nn.Parameter(p.clone())
    bufs: list[torch.Tensor | None] = [None]
    opt = SGD([q], lr=0.1, momentum=0.9, conjugate=conjugate, half=half)
    for _ in range(3):
        g = torch.randn(10, dtype=torch.complex64)
        q.grad = g.clone()
        opt.step()
        sgd(
            [p],
            [g],
            bufs,
            weight_decay=0.0,
            momentum=0.9,
            lr=0.1,
            dampening=0.0,
            nesterov=False,
            maximize=False,
            conjugate=conjugate,
            half=half,
        )
    assert torch.equal(p, q.detach())


def test_does_not_modify_gradients() -> None:
    p = torch.nn.Parameter(torch.randn(40, dtype=torch.complex64))
    for foreach in (False, True):
        opt = SGD([p], lr=0.1, momentum=0.9, nesterov=True, conjugate=False, foreach=foreach)
        g = torch.randn(40, dtype=torch.complex64)
        p.grad = g.clone()
        opt.step()
        opt.step()
        assert torch.equal(p.grad, g)


def test_parameters_without_grad_are_skipped() -> None:
    a = torch.nn.Parameter(torch.randn(3, dtype=torch.complex64))
    b = torch.nn.Parameter(torch.randn(3, dtype=torch.complex64))
    before = b.detach().clone()
    a.grad = torch.ones(3, dtype=torch.complex64)
    SGD([a, b], lr=0.1, momentum=0.9).step()
    assert torch.equal(b, before)


# -- argument checks ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"lr": -0.1}, "Invalid learning rate"),
        ({"lr": float("nan")}, "Invalid learning rate: nan"),
        ({"lr": torch.tensor(float("nan"))}, "Invalid learning rate"),
        ({"lr": float("inf")}, "Invalid learning rate: inf"),
        ({"lr": torch.tensor([0.1, 0.2])}, "Tensor lr must be 1-element"),
        ({"momentum": -0.5}, "Invalid momentum value"),
        ({"momentum": float("nan")}, "Invalid momentum value"),
        ({"weight_decay": -1e-4}, "Invalid weight_decay value"),
        ({"weight_decay": float("nan")}, "Invalid weight_decay value"),
        ({"nesterov": True}, "Nesterov momentum requires a momentum"),
        ({"nesterov": True, "momentum": 0.9, "dampening": 0.1}, "zero dampening"),
        ({"conjugate": "yes"}, "Invalid conjugate value"),
        ({"half": 1}, "Invalid half value"),
    ],
)
def test_argument_checks(kwargs: dict[str, object], match: str) -> None:
    p = torch.nn.Parameter(torch.zeros(1, dtype=torch.complex64))
    with pytest.raises(ValueError, match=match):
        SGD([p], **kwargs)  # type: ignore[arg-type]


def test_param_group_convention_is_checked() -> None:
    p = torch.nn.Parameter(torch.zeros(1, dtype=torch.complex64))
    q = torch.nn.Parameter(torch.zeros(1, dtype=torch.complex64))
    opt = SGD([p])
    with pytest.raises(ValueError, match="Invalid conjugate value"):
        opt.add_param_group({"params": [q], "conjugate": None})


def test_functional_checks_buffer_count() -> None:
    p = torch.zeros(2, dtype=torch.complex64)
    with pytest.raises(ValueError, match="momentum_buffer_list"):
        sgd(
            [p],
            [p],
            [],
            weight_decay=0.0,
            momentum=0.9,
            lr=0.1,
            dampening=0.0,
            nesterov=False,
            maximize=False,
        )
