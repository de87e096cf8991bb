"""Module.to(dtype) keeps each tensor complex or real and takes only the precision."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

import cvlayers


def _model(dtype: torch.dtype = torch.complex64) -> nn.Sequential:
    """Every kind of cvlayers module with parameters or buffers, real and complex."""
    torch.manual_seed(0)
    return nn.Sequential(
        cvlayers.Conv1d(2, 3, 3, padding=1, dtype=dtype),
        cvlayers.BatchNorm1d(3, dtype=dtype),
        cvlayers.ModReLU(3, bias=-0.1, dtype=dtype),  # real parameters of dtype's precision
        cvlayers.CPReLU(3, dtype=dtype),
        cvlayers.GroupNorm(1, 3, dtype=dtype),
        cvlayers.LayerNorm(5, dtype=dtype),
        cvlayers.RMSNorm(5, dtype=dtype),
        cvlayers.Linear(5, 4, dtype=dtype),
    )


@pytest.mark.parametrize("target", [torch.complex128, torch.float64])
def test_to_double_precision_keeps_kinds(target: torch.dtype) -> None:
    model = _model()
    x = torch.randn(6, 2, 5, dtype=torch.complex64)
    model(x)  # a training step's running statistics, converted below too
    kinds = {k: v.is_complex() for k, v in model.state_dict().items()}
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # no "discards the imaginary part"
        warnings.filterwarnings("ignore", "Complex modules are a new feature")
        converted = _model().to(torch.complex64)
        converted.load_state_dict(model.state_dict())
        converted.to(target)
    state = converted.state_dict()
    assert {k: v.is_complex() for k, v in state.items()} == kinds
    for key, value in state.items():
        expected = {True: torch.complex128, False: torch.float64}[value.is_complex()]
        assert value.dtype == (torch.int64 if "num_batches" in key else expected), key
        torch.testing.assert_close(value, model.state_dict()[key].to(value.dtype))
    # The converted model runs in complex128 and agrees with the complex64 one.
    out = converted(x.to(torch.complex128))
    assert out.dtype == torch.complex128
    torch.testing.assert_close(out.to(torch.complex64), model(x), rtol=1e-4, atol=1e-5)
    out.abs().sum().backward()
    assert all(p.grad is not None and p.grad.dtype == p.dtype for p in converted.parameters())


REAL_PARAMETER_MODULES = {
    "ModReLU": lambda **kw: cvlayers.ModReLU(3, bias=-0.1, **kw),
    "CPReLU": lambda **kw: cvlayers.CPReLU(3, init=0.3, **kw),
}


@pytest.mark.parametrize("name", list(REAL_PARAMETER_MODULES))
@pytest.mark.parametrize("dtype", [torch.complex64, torch.complex128])
def test_a_complex_dtype_gives_a_real_parameter_of_its_precision(
    name: str, dtype: torch.dtype
) -> None:
    """``dtype=`` as for the other layers: a complex128 layer gets a float64 parameter, as
    ``dtype=torch.float64`` and ``.to(torch.complex128)`` give. (It was a complex parameter,
    cast to real in forward but stepped as complex by the optimizers' conventions.)"""
    make = REAL_PARAMETER_MODULES[name]
    real = {torch.complex64: torch.float32, torch.complex128: torch.float64}[dtype]
    built, reference = make(dtype=dtype), make(dtype=real)
    (param,) = built.parameters()
    assert param.dtype == real
    torch.testing.assert_close(param, next(reference.parameters()), rtol=0, atol=0)
    x = torch.randn(4, 3, 5, dtype=dtype)
    built(x).abs().sum().backward()
    reference(x).abs().sum().backward()
    assert param.grad is not None and param.grad.dtype == real
    torch.testing.assert_close(param.grad, next(reference.parameters()).grad)


@pytest.mark.parametrize("name", list(REAL_PARAMETER_MODULES))
def test_a_real_parameter_rejects_other_dtypes(name: str) -> None:
    make = REAL_PARAMETER_MODULES[name]
    with pytest.raises(ValueError, match=r"dtype must be torch.float32/float64 .*got torch.int64"):
        make(dtype=torch.int64)
    with pytest.raises(ValueError, match="complex32"):
        make(dtype=torch.complex32)


def test_back_to_single_precision_and_gradients_follow() -> None:
    model = _model(torch.complex128)
    model(torch.randn(6, 2, 5, dtype=torch.complex128)).abs().sum().backward()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Complex modules are a new feature")
        model.to(torch.complex64)
    for p in model.parameters():
        assert p.dtype in (torch.complex64, torch.float32)
        assert p.grad is not None and p.grad.dtype == p.dtype
    assert model(torch.randn(6, 2, 5, dtype=torch.complex64)).dtype == torch.complex64


def test_plain_torch_modules_are_left_to_torch() -> None:
    """Only cvlayers modules change the rule: a torch.nn.Linear beside them converts as
    torch converts it."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Complex modules are a new feature")
        model = nn.Sequential(cvlayers.BatchNorm1d(3), nn.Linear(3, 3)).to(torch.complex128)
    assert model[0].weight.dtype == torch.float64
    assert model[1].weight.dtype == torch.complex128
