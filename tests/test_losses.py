"""Every cvlayers loss: real output, reductions, module == function, the documented Wirtinger
gradient (PyTorch's input.grad is twice it), finite-difference agreement, finiteness at 0."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import Tensor

from cvlayers import losses
from cvlayers.losses import functional as LF
from cvlayers.testing import finite_difference_wirtinger

Closed = Callable[[Tensor, Tensor], Tensor]


def _unit(z: Tensor) -> Tensor:
    return z / z.abs()


def _phase_grad(x: Tensor, y: Tensor) -> Tensor:
    c = _unit(y).conj()
    return -y.abs() / (2 * x.abs()) * (c.conj() - (x * c).real * x / x.abs() ** 2)


# name -> (functional, module factory, elementwise Wirtinger gradient dl_n/dx_n*)
LOSSES: dict[str, tuple[Callable[..., Tensor], Callable[..., torch.nn.Module], Closed]] = {
    "mse": (LF.complex_mse_loss, losses.ComplexMSELoss, lambda x, y: x - y),
    "l1": (LF.complex_l1_loss, losses.ComplexL1Loss, lambda x, y: _unit(x - y) / 2),
    "huber": (
        LF.complex_huber_loss,
        losses.ComplexHuberLoss,
        lambda x, y: torch.where((x - y).abs() < 1, (x - y) / 2, _unit(x - y) / 2),
    ),
    "smooth_l1": (
        lambda x, y, r="mean": LF.complex_smooth_l1_loss(x, y, r, beta=0.5),
        lambda r="mean": losses.ComplexSmoothL1Loss(r, beta=0.5),
        lambda x, y: torch.where((x - y).abs() < 0.5, (x - y), _unit(x - y) / 2),
    ),
    "magnitude_mse": (
        LF.magnitude_mse_loss,
        losses.MagnitudeMSELoss,
        lambda x, y: (x.abs() - y.abs()) * _unit(x),
    ),
    "phase": (LF.phase_loss, losses.PhaseLoss, _phase_grad),
}


def _inputs(dtype: torch.dtype, device: torch.device) -> tuple[Tensor, Tensor]:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(4, 5, dtype=dtype, generator=gen).to(device)
    y = torch.randn(4, 5, dtype=dtype, generator=gen).to(device)
    return x, y


@pytest.mark.parametrize("name", list(LOSSES))
def test_grad_is_twice_the_documented_wirtinger_gradient(
    name: str, device: torch.device, dtype: torch.dtype
) -> None:
    fn, _, closed = LOSSES[name]
    x, y = _inputs(dtype, device)
    x.requires_grad_(True)
    for reduction, factor in (("mean", 1 / x.numel()), ("sum", 1.0)):
        x.grad = None
        out = fn(x, y, reduction)
        assert out.dim() == 0
        assert not out.is_complex()
        out.backward()
        expected = 2 * factor * closed(x.detach(), y)
        tol = {"rtol": 1e-4, "atol": 1e-6} if dtype == torch.complex64 else {}
        torch.testing.assert_close(x.grad, expected, **tol)


@pytest.mark.parametrize("name", list(LOSSES))
def test_matches_finite_differences(name: str) -> None:
    fn, _, _ = LOSSES[name]
    x, y = _inputs(torch.complex128, torch.device("cpu"))
    x.requires_grad_(True)
    fn(x, y).backward()
    _, fd = finite_difference_wirtinger(lambda z: fn(z, y), [x])
    torch.testing.assert_close(x.grad, 2 * fd[0], rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name", list(LOSSES))
def test_module_equals_function_and_reductions(name: str) -> None:
    fn, module, _ = LOSSES[name]
    x, y = _inputs(torch.complex64, torch.device("cpu"))
    per_element = fn(x, y, "none")
    assert per_element.shape == x.shape
    assert not per_element.is_complex()
    torch.testing.assert_close(fn(x, y, "sum"), per_element.sum())
    torch.testing.assert_close(module()(x, y), per_element.mean())
    torch.testing.assert_close(module("sum")(x, y), per_element.sum())
    with pytest.raises(ValueError, match="reduction must be one of"):
        module("avg")


@pytest.mark.parametrize("name", list(LOSSES))
def test_finite_at_zero_error_and_zero_modulus(name: str) -> None:
    fn, _, _ = LOSSES[name]
    x = torch.tensor([0j, 1 + 1j, 0j, 2j], dtype=torch.complex128, requires_grad=True)
    y = torch.tensor([0j, 1 + 1j, 1 - 1j, 0j], dtype=torch.complex128)  # e = 0, x = 0, y = 0
    out = fn(x, y)
    out.backward()
    assert torch.isfinite(out)
    assert x.grad is not None
    assert torch.isfinite(torch.view_as_real(x.grad)).all()


@pytest.mark.parametrize("name", list(LOSSES))
def test_gradcheck(name: str) -> None:
    fn, _, _ = LOSSES[name]
    x, y = _inputs(torch.complex128, torch.device("cpu"))
    x = (3 * x).requires_grad_(True)  # away from the Huber / smooth-L1 knees with this seed
    assert torch.autograd.gradcheck(lambda a: fn(a, y, "none"), (x,))


def test_closed_form_values() -> None:
    z = torch.tensor([3 + 4j, 0.5j])
    zero = torch.zeros(2, dtype=torch.complex64)
    assert LF.complex_l1_loss(z, zero).item() == pytest.approx((5 + 0.5) / 2)
    assert LF.complex_huber_loss(z, zero).item() == pytest.approx((4.5 + 0.125) / 2)
    assert LF.complex_smooth_l1_loss(z, zero, beta=0).item() == pytest.approx(2.75)
    assert LF.magnitude_mse_loss(z, torch.tensor([-5j, 0.5])).item() == pytest.approx(0.0)
    assert LF.phase_loss(torch.tensor([1j]), torch.tensor([-2j])).item() == pytest.approx(4.0)
    assert LF.phase_loss(torch.tensor([1j]), torch.tensor([-2j]), weight="none").item() == 2.0


def test_huber_matches_torch_on_the_modulus() -> None:
    x, y = _inputs(torch.complex128, torch.device("cpu"))
    r = (x - y).abs()
    for delta in (0.3, 1.0, 5.0):
        ref = torch.nn.functional.huber_loss(r, torch.zeros_like(r), delta=delta)
        torch.testing.assert_close(LF.complex_huber_loss(x, y, delta=delta), ref)
        ref_l1 = torch.nn.functional.smooth_l1_loss(r, torch.zeros_like(r), beta=delta)
        torch.testing.assert_close(LF.complex_smooth_l1_loss(x, y, beta=delta), ref_l1)


@pytest.mark.parametrize("weight", ["target", "none"])
def test_phase_loss_gradients_match_autograd_of_its_formula(weight: str) -> None:
    """phase_loss's own backward (the documented formula, for the prediction and the target)
    against autograd through the range-safe eager formula, zeros included; and its double
    backward, which differentiates that formula."""
    from cvlayers.losses._phase import _eager_phase_loss

    x, y = _inputs(torch.complex128, torch.device("cpu"))
    x[0, :2], y[1, :2], x[2, 0], y[2, 0] = 0, 0, 0, 0
    grads = []
    for fn in (
        lambda a, b: LF.phase_loss(a, b, "none", weight),
        lambda a, b: _eager_phase_loss(a, b, weight == "target"),
    ):
        a, b = x.clone().requires_grad_(True), y.clone().requires_grad_(True)
        fn(a, b).backward(torch.linspace(0.5, 2, 20, dtype=torch.float64).reshape(4, 5))
        grads.append((a.grad, b.grad))
    torch.testing.assert_close(grads[0], grads[1])
    assert torch.autograd.gradgradcheck(
        lambda a, b: LF.phase_loss(a, b, weight=weight), (3 * x.requires_grad_(True), y + 1)
    )


def test_phase_loss_broadcasts_the_target() -> None:
    x, y = _inputs(torch.complex128, torch.device("cpu"))
    x.requires_grad_(True)
    with pytest.warns(UserWarning, match="different to the input size"):
        loss = LF.phase_loss(x, y[:1])
    loss.backward()
    expected = LF.phase_loss(x.detach(), y[:1].expand(4, 5))
    torch.testing.assert_close(loss, expected)
    assert x.grad is not None and x.grad.shape == x.shape


def test_magnitude_mse_is_phase_blind() -> None:
    x, y = _inputs(torch.complex128, torch.device("cpu"))
    rotated = x * torch.exp(1j * torch.rand(x.shape, dtype=torch.float64))
    torch.testing.assert_close(LF.magnitude_mse_loss(rotated, y), LF.magnitude_mse_loss(x, y))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"delta": 0.0}, ValueError, "delta must be positive"),
        ({"delta": float("nan")}, ValueError, "delta must be positive, got nan"),
        ({"beta": -1.0}, ValueError, "beta must be non-negative"),
        ({"beta": float("nan")}, ValueError, "beta must be non-negative, got nan"),
        ({"weight": "mod"}, ValueError, "weight must be one of"),
    ],
)
def test_option_errors(kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    module = {
        "delta": losses.ComplexHuberLoss,
        "beta": losses.ComplexSmoothL1Loss,
        "weight": losses.PhaseLoss,
    }[next(iter(kwargs))]
    with pytest.raises(error, match=match):
        module(**kwargs)


@pytest.mark.parametrize(
    ("name", "function"),
    [
        ("l1", "complex_l1_loss"),
        ("huber", "complex_huber_loss"),
        ("smooth_l1", "complex_smooth_l1_loss"),
        ("magnitude_mse", "magnitude_mse_loss"),
        ("phase", "phase_loss"),
    ],
)
def test_shape_errors_name_the_loss(name: str, function: str) -> None:
    x = torch.randn(4, 3, dtype=torch.complex64)
    with pytest.raises(ValueError, match=rf"^{function}: target shape \(4, 2\) does not match"):
        LOSSES[name][1]()(x, torch.randn(4, 2, dtype=torch.complex64))


# -- cross-entropy --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("logits", "closed"),
    [
        ("modulus", lambda z, d: d * _unit(z) / 2),
        ("real", lambda z, d: d / 2 + 0j),
        ("squared_modulus", lambda z, d: d * z),
    ],
)
def test_cross_entropy_wirtinger_gradient(logits: str, closed: Callable[..., Tensor]) -> None:
    z = torch.randn(6, 4, dtype=torch.complex128, requires_grad=True)
    target = torch.tensor([0, 3, 1, 1, 2, 0])
    loss = LF.complex_cross_entropy(z, target, logits=logits)
    loss.backward()
    real_logits = {"modulus": z.abs(), "real": z.real, "squared_modulus": z.abs() ** 2}[logits]
    p = torch.softmax(real_logits.detach(), dim=1)
    delta = (p - torch.nn.functional.one_hot(target, 4)) / z.shape[0]
    torch.testing.assert_close(z.grad, 2 * closed(z.detach(), delta))


def test_cross_entropy_equals_torch_on_the_logits() -> None:
    z = torch.randn(5, 3, 2, dtype=torch.complex64)
    target = torch.randint(0, 3, (5, 2))
    weight = torch.tensor([1.0, 2.0, 0.5])
    ours = losses.ComplexCrossEntropyLoss(weight=weight, label_smoothing=0.1)(z, target)
    ref = torch.nn.CrossEntropyLoss(weight=weight, label_smoothing=0.1)(z.abs(), target)
    torch.testing.assert_close(ours, ref)
    custom = LF.complex_cross_entropy(z, target, logits=lambda t: t.imag)
    torch.testing.assert_close(custom, torch.nn.functional.cross_entropy(z.imag, target))


def test_cross_entropy_is_finite_at_zero_features() -> None:
    z = torch.zeros(2, 3, dtype=torch.complex128, requires_grad=True)
    LF.complex_cross_entropy(z, torch.tensor([0, 2])).backward()
    assert z.grad is not None
    assert torch.isfinite(torch.view_as_real(z.grad)).all()


def test_cross_entropy_errors() -> None:
    z = torch.randn(2, 3, dtype=torch.complex64)
    with pytest.raises(TypeError, match="complex tensor of features"):
        LF.complex_cross_entropy(z.real, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="logits must be one of"):
        LF.complex_cross_entropy(z, torch.tensor([0, 1]), logits="angle")
    with pytest.raises(ValueError, match="logits must be one of"):
        losses.ComplexCrossEntropyLoss(logits="angle")
    with pytest.raises(ValueError, match="same shape"):
        LF.complex_cross_entropy(z, torch.tensor([0, 1]), logits=lambda t: t.abs().sum(1))
    with pytest.raises(ValueError, match="label_smoothing"):
        losses.ComplexCrossEntropyLoss(label_smoothing=2.0)
    assert repr(losses.ComplexCrossEntropyLoss(logits="real")) == (
        "ComplexCrossEntropyLoss(reduction='mean', logits='real')"
    )
