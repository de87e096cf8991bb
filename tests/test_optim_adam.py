"""cvlayers.optim.Adam / AdamW against torch.optim, closed forms and symmetry."""

from __future__ import annotations

import copy
import functools
import itertools
import math
from typing import Any

import pytest
import torch

import cvlayers
from cvlayers.losses import ComplexMSELoss
from cvlayers.optim import SGD, Adam, AdamW
from cvlayers.optim.functional import adam
from cvlayers.testing import finite_difference_wirtinger

CONVENTIONS = list(itertools.product([True, False], [True, False]))
CONVENTION_IDS = [f"conj={c},half={h}" for c, h in CONVENTIONS]
SHAPES = [(7, 33), (33,), (5, 3, 3), (4099,), ()]
OPTION_GRID = [
    {"amsgrad": a, "weight_decay": wd, "maximize": mx}
    for a, wd, mx in itertools.product([False, True], [0.0, 0.1], [False, True])
]


def direction(grad: torch.Tensor, conjugate: bool, half: bool) -> torch.Tensor:
    d = grad if conjugate else grad.conj().resolve_conj()
    return d / 2 if half else d.clone()


def identity(grad: torch.Tensor) -> torch.Tensor:
    return grad


def _run(
    opt_cls: Any, kwargs: dict[str, Any], grad_of: Any, dtype: torch.dtype, device: torch.device
) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    real = torch.zeros((), dtype=dtype).real.dtype
    tensors = [torch.randn(s, dtype=dtype, generator=gen) for s in SHAPES]
    tensors.append(torch.randn(5, dtype=real, generator=gen))
    params = [torch.nn.Parameter(t.to(device)) for t in tensors]
    opt = opt_cls(params, **kwargs)
    for _ in range(5):
        for p in params:
            g = torch.randn(p.shape, dtype=p.dtype, generator=gen).to(device)
            p.grad = grad_of(g) if p.is_complex() else g
        opt.step()
    return [p.detach() for p in params]


@pytest.mark.parametrize(
    ("ours", "theirs"), [(Adam, torch.optim.Adam), (AdamW, torch.optim.AdamW)], ids=["Adam", "W"]
)
@pytest.mark.parametrize("foreach", [False, True])
def test_componentwise_conjugate_without_half_is_torch_bit_for_bit(
    device: torch.device, dtype: torch.dtype, ours: Any, theirs: Any, foreach: bool
) -> None:
    for options in OPTION_GRID:
        kw = {"lr": 0.01, "eps": 1e-3, "foreach": foreach, **options}
        mine = _run(ours, {**kw, "conjugate": True, "half": False}, identity, dtype, device)
        ref = _run(theirs, kw, identity, dtype, device)
        for a, b in zip(mine, ref, strict=True):
            assert torch.equal(a, b), options


@pytest.mark.parametrize(("conjugate", "half"), CONVENTIONS, ids=CONVENTION_IDS)
@pytest.mark.parametrize("foreach", [False, True])
def test_every_convention_is_torch_adam_on_its_direction(
    dtype: torch.dtype, conjugate: bool, half: bool, foreach: bool
) -> None:
    """Bit-for-bit when conjugate=True (the 1/2 folds exactly into eps); the conjugated
    first moment is accumulated with mul/add instead of lerp, so within rounding otherwise."""
    device = torch.device("cpu")
    to_d = functools.partial(direction, conjugate=conjugate, half=half)
    for options in OPTION_GRID:
        kw = {"lr": 0.01, "eps": 1e-3, "foreach": foreach, **options}
        mine = _run(Adam, {**kw, "conjugate": conjugate, "half": half}, identity, dtype, device)
        ref = _run(torch.optim.Adam, kw, to_d, dtype, device)
        for a, b in zip(mine, ref, strict=True):
            if conjugate:
                assert torch.equal(a, b), options
            else:
                torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_first_step_closed_forms() -> None:
    """Step 1: m_hat = g, v_hat = g^2 (componentwise) or |g|^2 (modulus)."""
    g = torch.tensor([3 + 4j, -1e-3 + 2j], dtype=torch.complex128)
    lr, eps = 0.1, 1e-2
    expected = {
        "componentwise": -lr
        * torch.complex(g.real / (g.real.abs() + eps), g.imag / (g.imag.abs() + eps)),
        "modulus": -lr * g / (g.abs() + eps),
    }
    for moment, step in expected.items():
        w = torch.nn.Parameter(torch.zeros(2, dtype=torch.complex128))
        w.grad = 2 * g  # PyTorch's gradient; half=True makes d = g
        Adam([w], lr=lr, eps=eps, moment=moment).step()
        torch.testing.assert_close(w.detach(), step, rtol=1e-12, atol=1e-15)


