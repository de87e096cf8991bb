"""The fused CPU kernels (cvlayers/_ckernels.c) against the eager maths they replace."""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import os
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import Tensor, nn
from torch.nn import functional as F

import cvlayers
from cvlayers import _native
from cvlayers import functional as CF

pytestmark = pytest.mark.skipif(
    not _native.available() and os.environ.get("CVLAYERS_NATIVE") == "0",
    reason="kernels switched off by CVLAYERS_NATIVE=0",
)


def _random_slopes(module: nn.Module) -> nn.Module:
    with torch.no_grad():
        module.weight.uniform_(-0.5, 0.5)
    return module


# Every Function with a kernel, as (module factory, input shape); per-channel ModReLU has a
# bias on dim 1, the functional form one on the last dim.
CASES: dict[str, tuple[Callable[[], nn.Module], tuple[int, ...]]] = {
    "ModReLU": (lambda: cvlayers.ModReLU(bias=-0.3), (4, 3, 50)),
    "ModReLU+": (lambda: cvlayers.ModReLU(bias=0.2), (4, 3, 50)),
    "ModReLU-channels": (lambda: cvlayers.ModReLU(num_features=3, bias=-0.2), (4, 3, 7, 5)),
    "CReLU": (cvlayers.CReLU, (4, 3, 50)),
    "ModTanh": (cvlayers.ModTanh, (4, 3, 50)),
    "ModSigmoid": (cvlayers.ModSigmoid, (4, 3, 50)),
    "CTanh": (cvlayers.CTanh, (4, 3, 50)),
    "CSigmoid": (cvlayers.CSigmoid, (4, 3, 50)),
    "CELU": (lambda: cvlayers.CELU(alpha=0.7), (4, 3, 50)),
    "CCELU": (lambda: cvlayers.CCELU(alpha=0.6), (4, 3, 50)),
    "CGELU": (cvlayers.CGELU, (4, 3, 50)),  # complex64 only: complex128 is eager on both sides
    "Cardioid": (cvlayers.Cardioid, (4, 3, 50)),
    "ZReLU": (cvlayers.ZReLU, (4, 3, 50)),
    "CPReLU": (cvlayers.CPReLU, (4, 3, 50)),
    "CPReLU-channels": (lambda: _random_slopes(cvlayers.CPReLU(num_parameters=3)), (4, 3, 7, 5)),
    "Mod": (cvlayers.Mod, (4, 3, 50)),
}


def test_kernels_are_built() -> None:
    """CI installs with a C compiler, so the fast path must be there (not silently eager)."""
    assert _native.available() and _native.enabled()


def _run(module: nn.Module, z: Tensor, grad_seed: int = 1) -> list[Tensor]:
    """Output, input gradient and parameter gradients for a fixed upstream gradient."""
    z = z.detach().requires_grad_(True)
    for p in module.parameters():
        p.grad = None
    out = module(z)
    grad = torch.randn(
        out.shape, dtype=out.dtype, generator=torch.Generator().manual_seed(grad_seed)
    )
    out.backward(grad)
    assert z.grad is not None
    return [out.detach(), z.grad, *[p.grad for p in module.parameters() if p.grad is not None]]


def _both(module: nn.Module, z: Tensor) -> tuple[list[Tensor], list[Tensor]]:
    fused = _run(module, z)
    with _native.eager():
        eager = _run(module, z)
    return fused, eager


def _real_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if dtype == torch.complex128 else torch.float32


@pytest.mark.parametrize("name", list(CASES))
def test_kernel_matches_eager(name: str, dtype: torch.dtype) -> None:
    factory, shape = CASES[name]
    module = factory().to(_real_dtype(dtype))
    z = torch.randn(shape, dtype=dtype)
    z.view(-1)[:7] = 0  # z = 0 takes each kernel's limit branch
    z.view(-1)[7:11] = torch.tensor([1e-30, -1e-30j, 1e3 + 0j, -1e3j], dtype=dtype)
    fused, eager = _both(module, z)
    assert len(fused) == len(eager) >= 2
    for a, b in zip(fused, eager, strict=True):
        assert torch.isfinite(torch.view_as_real(a) if a.is_complex() else a).all()
        torch.testing.assert_close(
            a, b, rtol=1e-5 if dtype == torch.complex64 else 1e-12, atol=1e-5
        )


MODULUS_CASES = ["ModReLU", "ModReLU+", "ModTanh", "ModSigmoid", "Cardioid", "Mod"]


@pytest.mark.parametrize("name", MODULUS_CASES)
def test_nan_in_either_part_makes_a_function_of_the_modulus_nan(
    name: str, dtype: torch.dtype
) -> None:
    """A NaN real or imaginary part makes |z| NaN, so the whole output and gradient of a
    function of the modulus (and phase) are NaN, as in the eager maths; the other elements of
    the block are unaffected. (The kernels' 1/|z| once mapped a NaN |z| to 1 and gave
    Cardioid(1 + NaN i) = 1 + NaN i.)"""
    factory, _ = CASES[name]
    module = factory().to(_real_dtype(dtype))
    z = torch.randn(300, dtype=dtype, generator=torch.Generator().manual_seed(4))
    z[5], z[6] = complex(float("nan"), 1.0), complex(1.0, float("nan"))
    fused, eager = _both(module, z)
    for a, b in zip(fused, eager, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5, equal_nan=True)
    for a in fused[:2]:  # output and input gradient (a bias gradient sums the NaN in)
        parts = torch.view_as_real(a) if a.is_complex() else a[:, None]
        assert parts[5:7].isnan().all()
        assert not parts[:5].isnan().any() and not parts[7:].isnan().any()


@pytest.mark.parametrize("num_features", [None, 300])
def test_nan_bias_makes_modrelu_nan(num_features: int | None, dtype: torch.dtype) -> None:
    """A NaN bias (a diverged parameter) gives NaN outputs, as torch.relu(r + b) does, not 0:
    the kernels' relu once mapped NaN to 0 and hid it. The bias gradient is torch's relu's,
    which passes the gradient on at a NaN."""
    module = cvlayers.ModReLU(num_features=num_features, bias=-0.2).to(_real_dtype(dtype))
    with torch.no_grad():
        module.bias.view(-1)[-1] = float("nan")
    z = torch.randn(7, 300, dtype=dtype, generator=torch.Generator().manual_seed(5))
    z[0, 0] = 0  # u = 0: still NaN
    fused, eager = _both(module, z)
    for a, b in zip(fused, eager, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5, equal_nan=True)
    out = torch.view_as_real(fused[0])
    if num_features is None:
        assert out.isnan().all()
    else:
        assert out[:, -1].isnan().all() and not out[:, :-1].isnan().any()
    assert not fused[2].isnan().any()


@pytest.mark.parametrize("name", ["ModReLU0", "ModTanh"])
def test_gradient_at_the_smallest_moduli(name: str, dtype: torch.dtype) -> None:
    """Where |z| is a denormal number with a few bits (down to the smallest), g/r comes from
    1/|z| rather than from g of the rounded |z|: ModReLU with b = 0 (f = z) and ModTanh
    (f ~ z) have gradient G to within 1e-6. (It was off by 30 % at 1e-45 (1 + i) in float32;
    the eager maths, which divides by that |z|, still is: its tests allow 0.3 there.)"""
    module = cvlayers.ModReLU() if name == "ModReLU0" else cvlayers.ModTanh()
    smallest = 1.4e-45 if dtype == torch.complex64 else 5e-324  # the smallest denormals
    parts = torch.tensor([1.0, 3.0, 7.0, 100.0, 1000.0], dtype=torch.float64) * smallest
    z = torch.complex(parts, parts.flip(0)).to(dtype).requires_grad_(True)
    grad = torch.full_like(z, 0.6 - 0.8j)
    module.to(_real_dtype(dtype))(z).backward(grad)
    assert z.grad is not None
    torch.testing.assert_close(z.grad, grad, rtol=1e-6, atol=0)


def test_zrelu_of_a_nan_is_nan_in_both_parts(dtype: torch.dtype) -> None:
    """ZReLU outside the first quadrant is z * 0 as PyTorch's complex product gives it: +0
    for finite z (also -1 - 2i), NaN in both parts where either part is NaN; the gradient
    there is 0 (the mask is false). The kernel once gave 0 + NaN i for NaN i."""
    nan = float("nan")
    z = torch.tensor([complex(nan, 1.0), complex(0.0, nan), complex(-1.0, -2.0), 2 + 3j] * 30)
    fused, eager = _both(cvlayers.ZReLU(), z.to(dtype))
    for a, b in zip(fused, eager, strict=True):
        torch.testing.assert_close(a, b, equal_nan=True)
    out, grad = (torch.view_as_real(t).reshape(30, 4, 2) for t in fused)
    assert out[:, :2].isnan().all() and not out[:, 2:].isnan().any()
    assert not torch.signbit(out[:, 2]).any()  # +0, not -0
    assert (grad[:, :3] == 0).all()


