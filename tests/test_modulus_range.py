"""The modulus activations over the whole floating-point range, against mpmath.

|z| and z/|z| from sqrt(Re^2 + Im^2) overflow for |z| > ~1e19 in float32 (ModReLU gave NaN,
ModTanh 0) and underflow below ~1e-19 (ModReLU gave b z instead of b z/|z|). Each op is checked
from denormal to huge moduli, on the fused kernels and on the eager maths (the GPU path), in
value and in gradient, against 50-digit closed forms and central differences.
"""

from __future__ import annotations

import cmath
import contextlib
from collections.abc import Callable, Iterator

import mpmath as mp
import pytest
import torch
from torch import Tensor, nn

import cvlayers
import cvlayers.losses as losses
from cvlayers import _native

mp.mp.dps = 50

G_FNS: dict[str, Callable[[mp.mpf], mp.mpf]] = {
    "ModReLU": lambda r: max(r - mp.mpf("0.25"), 0),
    "ModReLU+": lambda r: r + mp.mpf("0.25"),
    "ModTanh": mp.tanh,
    "ModSigmoid": lambda r: 1 / (1 + mp.exp(-r)),
}
MODULES: dict[str, Callable[[], nn.Module]] = {
    "ModReLU": lambda: cvlayers.ModReLU(bias=-0.25),
    "ModReLU+": lambda: cvlayers.ModReLU(bias=0.25),
    "ModTanh": cvlayers.ModTanh,
    "ModSigmoid": cvlayers.ModSigmoid,
    "Cardioid": cvlayers.Cardioid,
}
# Moduli from the smallest denormal up to near the largest number of each precision.
MODULI = {
    torch.complex64: [1e-45, 1e-40, 1e-30, 1e-20, 1e-3, 1.0, 7.5, 1e20, 1e30, 1e38],
    torch.complex128: [5e-324, 1e-310, 1e-200, 1e-160, 1e-3, 1.0, 7.5, 1e160, 1e200, 1e307],
}
# Moduli where the kernels skip their scaling (a block of them all within [2^-50, 2^50] in
# float32, [2^-500, 2^500] in float64), up to its edges.
UNSCALED = {
    torch.complex64: [1e-15, 1e-7, 1e-3, 1.0, 7.5, 1e7, 1e15],
    torch.complex128: [1e-150, 1e-50, 1e-3, 1.0, 7.5, 1e50, 1e150],
}
# Moduli all below 9, where float32 ModTanh takes its sqrt-free path (tanh(r)/r as a function
# of |z|^2), down to the denormals.
BELOW_NINE = {
    torch.complex64: [1e-45, 1e-30, 1e-10, 1e-3, 0.5, 2.0, 8.9],
    torch.complex128: [5e-324, 1e-200, 1e-10, 1e-3, 0.5, 2.0, 8.9],
}
PHASES = [0.0, 0.3, 2.0, -1.1, cmath.pi / 2]


def _points(moduli: list[float], dtype: torch.dtype) -> Tensor:
    values = [cmath.rect(r, phase) for r in moduli for phase in PHASES]
    return torch.tensor(values, dtype=dtype)


def _exact(name: str, w: mp.mpc) -> mp.mpc:
    """The activation at w != 0, in 50 digits."""
    r = abs(w)
    if name == "Cardioid":
        return (1 + w.real / r) / 2 * w
    return G_FNS[name](r) * w / r


def _exact_grad(name: str, w: mp.mpc, g: complex) -> complex:
    """PyTorch's input gradient for upstream g: d/dx + i d/dy of Re(conj(g) f), by central
    differences in 50 digits."""
    step = abs(w) * mp.mpf("1e-20")

    def loss(dx: mp.mpf, dy: mp.mpf) -> mp.mpf:
        f = _exact(name, w + mp.mpc(dx, dy))
        return g.real * f.real + g.imag * f.imag

    d_x = (loss(step, 0) - loss(-step, 0)) / (2 * step)
    d_y = (loss(0, step) - loss(0, -step)) / (2 * step)
    return complex(float(d_x), float(d_y))