def test_half_only_acts_through_eps() -> None:
    def run(half: bool, eps: float) -> torch.Tensor:
        torch.manual_seed(0)
        model = cvlayers.Linear(4, 3, dtype=torch.complex128)
        opt = Adam(model.parameters(), lr=0.05, eps=eps, half=half)
        x, t = (
            torch.randn(16, 4, dtype=torch.complex128),
            torch.randn(16, 3, dtype=torch.complex128),
        )
        for _ in range(10):
            opt.zero_grad()
            ComplexMSELoss()(model(x), t).backward()
            opt.step()
        return model.weight.detach()

    # Exact: halving d is the same as doubling eps.
    assert torch.equal(run(half=True, eps=1e-3), run(half=False, eps=2e-3))
    # eps << sqrt(v): half makes no visible difference ...
    torch.testing.assert_close(run(True, 1e-12), run(False, 1e-12), rtol=1e-9, atol=1e-12)
    # ... with a large eps it does (so the two assertions above can fail).
    assert (run(True, 1.0) - run(False, 1.0)).abs().max() > 1e-3


def _phase_rotated_run(moment: str, phi: float) -> torch.Tensor:
    """Fit W x = y from W0; rotating W0 and y by e^{i phi} rotates every gradient."""
    gen = torch.Generator().manual_seed(1)
    rot = complex(math.cos(phi), math.sin(phi))
    x = torch.randn(32, 5, dtype=torch.complex128, generator=gen)
    y = torch.randn(32, 3, dtype=torch.complex128, generator=gen) * rot
    w = torch.nn.Parameter(torch.randn(3, 5, dtype=torch.complex128, generator=gen) * rot)
    opt = Adam([w], lr=0.05, moment=moment)
    for _ in range(20):
        opt.zero_grad()
        ComplexMSELoss()(x @ w.T, y).backward()
        opt.step()
    return w.detach()


def test_modulus_moment_is_phase_equivariant() -> None:
    phi = 0.7
    rotated = _phase_rotated_run("modulus", phi)
    reference = _phase_rotated_run("modulus", 0.0) * complex(math.cos(phi), math.sin(phi))
    torch.testing.assert_close(rotated, reference, rtol=1e-10, atol=1e-12)


def test_componentwise_moment_is_not_phase_equivariant() -> None:
    phi = 0.7
    rotated = _phase_rotated_run("componentwise", phi)
    reference = _phase_rotated_run("componentwise", 0.0) * complex(math.cos(phi), math.sin(phi))
    assert (rotated - reference).abs().max() > 1e-3


@pytest.mark.parametrize("moment", ["componentwise", "modulus"])
@pytest.mark.parametrize("foreach", [False, True])
def test_state_dict_round_trip(moment: str, foreach: bool) -> None:
    def make() -> tuple[cvlayers.Linear, Adam]:
        torch.manual_seed(0)
        m = cvlayers.Linear(4, 3)
        return m, Adam(m.parameters(), lr=0.01, amsgrad=True, moment=moment, foreach=foreach)

    x, t = torch.randn(8, 4, dtype=torch.complex64), torch.randn(8, 3, dtype=torch.complex64)

    def step(m: cvlayers.Linear, o: Adam) -> None:
        o.zero_grad()
        ComplexMSELoss()(m(x), t).backward()
        o.step()

    m1, o1 = make()
    for _ in range(3):
        step(m1, o1)
    saved = copy.deepcopy((m1.state_dict(), o1.state_dict()))
    step(m1, o1)
    m2, o2 = make()
    m2.load_state_dict(saved[0])
    o2.load_state_dict(saved[1])
    step(m2, o2)
    for p, q in zip(m1.parameters(), m2.parameters(), strict=True):
        assert torch.equal(p, q)
    v = o1.state[m1.weight]["exp_avg_sq"]
    assert v.is_complex() == (moment == "componentwise")


