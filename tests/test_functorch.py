"""torch.func transforms (vmap, grad, per-sample gradients) over cvlayers modules and losses.

The custom autograd Functions behind the activations and the phase loss define
``setup_context`` and ``generate_vmap_rule``; under a transform they run the eager maths
(the fused kernels need data pointers, which the transforms' wrapper tensors do not have).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import pytest
import torch
from torch import Tensor, nn
from torch.func import functional_call, grad, vmap

import cvlayers
import cvlayers.functional as CF
from cvlayers import _native
from cvlayers.losses import PhaseLoss
from cvlayers.losses.functional import phase_loss

MODULES: dict[str, Callable[[], nn.Module]] = {
    "CReLU": cvlayers.CReLU,
    "CTanh": cvlayers.CTanh,
    "CSigmoid": cvlayers.CSigmoid,
    "CELU": cvlayers.CELU,
    "CCELU": lambda: cvlayers.CCELU(alpha=0.6),
    "CGELU": cvlayers.CGELU,
    "CPReLU": cvlayers.CPReLU,
    "ZReLU": cvlayers.ZReLU,
    "ModReLU": lambda: cvlayers.ModReLU(bias=-0.2),
    "ModTanh": cvlayers.ModTanh,
    "ModSigmoid": cvlayers.ModSigmoid,
    "Cardioid": cvlayers.Cardioid,
    "Mod": cvlayers.Mod,
    "Linear": lambda: cvlayers.Linear(5, 4),
    "LayerNorm": lambda: cvlayers.LayerNorm(5),
    "RMSNorm": lambda: cvlayers.RMSNorm(5),
    "MaxPool1d": lambda: cvlayers.MaxPool1d(2),
}


def _power(out: Tensor) -> Tensor:
    return (out.abs() if out.is_complex() else out).square().sum()


# vmap falls back to a loop over the batch, with this warning, for an op without a batching
# rule (conj_physical, clamp_, addcmul_ in the modulus activations' backward ran 3-5x slower).
NO_VMAP_FALLBACK = pytest.mark.filterwarnings("error:There is a performance drop")


@NO_VMAP_FALLBACK
@pytest.mark.filterwarnings("ignore:Complex modules are a new feature")
@pytest.mark.parametrize("name", list(MODULES))
def test_vmap_and_grad_match_the_loop_and_backward(
    name: str, dtype: torch.dtype, device: torch.device
) -> None:
    torch.manual_seed(0)
    module = MODULES[name]().to(device, dtype)  # KeepsKind: real parameters take its precision
    x = torch.randn(4, 3, 5, dtype=dtype, device=device)
    torch.testing.assert_close(vmap(module)(x), torch.stack([module(s) for s in x]))
    per_input = grad(lambda z: _power(module(z)))(x)
    leaf = x.clone().requires_grad_(True)
    _power(module(leaf)).backward()
    torch.testing.assert_close(per_input, leaf.grad)
    per_sample = vmap(grad(lambda z: _power(module(z))))(x)  # each sample's own backward
    torch.testing.assert_close(per_sample, leaf.grad)


BATCHED_GRADS: dict[str, tuple[Callable[[], nn.Module], tuple[int, ...]]] = {
    **{name: (make, (2, 3, 5)) for name, make in MODULES.items() if name != "MaxPool1d"},
    "BatchNorm1d": (lambda: cvlayers.BatchNorm1d(3), (8, 3, 5)),
    "BatchNorm2d": (lambda: cvlayers.BatchNorm2d(3), (4, 3, 4, 4)),
    "InstanceNorm2d": (lambda: cvlayers.InstanceNorm2d(3), (2, 3, 4, 4)),
    "GroupNorm": (lambda: cvlayers.GroupNorm(1, 3), (2, 3, 4, 4)),
    "MaxPool2d": (lambda: cvlayers.MaxPool2d(2), (2, 3, 4, 4)),
}


@pytest.mark.filterwarnings("ignore:Complex modules are a new feature")
@pytest.mark.parametrize("native", [True, False], ids=["kernels", "eager"])
@pytest.mark.parametrize("name", list(BATCHED_GRADS))
def test_autograd_batched_gradients_match_the_loop(
    name: str, native: bool, dtype: torch.dtype, device: torch.device
) -> None:
    """Autograd's own vmap over upstream gradients (``is_grads_batched=True``, as
    ``jacobian(..., vectorize=True)`` uses) hands the backwards tensors without storage, which
    the kernels cannot read (they once raised): those backwards run the torch ops."""
    make, shape = BATCHED_GRADS[name]
    module = make().to(device, dtype)
    x = torch.randn(shape, dtype=dtype, device=device, requires_grad=True)
    with contextlib.nullcontext() if native else _native.eager():
        out = module(x)
        grads = torch.randn(3, *out.shape, dtype=out.dtype, device=device)
        (batched,) = torch.autograd.grad(out, x, grads, is_grads_batched=True, retain_graph=True)
        loop = [torch.autograd.grad(out, x, g, retain_graph=True)[0] for g in grads]
    tol = {"rtol": 1e-4, "atol": 1e-5} if dtype == torch.complex64 else {}
    torch.testing.assert_close(batched, torch.stack(loop), **tol)


@NO_VMAP_FALLBACK
def test_vmap_over_max_pool2d_matches_the_loop() -> None:
    """Max pooling by modulus under vmap and grad (its CPU path takes a channels-last copy,
    which vmap cannot query: the transform takes torch's layout as it comes)."""
    pool = cvlayers.MaxPool2d(2)
    x = torch.randn(4, 2, 3, 6, 6, dtype=torch.complex64)
    torch.testing.assert_close(vmap(pool)(x), torch.stack([pool(s) for s in x]))
    per_sample = vmap(grad(lambda z: _power(pool(z))))(x)
    leaf = x.clone().requires_grad_(True)
    _power(torch.stack([pool(s) for s in leaf])).backward()
    torch.testing.assert_close(per_sample, leaf.grad)


@NO_VMAP_FALLBACK
@pytest.mark.parametrize("name", ["CPReLU", "ModReLU", "Linear", "LayerNorm"])
def test_per_sample_parameter_gradients(name: str) -> None:
    """vmap(grad(loss)) over a batch: each sample's parameter gradient, as a loop gives."""
    torch.manual_seed(0)
    module = MODULES[name]()
    params = {k: v.detach() for k, v in module.named_parameters()}
    x = torch.randn(4, 3, 5, dtype=torch.complex64)

    def loss(p: dict[str, Tensor], z: Tensor) -> Tensor:
        return _power(functional_call(module, p, (z.unsqueeze(0),)))

    per_sample = vmap(grad(loss), in_dims=(None, 0))(params, x)
    for key, value in per_sample.items():
        leaf = params[key].clone().requires_grad_(True)
        loop = [torch.autograd.grad(loss({**params, key: leaf}, s), leaf)[0] for s in x]
        torch.testing.assert_close(value, torch.stack(loop))


def test_phase_loss_per_sample_gradients() -> None:
    torch.manual_seed(0)
    x, y = torch.randn(4, 6, dtype=torch.complex64), torch.randn(4, 6, dtype=torch.complex64)
    loss = PhaseLoss()
    per_sample = vmap(grad(loss))(x, y)
    loop = []
    for a, b in zip(x, y, strict=True):
        leaf = a.clone().requires_grad_(True)
        loop.append(torch.autograd.grad(loss(leaf, b), leaf)[0])
    torch.testing.assert_close(per_sample, torch.stack(loop))


def test_plain_autograd_skips_the_per_call_signature_binding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Outside transforms the classic twin runs: torch's Function.apply would bind the
    arguments of a torch.func-style Function with inspect.signature on every call (~30 us)."""
    import inspect

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("inspect.signature called on the plain autograd path")

    x = torch.randn(3, 4, dtype=torch.complex64, requires_grad=True)
    monkeypatch.setattr(inspect, "signature", refuse)
    out = cvlayers.ModSigmoid()(cvlayers.CTanh()(x))
    PhaseLoss()(out, torch.ones_like(out)).backward()
    assert x.grad is not None and out.grad_fn is not None
    assert type(out.grad_fn).__name__ == "_ModulusScaleBackward"


# Functional forms with their real parameters as inputs, so that gradcheck also checks the
# parameters' tangents: name -> (function, parameter shape or None).
FORWARD_AD: dict[str, tuple[Callable[..., Tensor], tuple[int, ...] | None]] = {
    "crelu": (CF.crelu, None),
    "ctanh": (CF.ctanh, None),
    "csigmoid": (CF.csigmoid, None),
    "celu": (CF.celu, None),
    "ccelu": (lambda z: CF.ccelu(z, 0.7), None),
    "cgelu": (CF.cgelu, None),
    "zrelu": (CF.zrelu, None),
    "cprelu": (CF.cprelu, (3, 2)),
    "modrelu": (CF.modrelu, (3, 1)),
    "mod_tanh": (CF.mod_tanh, None),
    "mod_sigmoid": (CF.mod_sigmoid, None),
    "cardioid": (CF.cardioid, None),
    "mod": (CF.mod, None),
}


@pytest.mark.parametrize("name", list(FORWARD_AD))
def test_forward_mode_ad_of_every_activation(name: str, device: torch.device) -> None:
    """jvp (forward-mode AD, torch.func.jvp / jacfwd) against finite differences, for the input
    and the parameters, also batched: the Functions' jvp (away from 0; at 0, below)."""
    fn, param_shape = FORWARD_AD[name]
    z = torch.randn(2, 3, 4, dtype=torch.complex128, device=device, requires_grad=True)
    inputs: tuple[Tensor, ...] = (z,)
    if param_shape is not None:
        inputs += (torch.rand(param_shape, dtype=torch.float64, device=device) - 0.2,)
        inputs[1].requires_grad_(True)
    assert torch.autograd.gradcheck(
        fn, inputs, check_forward_ad=True, check_batched_forward_grad=True
    )


@pytest.mark.parametrize(
    ("name", "slope"), [("mod_tanh", 1.0), ("cardioid", 0.5), ("ctanh", 1.0), ("zrelu", 0.0)]
)
def test_forward_mode_ad_at_zero(name: str, slope: float) -> None:
    """At z = 0 the tangent is the documented derivative times v (ModTanh 1, Cardioid 1/2),
    and jacfwd agrees with jacrev there."""
    fn = FORWARD_AD[name][0]
    z = torch.zeros(3, dtype=torch.complex128)
    v = torch.tensor([1 + 2j, -0.5j, 3.0], dtype=torch.complex128)
    out, tangent = torch.func.jvp(fn, (z,), (v,))
    torch.testing.assert_close(out, torch.zeros_like(z))
    torch.testing.assert_close(tangent, slope * v)

    def real_map(parts: Tensor) -> Tensor:
        return torch.view_as_real(fn(torch.view_as_complex(parts)))

    parts = torch.view_as_real(z).clone()
    torch.testing.assert_close(
        torch.func.jacfwd(real_map)(parts), torch.func.jacrev(real_map)(parts)
    )


@pytest.mark.filterwarnings("ignore:Complex modules are a new feature")
@pytest.mark.parametrize("name", ["LayerNorm", "RMSNorm", "BatchNorm2d", "GroupNorm", "MaxPool2d"])
def test_forward_mode_ad_of_norms_and_pooling(name: str, device: torch.device) -> None:
    """Under forward-mode AD the norms run their torch ops, which carry the tangents."""
    make, shape = BATCHED_GRADS[name]
    module = make().to(device, torch.complex128)
    z = torch.randn(shape, dtype=torch.complex128, device=device, requires_grad=True)
    assert torch.autograd.gradcheck(module, (z,), check_forward_ad=True)


def test_forward_mode_ad_of_the_phase_loss() -> None:
    x = torch.randn(4, 3, dtype=torch.complex128, requires_grad=True)
    y = torch.randn(4, 3, dtype=torch.complex128, requires_grad=True)
    for weight in ("target", "none"):
        assert torch.autograd.gradcheck(
            lambda a, b, w=weight: phase_loss(a, b, weight=w), (x, y), check_forward_ad=True
        )


def test_dual_tensors_give_the_kernels_outputs() -> None:
    """A forward under ``dual_level`` (the torch ops) gives the kernels' outputs, and its
    tangent equals torch.func.jvp's."""
    import torch.autograd.forward_ad as fwAD

    z = torch.randn(5, 6, dtype=torch.complex64)
    v = torch.randn_like(z)
    module = nn.Sequential(cvlayers.ModReLU(6), cvlayers.LayerNorm(6), cvlayers.CTanh())
    expected = module(z)
    with fwAD.dual_level():
        out = module(fwAD.make_dual(z, v))
        primal, tangent = fwAD.unpack_dual(out)
    torch.testing.assert_close(primal, expected)
    torch.testing.assert_close(tangent, torch.func.jvp(module, (z,), (v,))[1])


@pytest.mark.parametrize("name", ["mod_tanh", "cardioid", "cprelu", "ctanh"])
def test_hessian_is_jacrev_of_jacrev(name: str) -> None:
    """torch.func.hessian (jacfwd over jacrev: forward mode through the backward) of a real
    loss equals reverse over reverse."""
    fn, param_shape = FORWARD_AD[name]
    params = () if param_shape is None else (torch.full(param_shape, 0.3, dtype=torch.float64),)

    def loss(parts: Tensor) -> Tensor:
        out = fn(torch.view_as_complex(parts), *params)
        return (out.abs() ** 2).sum() + (out.real * 0.3).sum()

    parts = torch.randn(2, 3, 4, 2, dtype=torch.float64)
    torch.testing.assert_close(
        torch.func.hessian(loss)(parts), torch.func.jacrev(torch.func.jacrev(loss))(parts)
    )