@contextlib.contextmanager
def _path(path: str) -> Iterator[None]:
    """The fused kernels (skipped where they were not built) or the eager maths."""
    if path == "native" and not _native.available():
        pytest.skip("kernels not built")
    if path == "eager":
        with _native.eager():
            yield
    else:
        yield


def _check(got: complex, want: complex, tol: float, info: torch.finfo, big: float) -> None:
    """``got`` within ``tol`` of ``want`` relative to |want| (and a few steps of the smallest
    denormal number, the absolute precision there), where |want| <= ``big``; beyond it, +-inf
    or a saturated value, never NaN."""
    assert not (cmath.isnan(got.real) or cmath.isnan(got.imag)), got
    if abs(want) > big:
        return
    assert abs(got - want) <= tol * abs(want) + 4 * info.smallest_normal * info.eps, (got, want)


@pytest.mark.parametrize(
    "moduli", [MODULI, UNSCALED, BELOW_NINE], ids=["whole", "unscaled", "below-nine"]
)
@pytest.mark.parametrize("path", ["native", "eager"])
@pytest.mark.parametrize("name", list(MODULES))
def test_value_and_gradient_over_the_range(
    name: str, path: str, moduli: dict[torch.dtype, list[float]], dtype: torch.dtype
) -> None:
    real = torch.float32 if dtype == torch.complex64 else torch.float64
    info = torch.finfo(real)
    z = _points(moduli[dtype], dtype).requires_grad_(True)
    grad = torch.full_like(z, 0.6 - 0.8j)
    with _path(path):
        out = MODULES[name]().to(real)(z)
        out.backward(grad)
    assert z.grad is not None
    tol = 1e-5 if dtype == torch.complex64 else 1e-12
    for zi, oi, gi in zip(z.detach().tolist(), out.detach().tolist(), z.grad.tolist(), strict=True):
        w = mp.mpc(zi.real, zi.imag)
        # Where |z| is a denormal number, the eager maths divides by a |z| with fewer digits.
        loose = path == "eager" and abs(zi) < info.smallest_normal
        value_tol, grad_tol = (0.3, 0.3) if loose else (tol, 1e3 * tol)
        _check(oi, complex(_exact(name, w)), value_tol, info, info.max)
        _check(gi, _exact_grad(name, w, 0.6 - 0.8j), grad_tol, info, info.max / 4)


# Parts past max/sqrt 2 (and ordinary ones, in the same block): a finite z whose |z| overflows.
PAST_THE_LARGEST = {
    torch.complex64: [3.0e38, -2.5e38, 2.9e38, 0.5, -1.5],
    torch.complex128: [1.7e308, -1.3e308, 1.5e308, 0.5, -1.5],
}


@pytest.mark.parametrize("name", list(MODULES))
def test_kernels_past_the_largest_float(name: str, dtype: torch.dtype) -> None:
    """Where |z| overflows for a finite z, ``torch.abs`` is inf; the kernels take z/|z| from
    the scaled z and ModReLU's output as (1 + b/|z|) z, and so match the 50-digit values and
    gradients (the eager maths gives u = 0 there, and ModReLU NaN: see the README). Parts are
    compared on the scale of the larger one (|f(z)| itself may overflow), gradients on that of
    the Jacobian, ~1 here, times |G| = 1."""
    real = torch.float32 if dtype == torch.complex64 else torch.float64
    parts = PAST_THE_LARGEST[dtype]
    z = torch.tensor([complex(a, b) for a in parts for b in parts], dtype=dtype)
    z.requires_grad_(True)
    with _path("native"):
        out = MODULES[name]().to(real)(z)
        out.backward(torch.full_like(z, 0.6 - 0.8j))
    assert z.grad is not None
    tol = 4 * torch.finfo(real).eps
    for zi, oi, gi in zip(z.detach().tolist(), out.detach().tolist(), z.grad.tolist(), strict=True):
        w = mp.mpc(zi.real, zi.imag)
        # Cardioid's (1 + cos) / 2 z loses digits against z's near the negative axis.
        z_size = max(abs(zi.real), abs(zi.imag)) if name == "Cardioid" else 0.0
        for got, want, scale in (
            (oi, complex(_exact(name, w)), z_size),
            (gi, _exact_grad(name, w, 0.6 - 0.8j), 1.0),
        ):
            size = max(abs(want.real), abs(want.imag), scale)
            assert abs(got.real - want.real) <= tol * size, (zi, got, want)
            assert abs(got.imag - want.imag) <= tol * size, (zi, got, want)