def test_switching_moment_mode_is_a_clear_error() -> None:
    w = torch.nn.Parameter(torch.randn(3, dtype=torch.complex64))
    opt = Adam([w])
    w.grad = torch.ones(3, dtype=torch.complex64)
    opt.step()
    opt.param_groups[0]["moment"] = "modulus"
    with pytest.raises(ValueError, match="another moment mode"):
        opt.step()


def test_works_with_lr_scheduler() -> None:
    w = torch.nn.Parameter(torch.zeros(1, dtype=torch.complex128))
    opt = Adam([w], lr=1.0, eps=0.0, moment="modulus")
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.5)
    moves = []
    for _ in range(3):
        w.grad = torch.full((1,), 1 + 0j, dtype=torch.complex128)  # constant: m_hat/sqrt(v_hat)=1
        before = w.detach().clone()
        opt.step()
        sched.step()
        moves.append((before - w.detach()).abs().item())
    assert moves == pytest.approx([1.0, 0.5, 0.25], rel=1e-12)


def test_functional_matches_class() -> None:
    p = torch.randn(6, dtype=torch.complex64)
    q = torch.nn.Parameter(p.clone())
    m, v = torch.zeros_like(p), torch.zeros(6)
    step = torch.tensor(0.0)
    opt = Adam([q], lr=0.1, moment="modulus", conjugate=False)
    for _ in range(3):
        g = torch.randn(6, dtype=torch.complex64)
        q.grad = g.clone()
        opt.step()
        adam(
            [p],
            [g],
            [m],
            [v],
            [],
            [step],
            amsgrad=False,
            beta1=0.9,
            beta2=0.999,
            lr=0.1,
            weight_decay=0.0,
            eps=1e-8,
            maximize=False,
            conjugate=False,
            moment="modulus",
        )
    assert torch.equal(p, q.detach())


def test_adamw_defaults_and_decoupling() -> None:
    w = torch.nn.Parameter(torch.ones(2, dtype=torch.complex64))
    opt = AdamW([w], lr=0.1)
    group = opt.param_groups[0]
    assert (group["weight_decay"], group["decoupled_weight_decay"]) == (1e-2, True)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"lr": -1.0}, "Invalid learning rate"),
        ({"lr": float("nan")}, "Invalid learning rate: nan"),
        ({"lr": float("inf")}, "Invalid learning rate: inf"),
        ({"eps": -1e-8}, "Invalid epsilon value"),
        ({"betas": (1.0, 0.999)}, "Invalid beta parameter at index 0"),
        ({"betas": (0.9, -0.1)}, "Invalid beta parameter at index 1"),
        ({"weight_decay": -0.1}, "Invalid weight_decay value"),
        ({"moment": "abs"}, "Invalid moment value"),
        ({"conjugate": None}, "Invalid conjugate value"),
        ({"half": "no"}, "Invalid half value"),
    ],
)
def test_argument_checks(kwargs: dict[str, Any], match: str) -> None:
    w = torch.nn.Parameter(torch.zeros(1, dtype=torch.complex64))
    with pytest.raises(ValueError, match=match):
        Adam([w], **kwargs)


