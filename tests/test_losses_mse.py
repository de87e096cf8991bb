"""ComplexMSELoss: values, reductions, gradients, parity with torchcvnn."""

from __future__ import annotations

import functools

import pytest
import torch

from cvlayers.losses import ComplexMSELoss
from cvlayers.losses.functional import complex_mse_loss


def test_values_and_reductions(device: torch.device, dtype: torch.dtype) -> None:
    x = torch.tensor([1 + 1j, 2 + 2j, 0j], dtype=dtype, device=device)
    y = torch.tensor([1 + 2j, 4 + 3j, 3 - 4j], dtype=dtype, device=device)
    per = torch.tensor([1.0, 5.0, 25.0], dtype=x.real.dtype, device=device)
    torch.testing.assert_close(complex_mse_loss(x, y, "none"), per)
    torch.testing.assert_close(complex_mse_loss(x, y, "sum"), per.sum())
    torch.testing.assert_close(ComplexMSELoss()(x, y), per.mean())
    assert not ComplexMSELoss()(x, y).is_complex()


def test_grad_is_twice_the_wirtinger_closed_form(dtype: torch.dtype) -> None:
    x = torch.randn(4, 3, dtype=dtype, requires_grad=True)
    y = torch.randn(4, 3, dtype=dtype)
    complex_mse_loss(x, y).backward()
    # dL/dx* = (x - y) / N; PyTorch stores twice that.
    torch.testing.assert_close(x.grad, 2 * (x - y).detach() / x.numel())


def test_zero_error_has_finite_zero_gradient() -> None:
    x = torch.zeros(3, dtype=torch.complex128, requires_grad=True)
    complex_mse_loss(x, torch.zeros(3, dtype=torch.complex128)).backward()
    assert x.grad is not None and torch.equal(x.grad, torch.zeros_like(x))


def test_real_target_means_zero_imaginary_part() -> None:
    x = torch.tensor([1 + 1j, 2 - 1j])
    assert complex_mse_loss(x, torch.tensor([1.0, 0.0])).item() == pytest.approx((1 + 5) / 2)


def test_matches_real_mse_on_real_valued_complex() -> None:
    x, y = torch.randn(10, dtype=torch.float64), torch.randn(10, dtype=torch.float64)
    torch.testing.assert_close(
        complex_mse_loss(x.to(torch.complex128), y), torch.nn.functional.mse_loss(x, y)
    )


def test_broadcasting_target_warns_like_torch() -> None:
    x = torch.randn(4, 3, dtype=torch.complex64)
    with pytest.warns(UserWarning, match="different to the input size"):
        complex_mse_loss(x, torch.randn(3, dtype=torch.complex64))


def test_bad_inputs_raise() -> None:
    x = torch.randn(4, 3, dtype=torch.complex64)
    with pytest.raises(ValueError, match="does not match input shape"):
        complex_mse_loss(x, torch.randn(5, dtype=torch.complex64))
    with pytest.raises(ValueError, match="reduction must be one of"):
        ComplexMSELoss(reduction="avg")
    with pytest.raises(ValueError, match="reduction must be one of"):
        complex_mse_loss(x, x, "avg")
    with pytest.raises(TypeError, match="input must be a complex tensor"):
        complex_mse_loss(x.real, x.real)
    with pytest.raises(TypeError, match="target must be complex or floating point"):
        complex_mse_loss(x, torch.ones(4, 3, dtype=torch.int64))


def test_gradcheck() -> None:
    x = torch.randn(3, 2, dtype=torch.complex128, requires_grad=True)
    y = torch.randn(3, 2, dtype=torch.complex128, requires_grad=True)
    for reduction in ("mean", "sum", "none"):
        loss = functools.partial(complex_mse_loss, reduction=reduction)
        assert torch.autograd.gradcheck(loss, (x, y))


def test_extra_repr() -> None:
    assert repr(ComplexMSELoss("sum")) == "ComplexMSELoss(reduction='sum')"


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_parity_with_torchcvnn(reduction: str) -> None:
    torchcvnn_nn = pytest.importorskip("torchcvnn.nn")
    x, y = torch.randn(6, 5, dtype=torch.complex64), torch.randn(6, 5, dtype=torch.complex64)
    ref = torchcvnn_nn.ComplexMSELoss(reduction=reduction)(x, y)
    torch.testing.assert_close(ComplexMSELoss(reduction)(x, y), ref)