@pytest.mark.parametrize("path", ["native", "eager"])
def test_modulus_over_the_range(path: str, dtype: torch.dtype) -> None:
    """|z| and its backward G z/|z| (``Mod``), where ``torch.sgn`` gives inf and NaN."""
    info = torch.finfo(torch.float32 if dtype == torch.complex64 else torch.float64)
    z = _points(MODULI[dtype], dtype).requires_grad_(True)
    with _path(path):
        r = cvlayers.Mod()(z)
        r.backward(torch.ones_like(r))
    assert z.grad is not None
    tol = 1e-6 if dtype == torch.complex64 else 1e-15
    for zi, ri, gi in zip(z.detach().tolist(), r.tolist(), z.grad.tolist(), strict=True):
        want = abs(mp.mpc(zi.real, zi.imag))
        _check(ri, float(want), tol, info, info.max)
        loose = path == "eager" and float(want) < info.smallest_normal
        _check(gi, complex(mp.mpc(zi.real, zi.imag) / want), 0.3 if loose else tol, info, 2.0)


@pytest.mark.parametrize("name", list(MODULES))
def test_kernels_rescale_only_the_block_that_needs_it(name: str, dtype: torch.dtype) -> None:
    """The kernels work in blocks of 256 elements and redo a block with scaling where one of
    its nonzero moduli is out of the unscaled range: a tiny z in one block, a huge one in
    another, zeros in all three; values and gradients as the eager maths."""
    if not _native.available():
        pytest.skip("kernels not built")
    real = torch.float32 if dtype == torch.complex64 else torch.float64
    z = torch.randn(768, dtype=dtype, generator=torch.Generator().manual_seed(5))
    z[10] = 0  # block 0: a lone 0, which needs no scaling
    z[300], z[400] = 0, MODULI[dtype][1] * (0.6 + 0.8j)  # block 1: x^2 + y^2 underflows to 0
    z[600], z[700] = MODULI[dtype][-2] * 1j, 0  # block 2: x^2 + y^2 overflows
    grad = torch.randn(768, dtype=dtype, generator=torch.Generator().manual_seed(6))
    results = []
    for path in ("native", "eager"):
        x = z.clone().requires_grad_(True)
        module = MODULES[name]().to(real)
        with _path(path):
            module(x).backward(grad)
        assert x.grad is not None
        results.append(torch.cat([module(x).detach(), x.grad]))
    tol = 1e-5 if dtype == torch.complex64 else 1e-12
    torch.testing.assert_close(results[0], results[1], rtol=tol, atol=tol)


# Targets: 0 where the loss is of the error x - y (so that the error spans the range).
LOSSES = {
    "complex_l1_loss": 0j,
    "complex_huber_loss": 0j,
    "magnitude_mse_loss": 0.5 + 0.25j,
    "phase_loss": 0.5 + 0.25j,
}


@pytest.mark.parametrize("name", list(LOSSES))
def test_loss_gradients_over_the_range(name: str) -> None:
    """float32 losses of predictions from denormal to huge, against the same losses in
    float64, where none of these moduli is extreme: equal where float32 can hold the
    gradient, +-inf beyond (|grad| ~ 1/|x| for the phase at a denormal x), never NaN
    (torch.abs's backward gives NaN at a denormal error)."""
    loss_fn = getattr(losses.functional, name)
    x = torch.tensor(
        [1e-40 + 1e-40j, 1e-42j, 1e-25 + 2e-25j, 0.3 - 1j, 1e25 - 3e25j, 0j], dtype=torch.complex64
    )
    target = torch.full_like(x, LOSSES[name])
    grads = []
    for dtype in (torch.complex64, torch.complex128):
        xi = x.to(dtype).detach().requires_grad_(True)
        loss_fn(xi, target.to(dtype), reduction="sum").backward()
        assert xi.grad is not None
        grads.append(torch.view_as_real(xi.grad))
    got, want = grads
    assert not got.isnan().any()
    representable = want.abs() < torch.finfo(torch.float32).max
    torch.testing.assert_close(got[representable].double(), want[representable], rtol=1e-5, atol=0)
    assert torch.equal(got[~representable], want[~representable].sign() * torch.inf)


