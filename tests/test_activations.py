"""Complex activations: closed forms, finiteness at 0, gradcheck, torchcvnn parity, memory."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import pytest
import torch
from torch import Tensor, nn

import cvlayers
from cvlayers import _modulus, _native
from cvlayers import functional as CF
from cvlayers.testing import finite_difference_wirtinger

COMPLEX_TO_COMPLEX: dict[str, Callable[[], nn.Module]] = {
    "CReLU": cvlayers.CReLU,
    "CPReLU": cvlayers.CPReLU,
    "CELU": cvlayers.CELU,
    "CCELU": lambda: cvlayers.CCELU(alpha=0.6),
    "CGELU": cvlayers.CGELU,
    "CSigmoid": cvlayers.CSigmoid,
    "CTanh": cvlayers.CTanh,
    "ZReLU": cvlayers.ZReLU,
    "ModReLU": lambda: cvlayers.ModReLU(bias=-0.3),
    "ModReLU+": lambda: cvlayers.ModReLU(bias=0.3),
    "ModTanh": cvlayers.ModTanh,
    "ModSigmoid": cvlayers.ModSigmoid,
    "Cardioid": cvlayers.Cardioid,
}
COMPLEX_TO_REAL: dict[str, Callable[[], nn.Module]] = {
    "Mod": cvlayers.Mod,
    **{
        f"ComplexToReal-{m}": (lambda m=m: cvlayers.ComplexToReal(m))
        for m in ("real", "imag", "abs", "angle", "cat")
    },
}
ALL = {**COMPLEX_TO_COMPLEX, **COMPLEX_TO_REAL}


def _points(dtype: torch.dtype, device: torch.device) -> Tensor:
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(3, 4, 5, dtype=dtype, generator=gen).to(device)
    return z


def _real_loss(out: Tensor) -> Tensor:
    """A real loss that weights every output component differently."""
    w = torch.linspace(0.5, 1.5, out.numel(), dtype=torch.float64).view(out.shape)
    if out.is_complex():
        return (w.to(out.device) * (out.real + 2 * out.imag)).sum()
    return (w.to(out.device) * out).sum()


@pytest.mark.parametrize("name", list(ALL))
def test_finite_at_zero(name: str, device: torch.device, dtype: torch.dtype) -> None:
    z = torch.zeros(2, 3, dtype=dtype, device=device, requires_grad=True)
    module = ALL[name]().to(device)
    out = module(z)
    _real_loss(out.to(torch.complex128 if out.is_complex() else torch.float64)).backward()
    assert torch.isfinite(torch.view_as_real(out) if out.is_complex() else out).all()
    assert z.grad is not None
    assert torch.isfinite(torch.view_as_real(z.grad)).all()


ZERO_VALUES = {
    "CSigmoid": 0.5 + 0.5j,
    "ComplexToReal-angle": 0.0,
}


@pytest.mark.parametrize("name", list(ALL))
def test_documented_value_at_zero(name: str) -> None:
    out = ALL[name]()(torch.zeros(2, 3, dtype=torch.complex128))
    expected = ZERO_VALUES.get(name, 0.0)
    assert torch.all(out == expected)


@pytest.mark.parametrize("name", list(ALL))
def test_gradcheck(name: str) -> None:
    module = ALL[name]().to(torch.float64)  # learnable real parameters in float64
    z = _points(torch.complex128, torch.device("cpu")).requires_grad_(True)
    params = list(module.parameters())
    assert torch.autograd.gradcheck(lambda x, *_: module(x), (z, *params))


@pytest.mark.parametrize("name", ["ModReLU", "ModReLU+", "ModTanh", "ModSigmoid", "Cardioid"])
def test_custom_backward_matches_finite_differences(name: str) -> None:
    module = ALL[name]().to(torch.float64)
    z = _points(torch.complex128, torch.device("cpu"))[0].requires_grad_(True)
    _real_loss(module(z)).backward()
    _, fd = finite_difference_wirtinger(lambda x: _real_loss(module(x)), [z])
    torch.testing.assert_close(z.grad, 2 * fd[0], rtol=1e-6, atol=1e-8)


def test_modrelu_bias_gradient_matches_finite_differences() -> None:
    m = cvlayers.ModReLU(num_features=4, bias=-0.2, dtype=torch.float64)
    z = _points(torch.complex128, torch.device("cpu"))
    _real_loss(m(z)).backward()
    assert m.bias.grad is not None
    eps = 1e-6
    for c in range(4):
        with torch.no_grad():
            m.bias[c] += eps
            plus = _real_loss(m(z))
            m.bias[c] -= 2 * eps
            minus = _real_loss(m(z))
            m.bias[c] += eps
        assert m.bias.grad[c].item() == pytest.approx(((plus - minus) / (2 * eps)).item(), rel=1e-6)


def test_closed_forms() -> None:
    z = torch.tensor([3 + 4j, -1 + 2j, 1 - 1j], dtype=torch.complex128)
    torch.testing.assert_close(CF.crelu(z), torch.tensor([3 + 4j, 2j, 1 + 0j], dtype=z.dtype))
    torch.testing.assert_close(
        CF.modrelu(z, torch.tensor(-4.0, dtype=torch.float64)),
        torch.tensor([0.6 + 0.8j, 0j, 0j], dtype=z.dtype),
    )
    r = z.abs()
    torch.testing.assert_close(CF.mod_tanh(z), torch.tanh(r) * z / r)
    torch.testing.assert_close(CF.mod_sigmoid(z), torch.sigmoid(r) * z / r)
    torch.testing.assert_close(CF.cardioid(z), (1 + z.real / r) / 2 * z)
    torch.testing.assert_close(CF.zrelu(z), torch.tensor([3 + 4j, 0j, 0j], dtype=z.dtype))
    torch.testing.assert_close(CF.mod(z), r)
    torch.testing.assert_close(CF.complex_to_real(z, "angle"), torch.atan2(z.imag, z.real))


def test_modrelu_per_channel_bias() -> None:
    m = cvlayers.ModReLU(num_features=2, bias=0.0)
    with torch.no_grad():
        m.bias.copy_(torch.tensor([0.0, -10.0]))
    z = torch.ones(1, 2, 3, dtype=torch.complex64)
    out = m(z)
    torch.testing.assert_close(out[0, 0], z[0, 0])
    assert torch.count_nonzero(out[0, 1]) == 0
    with pytest.raises(ValueError, match=r"expects input of shape \(N, 2, ...\)"):
        m(torch.ones(1, 3, dtype=torch.complex64))


def test_conversions_round_trip_and_errors() -> None:
    z = torch.randn(2, 3, 4, dtype=torch.complex64)
    cat = cvlayers.ComplexToReal("cat", dim=1)(z)
    assert cat.shape == (2, 6, 4)
    torch.testing.assert_close(cvlayers.RealToComplex(dim=1)(cat), z)
    x = torch.randn(5)
    torch.testing.assert_close(cvlayers.RealToComplex()(x), x.to(torch.complex64))
    with pytest.raises(ValueError, match="mode must be one of"):
        cvlayers.ComplexToReal("phase")
    with pytest.raises(ValueError, match="even size"):
        cvlayers.RealToComplex(dim=0)(torch.randn(3))
    with pytest.raises(TypeError, match="real floating point"):
        cvlayers.RealToComplex()(z)


@pytest.mark.parametrize("name", list(ALL))
def test_real_input_is_a_type_error(name: str) -> None:
    with pytest.raises(TypeError, match="complex tensor"):
        ALL[name]()(torch.randn(3))


# -- memory: at most one tensor of the input's size saved for backward ----------------------


def _saved_bytes(module: nn.Module, z: Tensor) -> int:
    """Bytes of the distinct storages autograd saves, parameters excluded."""
    storages: dict[int, int] = {}
    params = {p.untyped_storage().data_ptr() for p in module.parameters()}

    def pack(t: Tensor) -> Tensor:
        if t.untyped_storage().data_ptr() not in params and t.numel() > 1:
            storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        module(z)
    return sum(storages.values())


@pytest.mark.parametrize("name", list(COMPLEX_TO_COMPLEX))
def test_saves_at_most_one_input_sized_tensor(name: str) -> None:
    z = torch.randn(64, 64, dtype=torch.complex64, requires_grad=True)
    assert _saved_bytes(ALL[name](), z) <= z.numel() * z.element_size()


@pytest.mark.parametrize("shape", [(4, 3), (4, 3, 5, 2)])
def test_cprelu_per_channel_is_torch_prelu_on_each_part(
    device: torch.device, dtype: torch.dtype, shape: tuple[int, ...]
) -> None:
    """num_parameters = C: torch.nn.PReLU(C)'s per-channel slopes on Re and on Im, apart."""
    layer = cvlayers.CPReLU(3, init=0.1, device=device)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[0.1, -0.2], [0.3, 0.4], [-0.5, 0.6]]))
    z = torch.randn(shape, dtype=dtype, device=device, requires_grad=True)
    out = layer(z)
    w = layer.weight.to(z.real.dtype)
    expected = torch.complex(
        torch.nn.functional.prelu(z.real, w[:, 0]), torch.nn.functional.prelu(z.imag, w[:, 1])
    )
    torch.testing.assert_close(out, expected)
    grad = torch.randn_like(out)
    (gz, gw) = torch.autograd.grad(out, (z, layer.weight), grad)
    (ez, ew) = torch.autograd.grad(expected, (z, layer.weight), grad)
    torch.testing.assert_close(gz, ez)
    torch.testing.assert_close(gw, ew)
    assert gw.shape == (3, 2)


