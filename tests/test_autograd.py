"""cvlayers.autograd.wirtinger against conventions.md and finite differences."""

from __future__ import annotations

import pytest
import torch

from cvlayers.autograd import wirtinger
from cvlayers.testing import finite_difference_wirtinger

# Worked example 2 of conventions.md is stated with torch.nn.Linear(...).to(complex64).
pytestmark = pytest.mark.filterwarnings("ignore:Complex modules are a new feature")


def _example_two() -> tuple[torch.nn.Linear, torch.Tensor]:
    torch.manual_seed(2022)
    lin = torch.nn.Linear(2, 2).to(torch.complex64)
    return lin, lin(torch.tensor([[1 + 1j, 2 + 2j]]))


def test_worked_example_two_real_part() -> None:
    lin, out = _example_two()
    c = 2 + 3j
    (c * out).sum().real.backward()
    weight_grad = torch.tensor([[-1 - 5j, -2 - 10j], [-1 - 5j, -2 - 10j]])
    bias_grad = torch.tensor([2 - 3j, 2 - 3j])
    assert lin.weight.grad is not None and lin.bias.grad is not None
    torch.testing.assert_close(lin.weight.grad, weight_grad)
    torch.testing.assert_close(lin.bias.grad, bias_grad)
    lin2, out2 = _example_two()
    d_dz, d_dzconj = wirtinger((c * out2).sum().real, [lin2.weight, lin2.bias])
    torch.testing.assert_close(2 * d_dzconj[0], weight_grad)
    torch.testing.assert_close(2 * d_dzconj[1], bias_grad)
    torch.testing.assert_close(d_dz[0], d_dzconj[0].conj())  # real f: df/dz = conj(df/dz*)


def test_worked_example_two_imaginary_part() -> None:
    lin, out = _example_two()
    (torch.tensor(2 + 3j) * out).sum().imag.backward()
    assert lin.weight.grad is not None and lin.bias.grad is not None
    torch.testing.assert_close(
        lin.weight.grad, torch.tensor([[5 - 1j, 10 - 2j], [5 - 1j, 10 - 2j]])
    )
    torch.testing.assert_close(lin.bias.grad, torch.tensor([3 + 2j, 3 + 2j]))


def test_holomorphic_output() -> None:
    lin, out = _example_two()
    c = 2 + 3j
    x = torch.tensor([1 + 1j, 2 + 2j])
    d_dz, d_dzconj = wirtinger((c * out).sum(), [lin.weight, lin.bias])
    torch.testing.assert_close(d_dzconj[0], torch.zeros(2, 2, dtype=torch.complex64))
    torch.testing.assert_close(d_dzconj[1], torch.zeros(2, dtype=torch.complex64))
    torch.testing.assert_close(d_dz[0], (c * x).expand(2, 2))
    torch.testing.assert_close(d_dz[1], torch.full((2,), c, dtype=torch.complex64))


@pytest.mark.parametrize(
    "fn",
    [
        lambda z: (z.abs() ** 3).sum(),  # real
        lambda z: (z * z.conj() * z).sum(),  # complex, non-holomorphic
        lambda z: (torch.exp(z) * z.real).sum(),  # complex, mixed
    ],
    ids=["real", "z2zbar", "exp-mixed"],
)
def test_matches_finite_differences(fn: object) -> None:
    z = torch.randn(5, dtype=torch.complex128, requires_grad=True)
    d_dz, d_dzconj = wirtinger(fn(z), z)  # type: ignore[operator]
    fd_dz, fd_dzconj = finite_difference_wirtinger(fn, [z])  # type: ignore[arg-type]
    torch.testing.assert_close(d_dz[0], fd_dz[0], rtol=1e-6, atol=1e-8)
    torch.testing.assert_close(d_dzconj[0], fd_dzconj[0], rtol=1e-6, atol=1e-8)


def test_create_graph_allows_second_order() -> None:
    z = torch.tensor(1 + 2j, dtype=torch.complex128, requires_grad=True)
    _, (dzc,) = wirtinger((z * z.conj()).real ** 2, z, create_graph=True)  # 2 |z|^2 z
    _, (d2,) = wirtinger(dzc.real, z)
    fd = finite_difference_wirtinger(lambda w: (2 * (w * w.conj()).real * w).real, [z])[1][0]
    torch.testing.assert_close(d2, fd, rtol=1e-6, atol=1e-8)


def test_unused_input_gets_zeros() -> None:
    a = torch.randn(3, dtype=torch.complex128, requires_grad=True)
    b = torch.randn(2, dtype=torch.complex128, requires_grad=True)
    d_dz, d_dzconj = wirtinger(a.abs().sum(), [a, b])
    assert torch.equal(d_dz[1], torch.zeros(2, dtype=torch.complex128))
    assert torch.equal(d_dzconj[1], torch.zeros(2, dtype=torch.complex128))


def test_errors() -> None:
    z = torch.randn(3, dtype=torch.complex128, requires_grad=True)
    with pytest.raises(ValueError, match="scalar"):
        wirtinger(z.abs(), z)
    with pytest.raises(TypeError, match=r"inputs\[0\] must be a complex tensor"):
        wirtinger(z.abs().sum(), torch.randn(3, requires_grad=True))


def test_oracle_on_closed_form() -> None:
    z = torch.tensor([1 + 2j, -0.5j], dtype=torch.complex128)
    d_dz, d_dzconj = finite_difference_wirtinger(lambda w: (w.abs() ** 2).sum(), [z])
    torch.testing.assert_close(d_dz[0], z.conj(), rtol=1e-8, atol=1e-9)
    torch.testing.assert_close(d_dzconj[0], z, rtol=1e-8, atol=1e-9)