@pytest.mark.parametrize(("conjugate", "half"), CONVENTIONS, ids=CONVENTION_IDS)
@pytest.mark.parametrize("moment", ["componentwise", "modulus"])
def test_matches_finite_difference_directions(conjugate: bool, half: bool, moment: str) -> None:
    """Oracle: the Adam update of the docstring applied to float64 finite-difference
    Wirtinger derivatives (no autograd), written out independently of the optimizer."""
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(6, 3, dtype=torch.complex128, generator=gen)
    t = torch.randn(6, 2, dtype=torch.complex128, generator=gen)
    w0 = torch.randn(2, 3, dtype=torch.complex128, generator=gen)
    lr, eps, (b1, b2) = 0.05, 1e-3, (0.9, 0.999)

    def loss(w: torch.Tensor) -> torch.Tensor:
        out = x @ w.T
        return ((out - t).abs() ** 2).mean() + 0.3 * (out.real * out.imag).mean()

    w, m = w0.clone(), torch.zeros_like(w0)
    v = torch.zeros(w0.shape, dtype=torch.float64) if moment == "modulus" else torch.zeros_like(w0)
    for k in range(1, 4):
        d_dz, d_dzconj = finite_difference_wirtinger(loss, [w])
        d = (d_dzconj[0] if conjugate else d_dz[0]) * (1 if half else 2)
        m = b1 * m + (1 - b1) * d
        if moment == "modulus":
            v = b2 * v + (1 - b2) * d.abs() ** 2
            w = w - lr * (m / (1 - b1**k)) / ((v / (1 - b2**k)).sqrt() + eps)
        else:
            v = b2 * v + (1 - b2) * torch.complex(d.real**2, d.imag**2)
            denom_re = (v.real / (1 - b2**k)).sqrt() + eps
            denom_im = (v.imag / (1 - b2**k)).sqrt() + eps
            m_hat = m / (1 - b1**k)
            w = w - lr * torch.complex(m_hat.real / denom_re, m_hat.imag / denom_im)

    p = torch.nn.Parameter(w0.clone())
    opt = Adam([p], lr=lr, eps=eps, conjugate=conjugate, half=half, moment=moment)
    for _ in range(3):
        opt.zero_grad()
        loss(p).backward()
        opt.step()
    torch.testing.assert_close(p.detach(), w, rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW"])
def test_takes_every_torch_optim_argument(name: str) -> None:
    """torch.optim's signature (names, kinds, defaults) plus the convention options; the
    torch-only modes (fused, differentiable, capturable) raise a ValueError naming them."""
    import inspect

    import cvlayers.optim

    ours = inspect.signature(getattr(cvlayers.optim, name)).parameters
    theirs = inspect.signature(getattr(torch.optim, name)).parameters
    for key, parameter in theirs.items():
        assert key in ours, key
        assert ours[key].kind == parameter.kind, key
        assert repr(ours[key].default) == repr(parameter.default), key
    assert {"conjugate", "half"} <= set(ours) - set(theirs)
    params = [torch.zeros(3, dtype=torch.complex64, requires_grad=True)]
    cls = getattr(cvlayers.optim, name)
    cls(params, fused=None, differentiable=False)  # torch's defaults, passed explicitly
    for mode in ("fused", "differentiable", "capturable"):
        if mode in theirs:
            with pytest.raises(ValueError, match=f"{mode}=True is not supported"):
                cls(params, **{mode: True})


LAZY_CONJ_CASES: list[tuple[Any, dict[str, Any]]] = [
    (SGD, {}),
    (SGD, {"conjugate": False}),
    (SGD, {"conjugate": False, "momentum": 0.9, "weight_decay": 0.1}),
    (Adam, {"moment": "componentwise"}),
    (Adam, {"moment": "modulus"}),
    (Adam, {"conjugate": False, "amsgrad": True}),
    (AdamW, {"moment": "componentwise"}),
    (AdamW, {"moment": "modulus", "conjugate": False}),
]


@pytest.mark.parametrize("foreach", [False, True])
@pytest.mark.parametrize(("optimizer", "kwargs"), LAZY_CONJ_CASES)
def test_lazily_conjugated_grads_step_as_resolved_ones(
    optimizer: Any,
    kwargs: dict[str, Any],
    foreach: bool,
    dtype: torch.dtype,
    device: torch.device,
) -> None:
    """Autograd stores w.grad as a conjugate view after ``w.conj() * x``; every optimizer
    steps as on the resolved gradient, to the bit (Adam and AdamW in every setting and
    ``SGD(conjugate=False)`` raised on the view before, as torch.optim.Adam does)."""
    results = []
    for lazy in (True, False):
        gen = torch.Generator().manual_seed(0)
        w = torch.nn.Parameter(torch.randn(8, dtype=dtype, generator=gen).to(device))
        x = torch.randn(8, dtype=dtype, generator=gen).to(device)
        opt = optimizer([w], lr=0.01, foreach=foreach, **kwargs)
        for _ in range(3):
            opt.zero_grad()
            (w.conj() * x).abs().sum().backward()
            assert w.grad is not None and w.grad.is_conj()
            if not lazy:
                w.grad = w.grad.resolve_conj()
            opt.step()
        results.append(w.detach())
    assert torch.equal(results[0], results[1])
