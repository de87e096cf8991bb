"""cvlayers.testing.check_module: every cvlayers module family passes it, and each property it
checks fails on a module built to break that property."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import Tensor, nn

import cvlayers
from cvlayers.testing import check_module

# One module of each family, with a small input (the gradient check is per element).
FAMILIES: dict[str, tuple[Callable[[], nn.Module], tuple[int, ...]]] = {
    "Linear": (lambda: cvlayers.Linear(3, 2), (2, 3)),
    "Conv1d": (lambda: cvlayers.Conv1d(2, 2, 3, padding=1), (1, 2, 4)),
    "ConvTranspose1d": (lambda: cvlayers.ConvTranspose1d(2, 1, 2, stride=2), (1, 2, 3)),
    "BatchNorm1d": (lambda: cvlayers.BatchNorm1d(2), (4, 2, 2)),
    "LayerNorm": (lambda: cvlayers.LayerNorm(3), (2, 3)),
    "RMSNorm": (lambda: cvlayers.RMSNorm(3), (2, 3)),
    "GroupNorm": (lambda: cvlayers.GroupNorm(1, 2), (2, 2, 2)),
    "ModReLU": (lambda: cvlayers.ModReLU(bias=-0.3), (2, 3)),
    "ModTanh": (cvlayers.ModTanh, (2, 3)),
    "CPReLU": (cvlayers.CPReLU, (2, 3)),
    "CCELU": (lambda: cvlayers.CCELU(0.5), (2, 3)),
    "Cardioid": (cvlayers.Cardioid, (2, 3)),
    "Dropout (training)": (lambda: cvlayers.Dropout(0.5), (2, 3)),
    "AvgPool1d": (lambda: cvlayers.AvgPool1d(2), (1, 2, 4)),
    "Upsample": (lambda: cvlayers.Upsample(scale_factor=2, mode="linear"), (1, 1, 3)),
}


@pytest.mark.parametrize("name", list(FAMILIES))
def test_cvlayers_modules_pass(name: str) -> None:
    make, shape = FAMILIES[name]
    torch.manual_seed(0)
    module = make()
    state = {k: v.clone() for k, v in module.state_dict().items()}
    z = torch.randn(shape, dtype=torch.complex64) + 0.3
    before = torch.get_rng_state()
    check_module(module, z)
    assert torch.equal(torch.get_rng_state(), before)  # the caller's random state is kept
    for key, value in module.state_dict().items():  # copies ran the checks
        torch.testing.assert_close(value, state[key], rtol=0, atol=0)


class _Phase(nn.Module):
    """z/|z| without its limit at 0: NaN there."""

    def forward(self, z: Tensor) -> Tensor:
        return z / z.abs()


class _WrongGradient(torch.autograd.Function):
    """z^2 with the conjugate of PyTorch's gradient (2 conj(z) G is right; this gives 2 z G)."""

    @staticmethod
    def forward(ctx: Any, z: Tensor) -> Tensor:
        ctx.save_for_backward(z)
        return z * z

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        (z,) = ctx.saved_tensors
        return 2 * z * grad


class _Square(nn.Module):
    def forward(self, z: Tensor) -> Tensor:
        out: Tensor = _WrongGradient.apply(z)
        return out


class _CachedScale(nn.Module):
    """State that load_state_dict does not restore (a hook rescales what it loads)."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(2.0))

        def rescale(module: nn.Module, keys: Any) -> None:
            module.scale.data.mul_(3)

        self.register_load_state_dict_post_hook(rescale)

    def forward(self, z: Tensor) -> Tensor:
        return z * self.scale


class _OverflowingGradient(nn.Module):
    """Finite output, infinite gradient (d/dz of z^(1/2) at 0)."""

    def forward(self, z: Tensor) -> Tensor:
        return torch.sqrt(z)


BROKEN: dict[str, tuple[nn.Module, str]] = {
    "NaN at z = 0": (_Phase(), "the output is not finite at z = 0"),
    "infinite gradient at z = 0": (_OverflowingGradient(), "the input gradient is not finite"),
    "wrong backward": (_Square(), "gradcheck failed"),
    "state_dict round trip": (_CachedScale(), r"a copy loaded from state_dict\(\) gives"),
}


@pytest.mark.parametrize("name", list(BROKEN))
def test_each_property_fails_on_a_module_that_breaks_it(name: str) -> None:
    module, message = BROKEN[name]
    with pytest.raises(AssertionError, match=message):
        check_module(module, torch.randn(2, 3, dtype=torch.complex64) + 0.5)


def test_real_input_and_tuple_output_are_type_errors() -> None:
    with pytest.raises(TypeError, match=r"input must be a complex tensor, got torch\.float32"):
        check_module(cvlayers.CReLU(), torch.randn(3))
    z = torch.randn(1, 1, 4, dtype=torch.complex64)
    with pytest.raises(TypeError, match="module must return one tensor, got tuple"):
        check_module(cvlayers.MaxPool1d(2, return_indices=True), z)
