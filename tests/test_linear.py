"""cvlayers.Linear: forward maths, initialisation statistics, errors, gradcheck."""

from __future__ import annotations

import math

import pytest
import torch

import cvlayers
from cvlayers import functional as CF


def test_forward_equals_real_decomposition(device: torch.device, dtype: torch.dtype) -> None:
    layer = cvlayers.Linear(5, 3, device=device, dtype=dtype)
    with torch.no_grad():
        assert layer.bias is not None
        layer.bias.copy_(torch.randn(3, dtype=dtype))
    x = torch.randn(4, 5, dtype=dtype, device=device)
    w, b = layer.weight, layer.bias
    real = x.real @ w.real.T - x.imag @ w.imag.T + b.real
    imag = x.real @ w.imag.T + x.imag @ w.real.T + b.imag
    tol = {"rtol": 1e-5, "atol": 1e-6} if dtype == torch.complex64 else {}
    torch.testing.assert_close(layer(x), torch.complex(real, imag), **tol)


def test_parameters_follow_factory_kwargs(device: torch.device, dtype: torch.dtype) -> None:
    layer = cvlayers.Linear(2, 3, device=device, dtype=dtype)
    for p in layer.parameters():
        assert (p.device.type, p.dtype) == (device.type, dtype)
    assert layer.weight.shape == (3, 2)
    assert layer.bias is not None and layer.bias.shape == (3,)
    assert cvlayers.Linear(2, 3, bias=False).bias is None


def test_glorot_statistics() -> None:
    torch.manual_seed(0)
    fan_in, fan_out = 400, 600
    w = cvlayers.Linear(fan_in, fan_out, dtype=torch.complex128).weight.detach()
    # E|W|^2 = 2 / (fan_in + fan_out); 240k samples -> relative std error ~ 0.3 %.
    assert math.isclose(w.abs().square().mean().item(), 2 / (fan_in + fan_out), rel_tol=0.02)
    # Circular: zero mean, uniform phase (E e^{i phi} = 0), E W^2 = 0 (no improperness).
    assert w.mean().abs().item() < 0.01 * w.abs().mean().item()
    assert torch.exp(1j * w.angle()).mean().abs().item() < 0.01
    assert (w * w).mean().abs().item() < 0.02 * w.abs().square().mean().item()


def test_square_layer_preserves_power() -> None:
    torch.manual_seed(0)
    layer = cvlayers.Linear(256, 256, bias=False, dtype=torch.complex128)
    x = torch.randn(4096, 256, dtype=torch.complex128)  # E|x|^2 = 1
    assert math.isclose(layer(x).abs().square().mean().item(), 1.0, rel_tol=0.05)


def test_bias_starts_at_zero() -> None:
    bias = cvlayers.Linear(3, 4).bias
    assert bias is not None and torch.count_nonzero(bias) == 0


def test_real_input_raises_a_helpful_type_error() -> None:
    layer = cvlayers.Linear(3, 2)
    with pytest.raises(TypeError, match=r"complex tensor \(torch.complex64\).*\.to\("):
        layer(torch.randn(4, 3))
    with pytest.raises(TypeError, match="complex"):
        layer(torch.ones(4, 3, dtype=torch.int64))


def test_dtype_mismatch_and_shape_errors() -> None:
    layer = cvlayers.Linear(3, 2)
    with pytest.raises(TypeError, match=r"complex128 but this layer is torch.complex64"):
        layer(torch.randn(4, 3, dtype=torch.complex128))
    with pytest.raises(ValueError, match=r"shape \(\*, 3\)"):
        layer(torch.randn(4, 5, dtype=torch.complex64))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"dtype": torch.float32}, "must be a complex dtype"),
        ({"dtype": torch.complex32}, "complex32"),
        ({"in_features": 0}, "in_features must be a positive int"),
        ({"out_features": -1}, "out_features must be a positive int"),
    ],
)
def test_constructor_errors(kwargs: dict[str, object], match: str) -> None:
    args: dict[str, object] = {"in_features": 2, "out_features": 2, **kwargs}
    with pytest.raises(ValueError, match=match):
        cvlayers.Linear(**args)  # type: ignore[arg-type]


def test_extra_repr() -> None:
    assert repr(cvlayers.Linear(3, 2, bias=False)) == (
        "Linear(in_features=3, out_features=2, bias=False, dtype=torch.complex64)"
    )


def test_gradcheck() -> None:
    x = torch.randn(3, 4, dtype=torch.complex128, requires_grad=True)
    w = torch.randn(2, 4, dtype=torch.complex128, requires_grad=True)
    b = torch.randn(2, dtype=torch.complex128, requires_grad=True)
    assert torch.autograd.gradcheck(CF.linear, (x, w, b))


def test_state_dict_round_trip() -> None:
    a, b = cvlayers.Linear(3, 2), cvlayers.Linear(3, 2)
    b.load_state_dict(a.state_dict())
    x = torch.randn(2, 3, dtype=torch.complex64)
    assert torch.equal(a(x), b(x))