def test_cprelu_loads_state_dicts_of_the_shared_slopes_shape() -> None:
    """Before num_parameters, the weight was (2,): such a state_dict still loads."""
    old = {"weight": torch.tensor([0.1, -0.3])}  # a plain dict: no version metadata
    layer = cvlayers.CPReLU()
    layer.load_state_dict(old)
    torch.testing.assert_close(layer.weight.detach(), torch.tensor([[0.1, -0.3]]))
    saved = cvlayers.CPReLU(3, init=0.7).state_dict()
    assert saved._metadata[""]["version"] == 2  # type: ignore[attr-defined]
    fresh = cvlayers.CPReLU(3)
    fresh.load_state_dict(saved)
    assert torch.equal(fresh.weight, torch.full((3, 2), 0.7))
    with pytest.raises(RuntimeError, match="size mismatch"):
        cvlayers.CPReLU(3).load_state_dict(old)


def test_cprelu_arguments_and_gradcheck() -> None:
    assert repr(cvlayers.CPReLU(4)) == "C" + repr(torch.nn.PReLU(4))
    assert cvlayers.CPReLU().weight.shape == (1, 2)
    with pytest.raises(TypeError, match="num_parameters must be an int"):
        cvlayers.CPReLU(0.1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least 1"):
        cvlayers.CPReLU(0)
    with pytest.raises(ValueError, match="slopes for 3 channels but the input has 4"):
        cvlayers.CPReLU(3)(torch.randn(2, 4, dtype=torch.complex64))
    with pytest.raises(ValueError, match=r"shape \(2,\) or \(C, 2\)"):
        CF.cprelu(torch.randn(2, 4, dtype=torch.complex64), torch.ones(4))
    z = torch.randn(3, 2, 4, dtype=torch.complex128, requires_grad=True)
    w = torch.tensor([[0.2, -0.3], [0.7, 0.1]], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(CF.cprelu, (z, w))


@pytest.mark.parametrize(
    ("name", "torch_name"), [("CReLU", "ReLU"), ("CELU", "ELU"), ("CCELU", "CELU")]
)
def test_inplace_matches_out_of_place(
    device: torch.device, dtype: torch.dtype, name: str, torch_name: str
) -> None:
    """torch.nn's inplace argument: the same values and gradients, written into the input."""
    ours, theirs = getattr(cvlayers, name), getattr(torch.nn, torch_name)
    assert repr(ours(inplace=True)) == "C" + repr(theirs(inplace=True))
    assert repr(ours()) == "C" + repr(theirs())
    x = torch.randn(4, 7, dtype=dtype, device=device, requires_grad=True)
    grad = torch.randn_like(x)
    expected = ours()(x)
    (expected_grad,) = torch.autograd.grad(expected, x, grad)
    y = x * 1  # a non-leaf that may be overwritten
    out = ours(inplace=True)(y)
    assert out is y
    torch.testing.assert_close(out, expected)
    (got_grad,) = torch.autograd.grad(out, x, grad)
    torch.testing.assert_close(got_grad, expected_grad)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        ours(inplace=True)(x)


@pytest.mark.parametrize("native", [True, False], ids=["kernels", "eager"])
@pytest.mark.parametrize("alpha", [1.0, 2.0, 0.3, -1.5])
def test_ccelu_is_torch_celu_of_the_parts(
    alpha: float, native: bool, device: torch.device, dtype: torch.dtype
) -> None:
    """CCELU is torch's celu on Re and Im, output and gradient (complex64 against torch's
    float32; complex128 by gradcheck, as torch's celu backward takes 1/alpha of float(alpha),
    2.7e-8 off for alpha = 0.3). A negative alpha, where e^(t/alpha) grows, runs torch's op."""
    gen = torch.Generator().manual_seed(4)
    z = (torch.randn(6, 50, dtype=dtype, generator=gen) * 4).to(device).requires_grad_(True)
    with contextlib.nullcontext() if native else _native.eager():
        out = CF.ccelu(z, alpha)
        grad = torch.randn(out.shape, dtype=dtype, generator=gen).to(device)
        (got,) = torch.autograd.grad(out, z, grad)
        if dtype == torch.complex128:
            assert torch.autograd.gradcheck(lambda t: CF.ccelu(t, alpha), (z[:1, :8],))
    parts = torch.view_as_real(z.detach()).requires_grad_(True)
    expected = torch.nn.functional.celu(parts, alpha)
    expected.backward(torch.view_as_real(grad))
    tol = {"rtol": 1e-6, "atol": 1e-6} if dtype == torch.complex64 else {}
    torch.testing.assert_close(torch.view_as_real(out.detach()), expected, **tol)
    if dtype == torch.complex64:
        torch.testing.assert_close(torch.view_as_real(got), parts.grad, **tol)
    with pytest.raises(ValueError, match="alpha must be nonzero"):
        cvlayers.CCELU(alpha=0.0)


def test_ccelu_with_alpha_one_is_celu() -> None:
    """torch's CELU with alpha = 1 is ELU: the two kernels agree bit for bit."""
    z = torch.randn(4, 300, dtype=torch.complex64, requires_grad=True) * 5
    grad = torch.randn_like(z)
    a, b = CF.ccelu(z), CF.celu(z)
    assert torch.equal(a, b)
    assert torch.equal(*(torch.autograd.grad(out, z, grad)[0] for out in (a, b)))
    assert CF.ccelu(z, 2.0).real.min() < b.real.min()  # a wider range below 0 than ELU's


# Those whose backward reads their output, as torch's tanh, sigmoid and relu do.
SAVES_OUTPUT = {"CTanh", "CSigmoid", "CReLU"}


@pytest.mark.parametrize("path", ["kernels", "eager", "gpu-eager"])
@pytest.mark.parametrize("name", list(COMPLEX_TO_COMPLEX))
def test_output_can_be_modified_in_place(
    name: str, path: str, dtype: torch.dtype, device: torch.device, monkeypatch: pytest.MonkeyPatch
) -> None:
    """y = act(x); y += r works as for torch's activations (a custom Function's output that
    is a view could not be modified in place), with the gradient of act(x) + r; where the
    backward reads the output, autograd refuses, as for torch.tanh. ``gpu-eager``: the eager
    maths with the GPU's products by a real (on the real view, whose results are views)."""
    if path == "gpu-eager":
        monkeypatch.setattr(_modulus, "times_real", _modulus.times_real_view)
    x = torch.randn(5, 3, 4, dtype=dtype, device=device, requires_grad=True)
    r = torch.randn_like(x)
    module = ALL[name]().to(device, torch.float64 if dtype == torch.complex128 else torch.float32)
    with contextlib.nullcontext() if path == "kernels" else _native.eager():
        (expected,) = torch.autograd.grad(_real_loss(module(x) + r), x)
        y = module(x)
        y += r
        if name in SAVES_OUTPUT:
            with pytest.raises(RuntimeError, match="modified by an inplace operation"):
                torch.autograd.grad(_real_loss(y), x)
            t = torch.tanh(x.real)
            t += 1
            with pytest.raises(RuntimeError, match="modified by an inplace operation"):
                torch.autograd.grad(t.sum(), x)
            return
        (got,) = torch.autograd.grad(_real_loss(y), x)
    torch.testing.assert_close(got, expected)


@pytest.mark.parametrize("native", [True, False], ids=["kernels", "eager"])
@pytest.mark.parametrize("name", list(ALL))
def test_lazily_conjugated_input(
    name: str, native: bool, dtype: torch.dtype, device: torch.device
) -> None:
    """act(x.conj()) (a view with the conjugate bit, which has no real view) is act of the
    resolved conjugate, with the same gradient."""
    x = torch.randn(5, 3, 4, dtype=dtype, device=device)
    module = ALL[name]().to(device, torch.float64 if dtype == torch.complex128 else torch.float32)
    lazy, resolved = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    with contextlib.nullcontext() if native else _native.eager():
        out = module(lazy.conj())
        expected = module(resolved.conj().resolve_conj())
        torch.testing.assert_close(out, expected)
        _real_loss(out).backward()
        _real_loss(expected).backward()
    torch.testing.assert_close(lazy.grad, resolved.grad)


@pytest.mark.parametrize(
    ("name", "kwargs"), [("CReLU", {}), ("CELU", {"alpha": 0.5}), ("CCELU", {"alpha": 0.5})]
)
def test_inplace_on_lazily_conjugated_input(name: str, kwargs: dict[str, float]) -> None:
    x = torch.randn(5, 3, dtype=torch.complex64)
    expected = getattr(cvlayers, name)(**kwargs)(x.conj())
    lazy = x.clone().conj()
    assert getattr(cvlayers, name)(inplace=True, **kwargs)(lazy) is lazy
    torch.testing.assert_close(lazy, expected)


# -- torchcvnn parity (names equal ignoring case) -------------------------------------------

PARITY = {
    "CReLU": "CReLU",
    "CPReLU": "CPReLU",
    "CELU": "CELU",
    "CCELU": "CCELU",
    "CGELU": "CGELU",
    "CSigmoid": "CSigmoid",
    "CTanh": "CTanh",
    "ZReLU": "zReLU",
    "ModReLU": "modReLU",
    "Cardioid": "Cardioid",
    "Mod": "Mod",
}


@pytest.mark.parametrize("name", list(PARITY))
def test_parity_with_torchcvnn(name: str) -> None:
    tnn = pytest.importorskip("torchcvnn.nn")
    theirs = getattr(tnn, PARITY[name])()  # same (empty) constructor arguments
    ours = getattr(cvlayers, name)()
    z = torch.randn(8, 16, dtype=torch.complex64)
    z = z[z.abs() > 1e-3]  # away from z = 0
    torch.testing.assert_close(ours(z), theirs(z), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("z_shape", "s_shape", "channels_last", "conj"),
    [
        ((5, 7), (5, 7), False, False),
        ((2, 3, 4, 5), (1, 3, 1, 1), True, False),
        ((6,), (6,), False, True),
    ],
)
def test_times_real_view_is_complex_times_real(
    device: torch.device,
    dtype: torch.dtype,
    z_shape: tuple[int, ...],
    s_shape: tuple[int, ...],
    channels_last: bool,
    conj: bool,
) -> None:
    """The real-view product that the GPU path uses (strided, broadcast, lazily conjugated)."""
    z = torch.randn(z_shape, dtype=dtype, device=device)
    if channels_last:
        z = z.to(memory_format=torch.channels_last)
    if conj:
        z = z.conj()
    s = torch.randn(s_shape, dtype=z.real.dtype, device=device)
    torch.testing.assert_close(_modulus.times_real_view(z, s), z.resolve_conj() * s, rtol=0, atol=0)


@pytest.mark.parametrize("name", ["ModReLU", "ModTanh", "ModSigmoid", "Cardioid"])
def test_gpu_formulas_on_cpu(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The eager formulas as a GPU runs them (torch.abs, products on the real view), checked
    on CPU: same values and gradients as the CPU formulas (z = 0 included), and gradcheck
    away from 0."""
    from cvlayers import _modulus, _native

    z = torch.randn(4, 3, dtype=torch.complex128)
    z[0, 0] = 0
    module = getattr(cvlayers, name)().double()
    if name == "ModReLU":
        module = cvlayers.ModReLU(bias=0.3).double()
    with _native.eager():
        x = z.clone().requires_grad_(True)
        out = module(x)
        (grad,) = torch.autograd.grad(out, x, torch.ones_like(out))
        monkeypatch.setattr(_modulus, "times_real", _modulus.times_real_view)
        monkeypatch.setattr(_modulus, "modulus", torch.abs)
        x_gpu = z.clone().requires_grad_(True)
        out_gpu = module(x_gpu)
        (grad_gpu,) = torch.autograd.grad(out_gpu, x_gpu, torch.ones_like(out_gpu))
        torch.testing.assert_close(out_gpu, out)
        torch.testing.assert_close(grad_gpu, grad)
        assert torch.autograd.gradcheck(module, (z[1:].clone().requires_grad_(True),))