def test_zrelu_of_huge_finite_parts_is_zero(dtype: torch.dtype) -> None:
    """Finite parts of one sign whose sum passes the largest float (third quadrant) give 0, as
    the eager product does: the kernel's zero was once (x + y) * 0, NaN there."""
    big = torch.finfo(_real_dtype(dtype)).max * 0.75
    z = torch.tensor(
        [complex(-big, -big), complex(big, -big), complex(-big, big)] * 40, dtype=dtype
    )
    fused, eager = _both(cvlayers.ZReLU(), z)
    for a, b in zip(fused, eager, strict=True):
        assert torch.isfinite(torch.view_as_real(a)).all()
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert (torch.view_as_real(fused[0]) == 0).all()


@pytest.mark.parametrize("name", list(CASES))
def test_kernel_over_parallel_ranges(name: str, dtype: torch.dtype) -> None:
    """Large enough to be split across threads (8 ranges each, taken as they come free):
    ranges and per-range sums agree with eager."""
    factory, _ = CASES[name]
    module = factory().to(_real_dtype(dtype))
    n = 3 * (1 << 15) + 5  # three ranges and a ragged end
    channels = 3 if name.endswith("-channels") else 1
    z = torch.randn(2, channels, n // (2 * channels), 1, dtype=dtype)
    assert _native._parts(3) == 3 * _native._PARTS_PER_THREAD
    _agrees_with_eager_in_threads(module, z, 3)


def _agrees_with_eager_in_threads(module: nn.Module, z: Tensor, threads: int) -> None:
    """Kernels and eager maths agree on ``module(z)`` with ``threads`` threads at work."""
    saved = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        assert _native._threads(z.numel()) == threads
        fused, eager = _both(module, z)
    finally:
        torch.set_num_threads(saved)
    tol = 1e-12 if z.dtype == torch.complex128 else 1e-5
    for a, b in zip(fused, eager, strict=True):
        torch.testing.assert_close(a, b, rtol=tol, atol=tol)


@pytest.mark.parametrize(
    ("shape", "channels_last", "threads"),
    [
        ((7, 300), False, 1),  # a bias per feature after Linear: runs of 1, wrapping mid-block
        ((5, 100), False, 1),
        ((1024, 96), False, 3),  # ranges that start mid-run
        ((4, 6, 5, 7), False, 1),  # runs of 35
        ((4, 6, 5, 7), True, 1),  # channels last: runs of 1 through 6 channels
        ((2, 6, 128, 66), True, 3),
    ],
)
@pytest.mark.parametrize("kind", ["ModReLU", "CPReLU"])
def test_bias_runs_shorter_than_a_block(
    kind: str, shape: tuple[int, ...], channels_last: bool, threads: int, dtype: torch.dtype
) -> None:
    """Blocks of 256 elements that span several channels' runs take each element's bias (or
    slopes), some negative (ModReLU's z-frame blocks), zero or positive (the general way), and
    sum its gradient per channel: as the eager maths."""
    module: nn.Module
    if kind == "ModReLU":
        module = cvlayers.ModReLU(num_features=shape[1])
        parameter = module.bias
    else:
        module = cvlayers.CPReLU(num_parameters=shape[1])
        parameter = module.weight
    module = module.to(_real_dtype(dtype))
    with torch.no_grad():
        parameter.uniform_(-0.8, 0.3)
        parameter[::5] = 0
    z = torch.randn(shape, dtype=dtype)
    if channels_last:
        z = z.to(memory_format=torch.channels_last)
    _agrees_with_eager_in_threads(module, z, threads)


@pytest.mark.skipif(not _native.available(), reason="kernels not built")
@pytest.mark.parametrize("n", [0, 1, 63, 64, 65, 100, 3 * 64 + 5, 1000])
@pytest.mark.parametrize("threads", [1, 2, 3, 5])
def test_ranges_cover_every_element_once(n: int, threads: int) -> None:
    """The kernels' split of [0, n) into ranges (8 per thread) writes every element: |z| into
    a NaN-filled output, for more ranges than elements too (empty ranges)."""
    assert _native._LIB is not None
    z = torch.arange(1, n + 1, dtype=torch.float64) * (1 + 1j)
    out = torch.full((n,), float("nan"), dtype=torch.float64)
    _native._LIB.cv_abs_fwd_f64(n, threads, z.data_ptr(), out.data_ptr())
    torch.testing.assert_close(out, torch.arange(1, n + 1, dtype=torch.float64) * 2**0.5)


def test_per_channel_bias_layout_follows_the_memory() -> None:
    """Channels last, bias[c] applies to runs of one element, cycling through the channels."""
    from cvlayers._modulus import _bias_layout

    z = torch.randn(2, 3, 4, 5, dtype=torch.complex64).to(memory_format=torch.channels_last)
    assert _bias_layout(z, torch.zeros(3, 1, 1)) == (3, 1)
    assert _bias_layout(z, torch.zeros(5)) == (5, 3)


@pytest.mark.parametrize(
    ("bias_shape", "layout"),
    [((), (1, 60)), ((3, 1, 1), (3, 20)), ((5,), (5, 1)), ((1, 4, 1), (4, 5)), ((3, 4, 1), None)],
)
def test_bias_layouts(bias_shape: tuple[int, ...], layout: tuple[int, int] | None) -> None:
    """Scalar, per-channel and last-dim biases take the kernel; a 2-D one the eager maths, and
    both agree with the broadcast formula relu(|z| + b) z/|z|."""
    from cvlayers._modulus import _bias_layout

    z = torch.randn(3, 4, 5, dtype=torch.complex128, requires_grad=True)
    bias = (-0.5 * torch.rand(bias_shape, dtype=torch.float64)).requires_grad_(True)
    assert _bias_layout(z, bias) == layout
    out = CF.modrelu(z, bias)
    r = z.abs()
    torch.testing.assert_close(out, torch.relu(r + bias) / r * z)
    torch.autograd.gradcheck(lambda z, b: CF.modrelu(z, b), (z, bias))


def test_inputs_with_gaps_overlaps_or_lazy_bits_take_the_eager_path() -> None:
    z = torch.randn(6, 8, dtype=torch.complex64)
    for view in (z.conj(), z[:, ::2], z[:, :1].expand(6, 4), z.t()[1:5]):
        assert not _native.usable(view)
        torch.testing.assert_close(CF.cardioid(view), CF.cardioid(view.resolve_conj().contiguous()))


def test_dense_layouts_take_the_kernels() -> None:
    """Any order of the dimensions without gaps: the kernels run over the memory as it lies."""
    z = torch.randn(2, 3, 4, 5, dtype=torch.complex64)
    for view in (
        z.to(memory_format=torch.channels_last),
        z.permute(3, 1, 0, 2),
        z.transpose(-1, -2),
        z[1:],  # an offset
        z[:1].permute(3, 0, 2, 1),  # and a size-1 dimension
        z.view(-1)[:0],
    ):
        assert _native.dense(view) and _native.usable(view)
    assert not _native.dense(z[:, :, ::2])


# Memory layouts of a (4, 3, 6, 5) input (or a real one for Mod's upstream gradient).
LAYOUTS: dict[str, Callable[[Tensor], Tensor]] = {
    "channels_last": lambda t: t.to(memory_format=torch.channels_last),
    "permuted": lambda t: t.permute(2, 0, 3, 1).contiguous().permute(1, 3, 0, 2),
    "transposed": lambda t: t.transpose(0, 3).contiguous().transpose(0, 3),
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("name", list(CASES))
def test_dense_layouts_match_contiguous(
    name: str, layout: str, dtype: torch.dtype, launches: list[str]
) -> None:
    """A channels-last or transposed input takes the kernels, outputs its own layout (as torch's
    elementwise ops do) and gives the contiguous input's results; so do upstream gradients in
    the contiguous layout (view_as_complex's backward makes them so) or expanded from sum()."""
    factory, _ = CASES[name]
    module = factory().to(_real_dtype(dtype))
    z = torch.randn(4, 3, 6, 5, dtype=dtype)
    strided = LAYOUTS[layout](z)
    assert strided.stride() != z.stride() and torch.equal(strided, z)
    expected = _run(module, z)
    launches.clear()
    got = _run(module, strided)
    eager = name == "CGELU" and dtype == torch.complex128  # a float32 kernel only
    assert [f.rpartition("_")[2] for f in launches] == ([] if eager else ["fwd", "bwd"])
    out = module(strided)
    assert out.stride() == strided.stride()
    # The kernels' elementwise results are the same bits (torch's own ops, the eager path, may
    # round otherwise in another layout); parameter gradients sum in another order.
    for i, (a, b) in enumerate(zip(got, expected, strict=True)):
        exact = i < 2 and not eager
        torch.testing.assert_close(a, b, rtol=0 if exact else None, atol=0 if exact else None)
    for upstream in ("contiguous", "expanded"):
        x = strided.detach().requires_grad_(True)
        y = module(x)
        if upstream == "contiguous":
            y.backward(torch.ones(y.shape, dtype=y.dtype))
        else:
            (y.real if y.is_complex() else y).sum().backward()
        reference = z.detach().requires_grad_(True)
        y_ref = module(reference)
        (y_ref.real if y_ref.is_complex() else y_ref).sum().backward()
        if upstream == "contiguous" and y.is_complex():
            reference.grad = None
            module(reference).backward(torch.ones_like(y_ref))
        exact = not eager
        torch.testing.assert_close(
            x.grad, reference.grad, rtol=0 if exact else None, atol=0 if exact else None
        )


@pytest.mark.parametrize("name", [n for n in CASES if CASES[n][1][1:] == (3, 50)])
def test_results_do_not_depend_on_an_elements_position(name: str, dtype: torch.dtype) -> None:
    """An element's output and gradient are the same bits whether a vectorised loop's body or
    its tail (the last n mod 8 or 16) computes it: the kernels of a shorter tensor agree with
    a longer one's on the common prefix. (gcc's basic-block vectorisation of the tails broke
    this by an ulp in the AVX-512 clone, and with it the equality across memory layouts.)"""
    if name == "CGELU" and dtype == torch.complex128:
        pytest.skip("a float32 kernel only: complex128 runs torch's gelu, which rounds its tail")
    factory, _ = CASES[name]
    module = factory().to(_real_dtype(dtype))
    z, grad = torch.randn(2, 64, dtype=dtype)

    def run(n: int) -> tuple[Tensor, Tensor]:
        x = z[:n].clone().requires_grad_(True)
        out = module(x)
        out.backward(grad[:n] if out.is_complex() else grad[:n].real)
        assert x.grad is not None
        return out.detach(), x.grad

    full = run(64)
    for n in (1, 7, 9, 17, 33, 40, 63):
        for got, expected in zip(run(n), full, strict=True):
            torch.testing.assert_close(got, expected[:n], rtol=0, atol=0)


def _ulps(got: Tensor, exact: Tensor) -> Tensor:
    """|got - exact| in units of the float32 spacing at ``exact`` (2^-24 at and above 0.5)."""
    spacing = torch.ldexp(torch.ones_like(exact), torch.frexp(exact.float()).exponent - 24)
    return (got.double() - exact).abs() / spacing.double()


def test_float32_tanh_is_within_seven_ulp() -> None:
    """The float32 kernels' rational tanh (CTanh, and ModTanh's modulus) on a dense grid over
    [-10, 10], the tiny values and the saturation point: within 7 ulp of double tanh (5.4
    measured over every float32 with FMA, 6.3 without), 1 from 9.02 on, odd, NaN kept."""
    x = torch.cat(
        [
            torch.linspace(-10, 10, 1 << 20, dtype=torch.float64),
            torch.logspace(-40, 0, 4001, dtype=torch.float64),
            torch.linspace(8.9, 9.1, 4001, dtype=torch.float64),
        ]
    ).float()
    exact = torch.tanh(x.double())
    out = torch.view_as_real(cvlayers.CTanh()(torch.complex(x, -x)))
    assert _ulps(out[:, 0], exact).max() <= 7
    assert torch.equal(out[:, 1], -out[:, 0])
    assert torch.equal(out[x >= 9.02, 0], torch.ones_like(x[x >= 9.02]))
    r = x[x > 1e-15]  # ModTanh on z = r > 0 is tanh(r), through g(r) z/r
    assert _ulps(cvlayers.ModTanh()(r.to(torch.complex64)).real, torch.tanh(r.double())).max() <= 8
    nan = cvlayers.CTanh()(torch.tensor([complex(float("nan"), 0.0)], dtype=torch.complex64))
    assert torch.isnan(nan.real).all() and nan.imag.item() == 0


def test_csigmoid_keeps_relative_accuracy_in_the_tail(dtype: torch.dtype) -> None:
    """CSigmoid's kernel takes e^(-|t|) (no overflow) and e / (1 + e) below 0: relative error
    within 3 eps of torch's float64 sigmoid (1.4 and 2.0 measured) from t = -100 (float32
    denormals excluded) to 40, where 0.5 + 0.5 tanh(t/2) would lose all digits; its gradient
    is G (1 - out) out from the saved output."""
    t = torch.linspace(-100, 40, 100001, dtype=torch.float64)
    z = torch.complex(t, -t).to(dtype).requires_grad_(True)
    out = cvlayers.CSigmoid()(z)
    out.backward(torch.ones_like(out))
    exact = torch.sigmoid(torch.view_as_real(z.detach()).to(torch.float64))
    got = torch.view_as_real(out.detach())
    normal = exact > torch.finfo(got.dtype).tiny
    eps = torch.finfo(got.dtype).eps
    assert ((got.double() - exact).abs() / exact)[normal].max() <= 3 * eps
    s = got.double()
    expected = torch.view_as_real(torch.ones_like(out)).double() * (1 - s) * s
    torch.testing.assert_close(torch.view_as_real(z.grad).double(), expected, rtol=4 * eps, atol=0)


def test_float32_modsigmoid_is_within_four_ulp() -> None:
    """ModSigmoid's float32 kernel takes tanh(r/2) from |z|^2 (cv_sigmoid_f32): on moduli
    from 1e-6 to 50 (across the rational's saturation at r = 18.04) and any phase, |output| is
    within 4 ulp of double sigmoid(r) (2.8 measured; 3.4 with tanh taken after the sqrt) and
    the phase is kept."""
    r = torch.cat(
        [
            torch.logspace(-6, 1.7, 20001, dtype=torch.float64),
            torch.linspace(17.9, 18.2, 3001, dtype=torch.float64),
        ]
    )
    phase = 6.28 * torch.rand(r.shape, generator=torch.Generator().manual_seed(0))
    z = torch.polar(r.float(), phase)
    out = cvlayers.ModSigmoid()(z)
    exact = torch.sigmoid(z.to(torch.complex128).abs())  # of the float32 input's own modulus
    assert _ulps(out.to(torch.complex128).abs(), exact).max() <= 4
    torch.testing.assert_close(out / out.abs(), z / z.abs(), rtol=4e-7, atol=4e-7)


def test_float32_modsigmoid_gradient_in_the_z_frame() -> None:
    """Below |z| = 6 ModSigmoid's float32 backward works in the z frame (tangential part
    i z Im(conj(z) G)/(2 r^3), radial from the tanh rational): within 8 eps of the exact
    gradient of the float32 input, scaled by the Jacobian's largest entry
    max(sigma'(r), sigma(r)/r) |G| (4.5 measured; the eager float32 maths 2.9), for moduli
    from 1e-5 to 5.9 and across 6."""
    r = torch.cat([torch.logspace(-5, 0.77, 1 << 16), torch.linspace(5.9, 6.1, 4096)])
    phase = 6.28 * torch.rand(r.shape, generator=torch.Generator().manual_seed(1))
    z = torch.polar(r, phase).requires_grad_(True)
    grad = torch.randn(r.shape, dtype=torch.complex64, generator=torch.Generator().manual_seed(2))
    cvlayers.ModSigmoid()(z).backward(grad)
    assert z.grad is not None
    z64 = z.detach().to(torch.complex128).requires_grad_(True)
    with _native.eager():
        cvlayers.ModSigmoid()(z64).backward(grad.to(torch.complex128))
    assert z64.grad is not None
    r64 = z64.detach().abs()
    scale = torch.maximum(torch.sigmoid(r64) / r64, torch.full_like(r64, 0.25)) * grad.abs()
    error = (z.grad.to(torch.complex128) - z64.grad).abs() / scale
    assert error.max() <= 8 * torch.finfo(torch.float32).eps


def test_elu_exp_is_within_one_ulp(dtype: torch.dtype) -> None:
    """CELU's own e^t - 1 (forward) and e^t (backward) over [-110, 5] in float32, [-750, 5]
    in float64 (into the denormals and past where e^t rounds to 0), and near 0: within 1 and
    1.5 ulp of torch's float64 expm1 / exp (0.94 and 1.04 measured in float32; 0.93 and 1.00
    in a build without FMA)."""
    real = _real_dtype(dtype)
    info = torch.finfo(real)
    lowest, smallest = (-110.0, -40.0) if dtype == torch.complex64 else (-750.0, -300.0)
    t = torch.cat(
        [
            torch.linspace(lowest, 5, 1 << 20, dtype=torch.float64),
            -torch.logspace(smallest, 0, 4001, dtype=torch.float64),
        ]
    ).to(real)
    z = torch.complex(t, -t.abs()).requires_grad_(True)
    out = cvlayers.CELU()(z)
    out.backward(torch.ones_like(out))
    assert z.grad is not None
    exact_t = t.double()
    mantissa = 24 if dtype == torch.complex64 else 53

    def ulps(got: Tensor, exact: Tensor) -> Tensor:
        exponent = torch.frexp(exact.to(real)).exponent.double()
        spacing = torch.clamp(torch.exp2(exponent - mantissa), min=info.tiny * info.eps)
        return (got.double() - exact).abs() / spacing

    assert ulps(out.real, torch.where(exact_t > 0, exact_t, torch.expm1(exact_t))).max() <= 1
    assert ulps(z.grad.real, torch.where(exact_t > 0, 1.0, torch.exp(exact_t))).max() <= 1.5


def test_exp_kernels_beyond_the_overflow_bound(dtype: torch.dtype) -> None:
    """CSigmoid and CELU take e^x without a clamp at its overflow bound where x <= 0 is all
    they need; past the bound (the exponent bits wrap there, and the select must drop them),
    at +-inf and at NaN, output and gradient equal torch's sigmoid and elu."""
    info = torch.finfo(_real_dtype(dtype))
    values = [100.0, 800.0, 1e30, info.max, float("inf"), float("nan"), 0.0, -0.0]
    t = torch.tensor(values + [-v for v in values], dtype=_real_dtype(dtype))
    z = torch.complex(t, t.flip(0)).requires_grad_(True)
    real = torch.view_as_real(z.detach()).requires_grad_(True)
    references = [
        (cvlayers.CSigmoid(), torch.sigmoid),
        (cvlayers.CELU(), F.elu),
        (cvlayers.CCELU(0.5), lambda x: F.celu(x, 0.5)),
    ]
    for module, reference in references:
        z.grad = real.grad = None
        out = module(z)
        out.backward(torch.full_like(out, 1 - 2j))
        expected = reference(real)
        expected.backward(torch.view_as_real(torch.full_like(out, 1 - 2j)))
        assert z.grad is not None and real.grad is not None
        torch.testing.assert_close(torch.view_as_real(out.detach()), expected, equal_nan=True)
        torch.testing.assert_close(torch.view_as_real(z.grad), real.grad, equal_nan=True)


def test_abs_neither_overflows_nor_underflows(dtype: torch.dtype) -> None:
    big = 1e200 if dtype == torch.complex128 else 1e30
    tiny = 1e-200 if dtype == torch.complex128 else 1e-30
    z = torch.tensor([big + big * 1j, tiny - tiny * 1j, 3 + 4j, 0j], dtype=dtype)
    z.requires_grad_(True)
    out = CF.mod(z)
    torch.testing.assert_close(out, torch.abs(z.detach()))
    out.sum().backward()
    assert z.grad is not None
    torch.testing.assert_close(z.grad, torch.sgn(z.detach()))


def test_float32_gelu_is_within_three_eps() -> None:
    """CGELU's complex64 kernel (rationals for Phi and for the derivative, no exponential)
    against double GELU on [-8, 8] and past its cut-off at |t| = 6.5: output within 3 eps
    max(|t|, 1) (1.7 measured; torch's float gelu 1.4), derivative within 3 eps (2.0; torch
    2.4); 0 or t beyond, with
    gradient 0 or 1 (also at +-inf); NaN propagates."""
    t = torch.cat([torch.linspace(-8, 8, 1 << 20, dtype=torch.float64), torch.tensor([1e30])])
    z = torch.complex(t, -t).to(torch.complex64).requires_grad_(True)
    out = cvlayers.CGELU()(z)
    out.backward(torch.full_like(out, 1 + 1j))
    assert z.grad is not None
    x = torch.view_as_real(z.detach()).double()
    cdf = 0.5 * torch.special.erfc(-x / 2**0.5)
    pdf = torch.exp(-x * x / 2) / (2 * torch.pi) ** 0.5
    eps = torch.finfo(torch.float32).eps
    got = torch.view_as_real(out.detach()).double()
    assert ((got - x * cdf).abs() / x.abs().clamp(min=1)).max() <= 3 * eps
    assert (torch.view_as_real(z.grad).double() - (cdf + x * pdf)).abs().max() <= 3 * eps
    special = torch.tensor([float("inf"), -float("inf"), float("nan"), -1e30], dtype=torch.float32)
    w = torch.complex(special, special.flip(0)).requires_grad_(True)
    cvlayers.CGELU()(w).backward(torch.full((4,), 1 + 1j))
    assert w.grad is not None
    nan = float("nan")
    expected_grad = torch.tensor([1.0, 0.0, nan, 0.0])
    torch.testing.assert_close(torch.view_as_real(w.grad)[:, 0], expected_grad, equal_nan=True)
    torch.testing.assert_close(
        torch.view_as_real(w.grad)[:, 1], expected_grad.flip(0), equal_nan=True
    )
    torch.testing.assert_close(
        cvlayers.CGELU()(w.detach()).real,
        torch.tensor([float("inf"), nan, nan, -0.0]),
        equal_nan=True,
    )


def test_double_backward_uses_the_differentiable_eager_path() -> None:
    z = torch.randn(4, 5, dtype=torch.complex128, requires_grad=True)
    bias = torch.tensor(-0.2, dtype=torch.float64, requires_grad=True)
    torch.autograd.gradgradcheck(lambda z, b: CF.modrelu(z, b), (z, bias))
    for fn in (CF.cardioid, CF.mod, CF.mod_tanh, CF.mod_sigmoid, CF.ctanh, CF.csigmoid, CF.zrelu):
        torch.autograd.gradgradcheck(fn, (z,))
    for fn in (CF.crelu, CF.cgelu, lambda t: CF.celu(t, 0.7)):
        torch.autograd.gradgradcheck(fn, (z,))
    for slopes in ([0.3, -0.2], [[0.3, -0.2]] * 4):  # shared, per channel (dim 1 of z.T)
        weight = torch.tensor(slopes, dtype=torch.float64, requires_grad=True)
        torch.autograd.gradgradcheck(CF.cprelu, (z.T, weight))
    # complex64 kernels: the second backward is torch's, through the eager first one.
    x = torch.randn(5, dtype=torch.complex64, requires_grad=True)
    (grad,) = torch.autograd.grad(CF.cgelu(x).abs().sum(), x, create_graph=True)
    (again,) = torch.autograd.grad(grad.abs().sum(), x)
    with _native.eager():
        (grad_eager,) = torch.autograd.grad(CF.cgelu(x).abs().sum(), x, create_graph=True)
        (again_eager,) = torch.autograd.grad(grad_eager.abs().sum(), x)
    torch.testing.assert_close(again, again_eager)


@pytest.mark.parametrize("name", list(CASES))
def test_lazily_conjugated_upstream_gradient(name: str, dtype: torch.dtype) -> None:
    """``out.conj()`` downstream hands the backward a conjugate-bit gradient."""
    factory, shape = CASES[name]
    module = factory().to(_real_dtype(dtype))
    z = torch.randn(shape, dtype=dtype)
    results = []
    for on in (True, False):
        _native.enabled(on)
        try:
            x = z.clone().requires_grad_(True)
            out = module(x)
            (out.conj() * (1 + 2j) if out.is_complex() else out).real.sum().backward()
            results.append(x.grad)
        finally:
            _native.enabled(True)
    torch.testing.assert_close(results[0], results[1])


def test_switch_off_gives_the_eager_maths() -> None:
    z = torch.randn(10, dtype=torch.complex64)
    with _native.eager():
        assert not _native.usable(z)
    assert _native.usable(z)


@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("conjugate", [True, False])
@pytest.mark.parametrize(("moment", "weight_decay"), [("modulus", 0.1), ("componentwise", 0.0)])
def test_adam_kernels_match_foreach(
    dtype: torch.dtype, amsgrad: bool, conjugate: bool, moment: str, weight_decay: float
) -> None:
    """The fused Adam passes (modulus moment; componentwise on a conjugated gradient) against
    the foreach ops they replace, over five steps, within a few ulp."""
    from cvlayers.optim import Adam

    runs = []
    for on in (True, False):
        _native.enabled(on)
        try:
            gen = torch.Generator().manual_seed(0)
            params = [
                nn.Parameter(torch.randn(shape, dtype=dtype, generator=gen))
                for shape in [(300, 7), (5,)]
            ]
            opt = Adam(
                params,
                lr=0.01,
                moment=moment,
                amsgrad=amsgrad,
                conjugate=conjugate,
                half=True,
                weight_decay=weight_decay,
            )
            for _ in range(5):
                for p in params:
                    p.grad = torch.randn(p.shape, dtype=dtype, generator=gen)
                opt.step()
            state = opt.state[params[0]]
            keys = ["exp_avg", "exp_avg_sq"] + (["max_exp_avg_sq"] if amsgrad else [])
            runs.append([p.detach() for p in params] + [state[k] for k in keys])
        finally:
            _native.enabled(True)
    eps = torch.finfo(_real_dtype(dtype)).eps
    for fused, eager in zip(*runs, strict=True):
        torch.testing.assert_close(fused, eager, rtol=8 * eps, atol=8 * eps)


@pytest.mark.parametrize("moment", ["modulus", "componentwise"])
@pytest.mark.parametrize("grad_layout", ["channels_last", "contiguous"])
def test_adam_kernels_on_a_channels_last_parameter(
    moment: str, grad_layout: str, launches: list[str]
) -> None:
    """A channels-last parameter (``model.to(memory_format=torch.channels_last)``) takes the
    fused step where its gradient lies as it does (autograd's layout contract), and the
    foreach ops where it does not (a gradient set by hand, a state loaded from a contiguous
    model): the kernel reads element i of each tensor together, and once paired a contiguous
    gradient with a channels-last parameter (0.57 off after two steps)."""
    from cvlayers.optim import Adam

    gen = torch.Generator().manual_seed(0)
    start = torch.randn(4, 3, 5, 6, dtype=torch.complex64, generator=gen)
    grads = [torch.randn(start.shape, dtype=start.dtype, generator=gen) for _ in range(3)]
    formats = {"contiguous": torch.contiguous_format, "channels_last": torch.channels_last}
    results = []
    for layout in ("contiguous", "channels_last"):
        p = nn.Parameter(start.clone(memory_format=formats[layout]))
        opt = Adam([p], lr=0.1, conjugate=False, moment=moment)
        for g in grads:
            as_given = grad_layout if layout == "channels_last" else "contiguous"
            p.grad = g.contiguous(memory_format=formats[as_given])
            opt.step()
        results.append(p.detach())
    torch.testing.assert_close(results[1], results[0], rtol=1e-6, atol=1e-6)
    assert results[1].is_contiguous(memory_format=torch.channels_last)
    assert len(launches) == (6 if grad_layout == "channels_last" else 3)


def _cardioid_in_child(queue: Any) -> None:
    z = torch.randn(
        4 * (1 << 15), dtype=torch.complex64, generator=torch.Generator().manual_seed(3)
    )
    queue.put(torch.view_as_real(CF.cardioid(z)).numpy().copy())  # by value, not shared memory


def test_kernels_run_in_a_forked_child() -> None:
    """GNU OpenMP hangs in a child forked after the parent used its threads (DataLoader
    workers fork after the parent has run the kernels): there the kernels run in one thread."""
    z = torch.randn(
        4 * (1 << 15), dtype=torch.complex64, generator=torch.Generator().manual_seed(3)
    )
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        expected = CF.cardioid(z)  # the parent runs an OpenMP parallel region
        ctx = multiprocessing.get_context("fork")
        queue = ctx.Queue()
        child = ctx.Process(target=_cardioid_in_child, args=(queue,), daemon=True)
        child.start()
        result = queue.get(timeout=60)
        child.join(timeout=60)
    finally:
        torch.set_num_threads(threads)
    assert child.exitcode == 0
    torch.testing.assert_close(torch.view_as_complex(torch.from_numpy(result)), expected)


# -- whitening batch norm ------------------------------------------------------------------


def _batch_norm_run(x: Tensor, affine: bool, spy: list[str] | None = None) -> list[Tensor]:
    """Training-mode BatchNorm: output, input and parameter gradients, running statistics."""
    torch.manual_seed(0)
    layer = {2: cvlayers.BatchNorm1d, 3: cvlayers.BatchNorm1d, 4: cvlayers.BatchNorm2d}.get(
        x.dim(), cvlayers.BatchNorm3d
    )
    bn = layer(x.shape[1], affine=affine, dtype=x.dtype)
    if affine:
        with torch.no_grad():
            bn.weight.add_(0.1 * torch.randn_like(bn.weight))
            bn.bias.normal_()
    x = x.detach().requires_grad_(True)
    out = bn(x)
    out.backward(torch.randn_like(out))
    grads = [x.grad, *(p.grad for p in bn.parameters())]
    return [out, *grads, bn.running_mean, bn.running_covar]


def _laid_out(x: Tensor, layout: str) -> Tensor:
    """``x`` contiguous, channels-last, as the transpose of a contiguous (N, *, C), or with
    the samples innermost in memory."""
    if layout == "channels_last":
        return x.contiguous(memory_format=torch.channels_last)
    if layout == "transposed":
        return x.movedim(1, -1).contiguous().movedim(-1, 1)
    if layout == "samples_last":
        return x.movedim(0, -1).contiguous().movedim(-1, 0)
    return x


# (shape, layout, whether the kernels take it): contiguous, in runs of the spatial size per
# channel and sample, or channels last in memory, row by row; the parallel ranges split runs
# at (16, 4, 600) and rows at (700, 100); (2000, 8) adds its rows' float sums into the double
# ones every 32 rows (CV_BN_ROWS).
BATCH_NORM_LAYOUTS = [
    ((8, 3, 10), "contiguous", True),
    ((4, 5, 3, 4), "contiguous", True),
    ((2, 2, 2, 3, 4), "contiguous", True),
    ((16, 4, 600), "contiguous", True),
    ((8, 3, 2), "contiguous", True),
    ((64, 12), "contiguous", True),
    ((700, 100), "contiguous", True),
    ((2000, 8), "contiguous", True),
    ((4, 9, 3, 5), "channels_last", True),
    ((4, 2, 3, 5), "channels_last", True),
    ((6, 8, 20), "transposed", True),
    ((6, 3, 4), "samples_last", False),
]


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize(("shape", "layout", "fused"), BATCH_NORM_LAYOUTS)
def test_batch_norm_kernels_match_eager(
    shape: tuple[int, ...],
    layout: str,
    fused: bool,
    affine: bool,
    dtype: torch.dtype,
    launches: list[str],
) -> None:
    """Output, gradients and running statistics of the fused training-mode batch norm equal
    the torch ops' within rounding, on non-circular data far from 0 (the shifted sums), with
    the output and input gradient in the input's layout, and the kernels ran (two forward, two
    backward) where the layout is theirs."""
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(*shape, dtype=dtype, generator=gen) * (3 + 1j) + 0.8 * (2 - 50j)
    x = _laid_out(x + 0.7 * x.real.to(dtype), layout)
    with _native.eager():
        expected = _batch_norm_run(x, affine)
    launches.clear()  # (only what runs from here on)
    got = _batch_norm_run(x, affine)
    assert launches == (["bn_sums", "bn_affine", "bn_sums", "bn_affine"] if fused else [])
    assert got[0].stride() == x.stride() and got[1].stride() == x.stride()
    # complex128 pins the maths. In float32 both sides round: at (2000, 8) the torch ops' Gamma
    # gradient misses its float64 value by 7e-5 (relative), the kernels' (double sums) by 3e-5.
    tol = {"rtol": 1e-4, "atol": 2e-5} if dtype == torch.complex64 else {}
    for a, b in zip(got, expected, strict=True):
        torch.testing.assert_close(a, b, **tol)


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_with_parameters_of_another_precision(training: bool) -> None:
    """A float64 weight or complex128 bias on complex64 input takes the torch ops, which
    promote (the kernels read them as float32: the output was ~1e38)."""
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(8, 4, 5, dtype=torch.complex64, generator=gen) * 2 + 1
    weight = torch.tensor([1.0, 0.2, 0.8], dtype=torch.float64).repeat(4, 1)
    bias = torch.randn(4, dtype=torch.complex128, generator=gen)
    for params in ({"weight": weight}, {"bias": bias}):
        stats = (torch.zeros(4, dtype=torch.complex64), torch.ones(4, 3))
        got = CF.batch_norm(x, *stats, training=training, **params)
        with _native.eager():
            expected = CF.batch_norm(x, *stats, training=training, **params)
        assert got.dtype == torch.complex128
        torch.testing.assert_close(got, expected, rtol=0, atol=0)


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize(("shape", "layout", "fused"), BATCH_NORM_LAYOUTS)
def test_batch_norm_eval_kernels_match_eager(
    shape: tuple[int, ...],
    layout: str,
    fused: bool,
    affine: bool,
    dtype: torch.dtype,
    launches: list[str],
) -> None:
    """Eval mode (running statistics, which get no gradient) in the kernels: the output and the
    input and parameter gradients equal the torch ops'; one launch forward, and backward one
    more for the input gradient and the sums only where Gamma and beta need theirs."""
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(*shape, dtype=dtype, generator=gen) * (3 + 1j) + 0.8 * (2 - 50j)
    x = _laid_out(x + 0.7 * x.real.to(dtype), layout)

    def run() -> list[Tensor]:
        torch.manual_seed(0)
        layer = {2: cvlayers.BatchNorm1d, 3: cvlayers.BatchNorm1d, 4: cvlayers.BatchNorm2d}
        bn = layer.get(x.dim(), cvlayers.BatchNorm3d)(x.shape[1], affine=affine, dtype=dtype)
        with torch.no_grad():
            bn.running_mean.copy_(torch.randn_like(bn.running_mean) * 3 + 40j)
            bn.running_covar.copy_(
                torch.tensor([4.0, 1.5, 2.0]) + torch.rand_like(bn.running_covar)
            )
            for p in bn.parameters():
                p.add_(0.3 * torch.randn_like(p))
        z = x.detach().requires_grad_(True)
        out = bn.eval()(z)
        out.backward(torch.randn_like(out))
        return [out, z.grad, *(p.grad for p in bn.parameters())]

    with _native.eager():
        expected = run()
    launches.clear()  # (only what runs from here on)
    got = run()
    kernels = ["bn_affine", "bn_sums", "bn_affine"] if affine else ["bn_affine", "bn_affine"]
    assert launches == (kernels if fused else [])
    assert got[0].stride() == x.stride() and got[1].stride() == x.stride()
    # Gamma's gradient sums G (z - mean) over n values, |z - mean| ~ 50 here: in float32 the
    # torch ops miss the float64 value by 4x the kernels' error (double sums) at (700, 100).
    tol = {"rtol": 1e-4, "atol": 1e-4} if dtype == torch.complex64 else {}
    for a, b in zip(got, expected, strict=True):
        torch.testing.assert_close(a, b, **tol)


@pytest.mark.parametrize(
    ("shape", "layout"), [((4, 3, 10), "contiguous"), ((3, 3, 2, 3), "channels_last")]
)
def test_batch_norm_kernels_gradcheck_and_double_backward(
    shape: tuple[int, ...], layout: str
) -> None:
    """The closed-form backward by finite differences, and a double backward (which takes the
    torch ops) too, through the kernels' path (complex128), in runs and in rows."""
    x = torch.randn(*shape, dtype=torch.complex128) * 2 + 1j
    x = _laid_out(x, layout).requires_grad_(True)
    weight = torch.tensor([[0.9, 0.2, 0.6]] * 3, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(3, dtype=torch.complex128, requires_grad=True)

    mean = torch.randn(3, dtype=torch.complex128)
    covar = torch.tensor([[2.0, 0.5, 1.0]] * 3, dtype=torch.float64)

    def bn(z: Tensor, w: Tensor, b: Tensor) -> Tensor:
        return cvlayers.functional.batch_norm(z, None, None, w, b, training=True)

    def bn_eval(z: Tensor, w: Tensor, b: Tensor) -> Tensor:
        return cvlayers.functional.batch_norm(z, mean, covar, w, b, training=False)

    for fn in (bn, bn_eval):
        assert torch.autograd.gradcheck(fn, (x, weight, bias))
        assert torch.autograd.gradgradcheck(fn, (x, weight, bias))


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_reads_per_channel_arguments_as_their_values(training: bool) -> None:
    """The per-channel maths (C) read the statistics and parameters as dense arrays: a
    transposed weight, a weight alone, a lazily conjugated bias or running mean give what their
    resolved, contiguous copies give in the torch ops, output and gradients."""
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(16, 3, 5, dtype=torch.complex128, generator=gen) * (2 + 1j) + 1
    weight = (torch.tensor([[0.9], [0.2], [0.7]], dtype=torch.float64) + 0.1).repeat(1, 3)
    bias = torch.randn(3, dtype=torch.complex128, generator=gen)
    mean = torch.randn(3, dtype=torch.complex128, generator=gen)
    covar = torch.tensor([[2.0, 0.5, 1.5]], dtype=torch.float64).repeat(3, 1)
    odd = {"weight": weight.t(), "bias": bias.conj()}  # weight: a (3, C) array's transpose
    plain = {"weight": weight.t().contiguous(), "bias": bias.conj().resolve_conj()}
    for keys in (("weight", "bias"), ("weight",), ("bias",)):

        def run(params: dict[str, Tensor], keys: tuple[str, ...] = keys) -> list[Tensor]:
            z = x.clone().requires_grad_(True)
            leaves = {k: params[k].detach().requires_grad_(True) for k in keys}
            stats = (mean.conj(), covar) if params is odd else (mean.conj().resolve_conj(), covar)
            out = CF.batch_norm(z, *stats, training=training, **leaves)
            out.backward(torch.ones_like(out))
            return [out, z.grad, *(leaves[k].grad for k in keys)]

        got = run(odd)
        with _native.eager():
            expected = run(plain)
        for a, b in zip(got, expected, strict=True):
            torch.testing.assert_close(a, b)


def test_batch_norm_parameters_on_another_device_raise() -> None:
    """A weight elsewhere than the input takes the torch ops, which raise (the kernels would
    read its address as CPU memory)."""
    x = torch.randn(8, 3, dtype=torch.complex64)
    weight = torch.ones(3, 3, device="meta")
    with pytest.raises((RuntimeError, NotImplementedError)):
        CF.batch_norm(x, None, None, weight, training=True)


# Normalisations on bn_affine, as functions of complex64 or complex128 input.
CENTRED_NORMS: dict[str, Callable[[Tensor], Tensor]] = {
    "batch": lambda t: CF.batch_norm(t, None, None, training=True),
    "group": lambda t: CF.group_norm(t, 2),
    "group, small planes": lambda t: CF.group_norm(t[..., :4], 2, torch.ones_like(t[0, :, 0])),
    "layer, no affine": lambda t: CF.layer_norm(t, (32,)),
}


@pytest.mark.parametrize("name", CENTRED_NORMS)
def test_norm_kernels_subtract_the_mean_before_scaling(name: str) -> None:
    """bn_affine takes A (z - mean): on data with a DC offset 1800x its spread the output is
    within 2.5e-4 of float64 (the input's own rounding is 1.2e-4 of the spread), where
    A z - A mean missed by 3.3-5.4e-4; and a constant channel or run gives beta exactly."""
    norm = CENTRED_NORMS[name]
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(64, 8, 32, dtype=torch.complex64, generator=gen) * (1 + 0.5j)
    x = x + (3000 - 2000j)
    reference = norm(x.to(torch.complex128))
    assert (norm(x) - reference).abs().max() < 2.5e-4


# (norm, input shape, the part made constant): a channel, a (sample, group), a row.
CONSTANT_PARTS: list[tuple[Callable[[Tensor], Tensor], tuple[int, ...], tuple[Any, ...]]] = [
    (CENTRED_NORMS["batch"], (16, 4, 8), (slice(None), 1)),
    (lambda t: CF.group_norm(t, 2), (4, 4, 64), (1, slice(0, 2))),
    (lambda t: CF.group_norm(t, 2, torch.ones_like(t[0, :, 0])), (4, 4, 4), (1, slice(0, 2))),
    (lambda t: CF.layer_norm(t, (32,)), (6, 32), (1,)),
]


@pytest.mark.parametrize(("norm", "shape", "part"), CONSTANT_PARTS)
def test_norm_kernels_map_a_constant_part_to_beta_exactly(
    norm: Callable[[Tensor], Tensor], shape: tuple[int, ...], part: tuple[Any, ...]
) -> None:
    """Whatever the constant (A z - A mean left A times an ulp of z, up to 5e-4 at eps = 1e-5,
    for most constants; torch's real BatchNorm does too, its LayerNorm does not)."""
    gen = torch.Generator().manual_seed(1)
    for _ in range(10):
        x = torch.randn(*shape, dtype=torch.complex64, generator=gen)
        x[part] = complex(*(torch.randn(2, generator=gen) * 10).tolist())
        out = norm(x)
        assert torch.equal(out[part], torch.zeros_like(out[part]))


def test_batch_norm_kernels_keep_a_constant_channel_finite() -> None:
    x = torch.randn(8, 2, 16, dtype=torch.complex64)
    x[:, 1] = 3 - 1j  # a singular covariance: eps keeps it finite, the channel maps to beta
    x.requires_grad_(True)
    out = cvlayers.BatchNorm1d(2)(x)
    out.abs().sum().backward()
    assert torch.isfinite(torch.view_as_real(out)).all()
    assert x.grad is not None and torch.isfinite(torch.view_as_real(x.grad)).all()
    torch.testing.assert_close(out[:, 1], torch.zeros_like(out[:, 1]))


def _batch_norm_step(x: Tensor, grad: Tensor) -> list[Tensor]:
    """Output and gradients (input, weight, bias) of a fresh training-mode BatchNorm1d."""
    bn = cvlayers.BatchNorm1d(x.shape[1], dtype=x.dtype)
    x = x.detach().requires_grad_(True)
    bn(x).backward(grad.to(x.dtype))
    assert x.grad is not None and bn.weight.grad is not None and bn.bias.grad is not None
    return [bn(x).detach(), x.grad, bn.weight.grad, bn.bias.grad]


@pytest.mark.parametrize("kernels", [True, False], ids=["kernels", "eager"])
@pytest.mark.parametrize("shape", [(64, 16), (16, 8, 12), (3, 64)])
def test_batch_norm_complex64_whitens_a_nearly_degenerate_channel_as_complex128(
    shape: tuple[int, ...], kernels: bool
) -> None:
    """Im z = Re z / 2 plus noise of 1e-3 of the scale (BPSK-like data; its covariance nearly
    singular): complex64 output and gradients agree with complex128 on the same values, at
    every scale. The second moments in float products and sums lost the small eigenvalue
    (V_rr V_ii - V_ri^2 cancels to 1e-6 of its terms): up to 40-60 % off at scale 10 and
    NaN on 3 samples (a negative determinant); now 2e-4. (On 3 samples at scale 1000 the
    float32 pass amplifies z - mean's rounding by up to 1/sqrt(eps): 0.1 off.)"""
    gen = torch.Generator().manual_seed(2)
    for scale in (1.0, 10.0) if shape[0] == 3 else (1.0, 10.0, 1000.0):
        x = torch.randn(shape, generator=gen) * (1 + 0.5j)
        x = x + 1e-3 * torch.randn(shape, dtype=torch.complex64, generator=gen)
        x = (scale * x).to(torch.complex64)
        grad = torch.randn(shape, dtype=torch.complex64, generator=gen)
        with contextlib.nullcontext() if kernels else _native.eager():
            got = _batch_norm_step(x, grad)
        expected = _batch_norm_step(x.to(torch.complex128), grad)
        for a, b in zip(got, expected, strict=True):
            assert torch.isfinite(torch.view_as_real(a) if a.is_complex() else a).all()
            atol = 5e-4 * b.abs().max().item()
            torch.testing.assert_close(a, b.to(a.dtype), rtol=0, atol=atol)


def test_eager_batch_norm_keeps_no_float64_copy_of_complex64_input_for_backward() -> None:
    """The torch ops take the covariance's value from float64 copies of z - mean but keep
    only float32 views of it for the backward: autograd through the copies kept 4 more bytes
    per input byte (128 against 96 MB on a 32 MB input)."""
    x = torch.randn(64, 4, 8, 8, dtype=torch.complex64, requires_grad=True)
    saved: dict[int, tuple[torch.dtype, int]] = {}

    def pack(t: Tensor) -> Tensor:
        saved[t.untyped_storage().data_ptr()] = (t.dtype, t.untyped_storage().nbytes())
        return t

    with _native.eager(), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        cvlayers.BatchNorm2d(4)(x)
    big = [dtype for dtype, nbytes in saved.values() if nbytes >= x.numel() * 8]
    assert big and torch.float64 not in big and torch.complex128 not in big
    assert sum(nbytes for _, nbytes in saved.values()) < 3.1 * x.numel() * 8


def test_batch_norm_eval_with_a_float64_running_covariance_on_complex64_input(
    launches: list[str],
) -> None:
    """A float64 running covariance (as the norm module's doc advises for channels of nearly
    fixed phase) keeps eval mode within 2e-4 of complex128 on such data, in the kernels, with a
    complex64 output (float32 statistics miss by 1.4 %: rounding loses the small eigenvalue);
    training keeps the buffer in float64."""
    gen = torch.Generator().manual_seed(5)
    x = 10 * torch.randn(256, 8, generator=gen) * (1 + 0.5j)
    x = (x + 1e-2 * torch.randn(256, 8, dtype=torch.complex64, generator=gen)).to(torch.complex64)
    wide = cvlayers.BatchNorm1d(8, momentum=None)
    wide.running_covar = wide.running_covar.double()
    reference = cvlayers.BatchNorm1d(8, momentum=None, dtype=torch.complex128)
    wide(x), reference(x.to(torch.complex128))
    assert wide.running_covar.dtype == torch.float64
    wide.eval(), reference.eval()
    expected = reference(x.to(torch.complex128))
    launches.clear()  # (only what runs from here on)
    out = wide(x)
    assert launches == ["bn_affine"] and out.dtype == torch.complex64
    scale = expected.abs().max().item()
    torch.testing.assert_close(out, expected.to(out.dtype), rtol=0, atol=2e-4 * scale)


@pytest.mark.parametrize("kernels", [True, False], ids=["kernels", "eager"])
def test_batch_norm_whitens_a_slightly_indefinite_covariance_finitely(kernels: bool) -> None:
    """Running statistics that rounding left indefinite (V_ri^2 > V_rr V_ii by more than eps
    makes up for) whiten as the covariance of determinant 0 next to them: sqrt of the negative
    determinant made the output and gradient NaN."""
    x = torch.randn(8, 2, 5, dtype=torch.complex64) * (1 + 0.5j)
    mean = torch.zeros(2, dtype=torch.complex64)
    indefinite, singular = torch.tensor([[1.0, 1.0001, 1.0]] * 2), torch.ones(2, 3)
    with contextlib.nullcontext() if kernels else _native.eager():
        x.requires_grad_(True)
        out = CF.batch_norm(x, mean, indefinite, training=False)
        out.abs().sum().backward()
        expected = CF.batch_norm(x.detach(), mean, singular, training=False)
    assert x.grad is not None and torch.isfinite(torch.view_as_real(x.grad)).all()
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-3 * expected.abs().max().item())


# -- layer and group norm (the batch norm kernels, a run per sample or group) ----------------

# (module, input shape): the normalised runs are 6, 40 and 1000 values long; at (64, 1000) the
# parallel ranges split runs.
POWER_NORMS = [
    (lambda dtype, affine: cvlayers.LayerNorm(6, elementwise_affine=affine, dtype=dtype), (5, 6)),
    (
        lambda dtype, affine: cvlayers.LayerNorm([4, 10], elementwise_affine=affine, dtype=dtype),
        (3, 4, 10),
    ),
    (
        lambda dtype, affine: cvlayers.LayerNorm(1000, elementwise_affine=affine, dtype=dtype),
        (64, 1000),
    ),
    # two threads: rows split into ranges of 64 (ln_sums), elements mid-row (ln_affine)
    (
        lambda dtype, affine: cvlayers.LayerNorm(256, elementwise_affine=affine, dtype=dtype),
        (300, 256),
    ),
    (lambda dtype, affine: cvlayers.GroupNorm(2, 4, affine=affine, dtype=dtype), (3, 4, 5, 4)),
    (lambda dtype, affine: cvlayers.GroupNorm(1, 3, affine=affine, dtype=dtype), (2, 3, 7)),
    # 64 values per (sample, channel): gamma and beta in the normalisation's passes
    (lambda dtype, affine: cvlayers.GroupNorm(2, 4, affine=affine, dtype=dtype), (3, 4, 8, 8)),
    (lambda dtype, affine: cvlayers.GroupNorm(3, 3, affine=affine, dtype=dtype), (2, 3, 100)),
]


def _power_norm_run(make: Callable[..., nn.Module], x: Tensor, affine: bool) -> list[Tensor]:
    torch.manual_seed(0)
    norm = make(x.dtype, affine)
    with torch.no_grad():
        for p in norm.parameters():
            p.add_(0.3 * torch.randn_like(p))
    z = x.detach().requires_grad_(True)
    out = norm(z)
    out.backward(torch.randn_like(out))
    return [out, z.grad, *(p.grad for p in norm.parameters())]


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize(("make", "shape"), POWER_NORMS)
def test_power_norm_kernels_match_eager(
    make: Callable[..., nn.Module],
    shape: tuple[int, ...],
    affine: bool,
    dtype: torch.dtype,
    launches: list[str],
) -> None:
    """LayerNorm and GroupNorm in the kernels: output and gradients equal the torch ops' on
    non-circular data far from 0; two launches forward (mean and power, the normalisation) and
    two backward; gamma and beta go into those passes (layer norm: ln_affine, ln_sums), except
    in group norm on fewer than 64 values per sample and channel: one more forward, two more
    backward."""
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(*shape, dtype=dtype, generator=gen) * (3 + 1j) + 0.8 * (2 - 50j)
    x = x + 0.7 * x.real.to(dtype)
    with _native.eager():
        expected = _power_norm_run(make, x, affine)
    launches.clear()  # (only what runs from here on)
    got = _power_norm_run(make, x, affine)
    norm, norm_backward = ["bn_sums", "bn_affine"], ["bn_sums", "bn_affine"]
    layer = isinstance(make(dtype, affine), cvlayers.LayerNorm)
    if affine and layer:  # gamma and beta in the normalisation's passes, a set per feature
        norm, norm_backward = ["bn_sums", "ln_affine"], ["ln_sums", "ln_affine"]
    elif affine and math.prod(shape[2:]) < 64:
        # group norm on fewer than 64 values per sample and channel: gamma and beta apart, one
        # pass forward, and backward the input gradient, then their sums
        norm, norm_backward = [*norm, "bn_affine"], ["bn_affine", "bn_sums", *norm_backward]
    assert launches == norm + norm_backward
    tol = {"rtol": 2e-5, "atol": 2e-5} if dtype == torch.complex64 else {}
    for a, b in zip(got, expected, strict=True):
        torch.testing.assert_close(a, b, **tol)


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize(
    ("features", "shape"), [((6,), (5, 6)), ((4, 10), (3, 4, 10)), ((256,), (300, 256))]
)
def test_rms_norm_kernels_match_eager(
    features: tuple[int, ...],
    shape: tuple[int, ...],
    affine: bool,
    dtype: torch.dtype,
    launches: list[str],
) -> None:
    """RMSNorm in the layer norm kernels, sums about 0 and no centring in the input gradient:
    output and gradients equal the torch ops'; one pass for the mean square and one for the
    normalisation with gamma forward, two backward. (At (300, 256) two threads split the rows
    and the elements.)"""
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(*shape, dtype=dtype, generator=gen) * (3 + 1j) + 0.8 * (2 - 5j)
    grad = torch.randn(*shape, dtype=dtype, generator=gen)

    def run() -> list[Tensor]:
        torch.manual_seed(0)
        norm = cvlayers.RMSNorm(features, eps=1e-4, elementwise_affine=affine, dtype=dtype)
        with torch.no_grad():
            for p in norm.parameters():
                p.add_(0.3 * torch.randn_like(p))
        z = x.clone().requires_grad_(True)
        out = norm(z)
        out.backward(grad)
        return [out, z.grad, *(p.grad for p in norm.parameters())]

    with _native.eager():
        expected = run()
    launches.clear()  # (only what runs from here on)
    got = run()
    assert launches == ["bn_sums", "ln_affine", "ln_sums", "ln_affine"]
    tol = {"rtol": 2e-5, "atol": 2e-5} if dtype == torch.complex64 else {}
    for a, b in zip(got, expected, strict=True):
        torch.testing.assert_close(a, b, **tol)


@pytest.mark.parametrize("which", ["weight", "bias", "frozen input"])
@pytest.mark.parametrize("norm", ["layer", "group"])
def test_power_norm_kernels_with_part_of_the_affine(
    norm: str, which: str, dtype: torch.dtype
) -> None:
    """Layer and group norm with gamma and beta in the normalisation's kernels (group norm on
    64 values per plane): a weight or a bias alone, or an input that needs no gradient, give
    the torch ops' output and gradients."""
    gen = torch.Generator().manual_seed(2)
    affine_shape = (3,) if norm == "group" else (8, 8)
    x = torch.randn(5, 3, 8, 8, dtype=dtype, generator=gen) + 0.5j
    weight, bias = torch.randn(2, *affine_shape, dtype=dtype, generator=gen)
    grad = torch.randn(x.shape, dtype=dtype, generator=gen)
    params = {"weight": [weight], "bias": [bias], "frozen input": [weight, bias]}[which]

    def apply(z: Tensor, w: Tensor | None, b: Tensor | None) -> Tensor:
        return CF.group_norm(z, 3, w, b) if norm == "group" else CF.layer_norm(z, (8, 8), w, b)

    def run() -> list[Tensor]:
        z = x.clone().requires_grad_(which != "frozen input")
        leaves = [p.clone().requires_grad_(True) for p in params]
        w = leaves[0] if which != "bias" else None
        b = leaves[-1] if which != "weight" else None
        out = apply(z, w, b)
        out.backward(grad)
        grads = [t.grad for t in (z, *leaves) if t.grad is not None]
        return [out.detach(), *grads]

    got = run()
    with _native.eager():
        expected = run()
    assert len(got) == len(expected) == 1 + len(params) + (which != "frozen input")
    tol = {"rtol": 2e-5, "atol": 2e-5} if dtype == torch.complex64 else {}
    for a, b in zip(got, expected, strict=True):
        torch.testing.assert_close(a, b, **tol)


def test_power_norm_kernels_gradcheck_and_double_backward() -> None:
    """The closed-form backward by finite differences, and a double backward (which takes the
    torch ops), through the kernels' path (complex128)."""
    x = (torch.randn(3, 4, 5, dtype=torch.complex128) * 2 + 1j).requires_grad_(True)
    weight, bias = torch.randn(2, 4, 5, dtype=torch.complex128, requires_grad=True)

    def ln(z: Tensor, w: Tensor, b: Tensor) -> Tensor:
        return cvlayers.functional.layer_norm(z, (4, 5), w, b)

    def gn(z: Tensor, w: Tensor, b: Tensor) -> Tensor:
        return cvlayers.functional.group_norm(z, 2, w[:, 0], b[:, 1])

    for fn in (ln, gn):
        assert torch.autograd.gradcheck(fn, (x, weight, bias))
        assert torch.autograd.gradgradcheck(fn, (x, weight, bias))
    # group norm with gamma and beta in its normalisation's passes (64 values per plane)
    planes = (torch.randn(1, 4, 64, dtype=torch.complex128) * 2 + 1j).requires_grad_(True)
    assert torch.autograd.gradcheck(gn, (planes, weight, bias))
    assert torch.autograd.gradgradcheck(gn, (planes, weight, bias), fast_mode=True)


def test_row_launches_hold_no_empty_ranges() -> None:
    """A launch over rows (ln_sums) splits into no more ranges than rows, so that its per-range
    sums over the features (float64, 4 per feature each) do not grow with empty ranges: two
    rows of 2^20 features took 512 MB of them before. Layer norm there still matches."""
    z = torch.randn(2, 1 << 16, dtype=torch.complex64) * (1 + 2j) + 0.5
    threads = torch.get_num_threads()
    assert _native.per_range(z, 3, max_ranges=2).shape[0] == 1
    if threads > 1:
        assert _native.per_range(z, 3).shape[0] == threads * 8
        assert _native.per_range(z, 3, max_ranges=64).shape[0] == threads * 8
    weight, bias, grad = torch.randn(3, 1 << 16, dtype=torch.complex64)

    def run() -> list[Tensor]:
        x = z.clone().requires_grad_(True)
        out = CF.layer_norm(x, (1 << 16,), weight, bias)
        out.backward(grad.expand_as(out))
        assert x.grad is not None
        return [out.detach(), x.grad]

    got = run()
    with _native.eager():
        expected = run()
    for a, b in zip(got, expected, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("affine", [False, True])
def test_power_norm_kernels_keep_a_constant_sample_finite(affine: bool) -> None:
    """A constant run has power 0: eps keeps it finite, and it maps to 0 (beta's start)
    exactly, as in torch's layer norm, whatever the constant (a kernel that took s z - s mean
    left s times an ulp of z, up to 3e-4, for most constants)."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(40, 16, dtype=torch.complex64, generator=gen)
    x[::2] = (torch.randn(20, 1, dtype=torch.complex64, generator=gen) * 10).expand(20, 16)
    x.requires_grad_(True)
    out = cvlayers.LayerNorm(16, elementwise_affine=affine)(x)
    out.abs().sum().backward()
    assert torch.isfinite(torch.view_as_real(out)).all()
    assert x.grad is not None and torch.isfinite(torch.view_as_real(x.grad)).all()
    assert torch.equal(out[::2], torch.zeros_like(out[::2]))