HUGE_GRADIENT_CASES: dict[str, Callable[[torch.dtype], nn.Module]] = {
    "ModTanh": lambda real: cvlayers.ModTanh(),
    "ModSigmoid": lambda real: cvlayers.ModSigmoid(),
    "ModReLU": lambda real: cvlayers.ModReLU(bias=0.5, dtype=real),
    "ModReLU-negative": lambda real: cvlayers.ModReLU(bias=-0.5, dtype=real),  # z-frame bail-outs
    "ModReLU-huge-bias": lambda real: cvlayers.ModReLU(
        bias=1e25 if real == torch.float32 else 1e160, dtype=real
    ),
}


@pytest.mark.parametrize("name", list(HUGE_GRADIENT_CASES))
def test_huge_upstream_gradient(dtype: torch.dtype, name: str) -> None:
    """A backward whose terms overflow only through a huge upstream gradient G or bias b:
    z Re(conj(z) G) of ModTanh's sqrt-free backward, (g/r) Im(conj(u) G) at a small (but
    unscaled) |z| in every modulus kernel, g/r for a bias beyond 2^20. The kernels do such a
    block over with saturation: same as the eager maths, and never NaN. In complex64 both are
    also held to the same maths in complex128 wherever its gradient fits in float32, within
    16 eps of the Jacobian's scale max(g/r, 1) |G|: a huge g/r times a small Im(conj(u) G)
    (z nearly parallel to G) is ill-conditioned in float32, and the two float32 paths then
    err by ~1e-5 of the result (7e-6 each, in opposite directions, at one element here)."""
    big = 3e38 if dtype == torch.complex64 else 1.7e308
    # One case per block of 256 elements, so that each takes its own way.
    z = torch.randn(600, dtype=dtype, generator=torch.Generator().manual_seed(7))
    grad = torch.randn(600, dtype=dtype, generator=torch.Generator().manual_seed(8))
    z[3], grad[3] = 2.0, complex(big, big)  # Re(conj(z) G) = 2 G overflows; Im z = 0
    z[260] = 1e-12j  # g/r ~ 1e12 (ModReLU: 5e11) in the unscaled range, times G
    grad[260] = complex(1e30, -1e30) if dtype == torch.complex64 else complex(1e300, -1e300)
    z[520] = 1e-14 if dtype == torch.complex64 else 1e-150  # g/r = b/r overflows
    module = HUGE_GRADIENT_CASES[name](
        torch.float64 if dtype == torch.complex128 else torch.float32
    )
    results = []
    for path in ("native", "eager"):
        x = z.clone().requires_grad_(True)
        with _path(path):
            module(x).backward(grad)
        assert x.grad is not None
        assert not torch.isnan(torch.view_as_real(x.grad)).any()
        results.append(x.grad)
    if dtype == torch.complex128:
        torch.testing.assert_close(results[0], results[1], rtol=1e-12, atol=1e-12)
        return
    x = z.to(torch.complex128).requires_grad_(True)
    with _path("eager"):
        out = module.to(torch.float64)(x)
        out.backward(grad.to(torch.complex128))
    assert x.grad is not None
    exact = x.grad
    fits = torch.view_as_real(exact).abs().amax(-1) < torch.finfo(torch.float32).max
    g_over_r = out.detach().abs() / x.detach().abs()
    scale = torch.clamp(g_over_r, min=1) * grad.to(torch.complex128).abs()
    bound = 1e-5 * exact.abs() + 16 * torch.finfo(torch.float32).eps * scale
    for got in results:
        assert ((got.to(exact.dtype) - exact).abs() <= bound)[fits].all()
    torch.testing.assert_close(results[0], results[1], rtol=2e-5, atol=1e-5)
