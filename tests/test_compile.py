"""torch.compile on a small complex CNN built only from cvlayers modules."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
import torch._dynamo
from torch import nn

import cvlayers
import cvlayers.optim
from cvlayers import _native


def _cnn() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        cvlayers.Conv2d(1, 4, 3, padding=1),
        cvlayers.BatchNorm2d(4),
        cvlayers.CReLU(),
        cvlayers.MaxPool2d(2),
        cvlayers.Conv2d(4, 4, 3, padding=1),
        cvlayers.ModReLU(num_features=4, bias=-0.1),
        cvlayers.AvgPool2d(2),
        torch.nn.Flatten(),
        cvlayers.Linear(16, 3),
        cvlayers.Cardioid(),
    )


@pytest.mark.filterwarnings("ignore:Torchinductor does not support code generation for complex")
def test_compiled_cnn_matches_eager_forward_and_backward() -> None:
    x = torch.randn(8, 1, 8, 8, dtype=torch.complex64)
    eager, compiled = _cnn(), _cnn()
    compiled.load_state_dict(eager.state_dict())
    run = torch.compile(compiled)  # default backend (inductor)
    out_eager, out_compiled = eager(x), run(x)
    torch.testing.assert_close(out_compiled, out_eager, rtol=1e-5, atol=1e-6)
    out_eager.abs().sum().backward()
    out_compiled.abs().sum().backward()
    for a, b in zip(eager.parameters(), compiled.parameters(), strict=True):
        assert a.grad is not None and b.grad is not None
        torch.testing.assert_close(b.grad, a.grad, rtol=1e-4, atol=1e-5)


class _EncoderDecoder(nn.Module):
    """The modules that torch has no complex kernel for, in a small U-Net-like block."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(1)
        self.conv = cvlayers.Conv2d(2, 4, 3, padding=1)
        self.norm = cvlayers.InstanceNorm2d(4, affine=True)
        self.pool = cvlayers.MaxPool2d(2, return_indices=True)
        self.unpool = cvlayers.MaxUnpool2d(2)
        self.average = cvlayers.AvgPool2d(2)
        self.up = cvlayers.Upsample(scale_factor=2, mode="bilinear")
        self.decode = cvlayers.ConvTranspose2d(4, 2, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = cvlayers.functional.crelu(self.norm(self.conv(x)))
        pooled, indices = self.pool(h)
        out: torch.Tensor = self.decode(self.unpool(pooled, indices) + self.up(self.average(h)))
        return out


@pytest.mark.filterwarnings("ignore:Torchinductor does not support code generation for complex")
def test_compiled_encoder_decoder_matches_eager() -> None:
    """InstanceNorm, MaxUnpool, Upsample and ConvTranspose under torch.compile: the output and
    the input gradient match eager mode's."""
    model = _EncoderDecoder()
    x = torch.randn(2, 2, 8, 8, dtype=torch.complex64)
    results = []
    for run in (model, torch.compile(model)):
        z = x.clone().requires_grad_(True)
        out = run(z)
        out.abs().sum().backward()
        results.append((out.detach(), z.grad))
    for got, expected in zip(results[1], results[0], strict=True):
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


def test_cnn_has_no_graph_breaks() -> None:
    torch._dynamo.reset()
    explanation = torch._dynamo.explain(_cnn())(torch.randn(2, 1, 8, 8, dtype=torch.complex64))
    assert explanation.graph_break_count == 0, explanation.break_reasons
    assert explanation.graph_count == 1


ACTIVATIONS = [
    "CReLU",
    "ZReLU",
    "CPReLU",
    "Mod",
    "CELU",
    "CCELU",
    "CTanh",
    "CGELU",
    "CSigmoid",
    "ModReLU",
    "ModTanh",
    "ModSigmoid",
    "Cardioid",
]


@pytest.mark.skipif(not _native.enabled(), reason="compiled kernels not built or switched off")
@pytest.mark.filterwarnings("ignore:Torchinductor does not support code generation for complex")
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_compiled_activation_calls_the_kernels(name: str, launches: list[str]) -> None:
    """A compiled graph calls the fused kernels (custom ops), as eager mode does, with the
    same results to the bit: Inductor has no code for complex ops, and the eager maths it
    traced before ran 1.4-28x slower than the kernels (fwd+bwd, 1M elements)."""
    torch._dynamo.reset()
    module = getattr(cvlayers, name)()
    x = torch.randn(4, 3, 40, dtype=torch.complex64)
    leaf = x.clone().requires_grad_(True)
    expected = module(leaf)
    expected.sum().backward() if not expected.is_complex() else expected.abs().sum().backward()
    launches.clear()  # (only what runs from here on)
    compiled_leaf = x.clone().requires_grad_(True)
    out = torch.compile(module, fullgraph=True)(compiled_leaf)
    out.sum().backward() if not out.is_complex() else out.abs().sum().backward()
    assert torch.equal(out, expected)
    assert compiled_leaf.grad is not None and torch.equal(compiled_leaf.grad, leaf.grad)
    fused = {f.rpartition("_")[0] for f in launches if f.endswith("_fwd")}
    assert fused and {f"{f}_bwd" for f in fused} <= set(launches), launches


@pytest.mark.skipif(not _native.enabled(), reason="compiled kernels not built or switched off")
@pytest.mark.filterwarnings("ignore:Torchinductor does not support code generation for complex")
def test_compiled_batch_norm_calls_the_kernels(launches: list[str]) -> None:
    """Training-mode BatchNorm in a compiled graph runs its kernels (custom ops) and equals
    eager mode to the bit: output and gradients."""
    torch._dynamo.reset()
    x = torch.randn(4, 3, 40, dtype=torch.complex64) * (2 + 1j) + 1
    grad = torch.randn_like(x)
    results = []
    for compiled in (False, True):
        torch.manual_seed(0)
        bn = cvlayers.BatchNorm1d(3)
        with torch.no_grad():
            bn.weight.add_(0.1 * torch.randn_like(bn.weight))
        leaf = x.clone().requires_grad_(True)
        run = torch.compile(bn, fullgraph=True) if compiled else bn
        launches.clear()
        out = run(leaf)
        out.backward(grad)
        assert launches == ["bn_sums", "bn_affine", "bn_sums", "bn_affine"]
        results.append([out, leaf.grad, bn.weight.grad, bn.bias.grad, bn.running_covar])
    for a, b in zip(results[0][:4], results[1][:4], strict=True):
        assert torch.equal(a, b)
    # The running update is Inductor's own code for real ops (fused, rounds differently).
    torch.testing.assert_close(results[1][4], results[0][4], rtol=1e-6, atol=0)


@pytest.mark.skipif(not _native.enabled(), reason="compiled kernels not built or switched off")
@pytest.mark.filterwarnings("ignore:Torchinductor does not support code generation for complex")
@pytest.mark.parametrize(
    "make",
    [
        lambda: cvlayers.LayerNorm([3, 128]),
        lambda: cvlayers.GroupNorm(3, 6),
        lambda: cvlayers.RMSNorm([3, 128]),
    ],
)
def test_compiled_power_norm_calls_the_kernels(
    make: Callable[[], nn.Module], launches: list[str]
) -> None:
    """LayerNorm, GroupNorm and RMSNorm in a compiled graph run their kernels (custom ops) and equal
    eager mode: output and gradients (the per-run scale is Inductor's own code for real ops,
    which may round differently)."""
    torch._dynamo.reset()
    x = torch.randn(4, 6, 64, dtype=torch.complex64).view(4, 3, 128) * (2 + 1j) + 1
    results = []
    for compiled in (False, True):
        torch.manual_seed(0)
        norm = make()
        z = x.view(4, 6, 64) if isinstance(norm, cvlayers.GroupNorm) else x
        with torch.no_grad():
            for p in norm.parameters():
                p.add_(0.3 * torch.randn_like(p))
        leaf = z.clone().requires_grad_(True)
        run = torch.compile(norm, fullgraph=True) if compiled else norm
        launches.clear()
        out = run(leaf)
        out.backward(torch.ones_like(out))
        # mean and power, then the normalisation with gamma and beta
        forward, backward = ["bn_sums", "bn_affine"], ["bn_sums", "bn_affine"]
        if isinstance(norm, (cvlayers.LayerNorm, cvlayers.RMSNorm)):
            forward, backward = ["bn_sums", "ln_affine"], ["ln_sums", "ln_affine"]
        assert sorted(launches) == sorted(forward + backward)  # a graph may reorder them
        results.append([out, leaf.grad, *(p.grad for p in norm.parameters())])
    for a, b in zip(*results, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)


@pytest.mark.filterwarnings("ignore:Torchinductor does not support code generation for complex")
@pytest.mark.parametrize("name", ["ModReLU", "CPReLU"])
def test_compiled_activation_on_a_lazy_conjugate(name: str) -> None:
    """Dynamo cannot ask a tensor for its conjugate bit, so the kernels' custom ops resolve it
    when they run: the compiled result is the kernel's on the resolved input."""
    torch._dynamo.reset()
    module = getattr(cvlayers, name)()
    x = torch.randn(3, 37, dtype=torch.complex64).conj()
    assert x.is_conj()
    out = torch.compile(module, fullgraph=True, dynamic=True)(x)
    assert torch.equal(out, module(x.resolve_conj()))


OPTIMIZERS = [
    *[
        ("SGD", {"momentum": 0.9, "conjugate": c, "half": h})
        for c in (True, False)
        for h in (True, False)
    ],
    ("Adam", {"moment": "componentwise", "conjugate": False}),
    ("Adam", {"moment": "modulus"}),
]


def _model_and_optimizer(
    name: str, options: dict[str, object]
) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(0)
    model = cvlayers.Linear(6, 4)
    for p in model.parameters():
        p.grad = torch.randn_like(p)
    cls = getattr(cvlayers.optim, name)
    return model, cls(model.parameters(), lr=0.1, **options)


@pytest.mark.parametrize(("name", "options"), OPTIMIZERS, ids=[f"{n}-{o}" for n, o in OPTIMIZERS])
def test_compiled_optimizer_step_matches_eager(name: str, options: dict[str, object]) -> None:
    """As in PyTorch's tutorial on compiling optimizers: wrap opt.step in torch.compile."""
    eager_model, eager_opt = _model_and_optimizer(name, options)
    model, opt = _model_and_optimizer(name, options)
    torch._dynamo.reset()
    explanation = torch._dynamo.explain(_model_and_optimizer(name, options)[1].step)()
    assert explanation.graph_break_count == 0, explanation.break_reasons
    step = torch.compile(opt.step)
    for _ in range(3):
        eager_opt.step()
        step()
    for a, b in zip(model.parameters(), eager_model.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    assert not torch.equal(model.weight, _model_and_optimizer(name, options)[0].weight)


def _kernel_op_samples() -> list[tuple[str, tuple[object, ...]]]:
    """Each norm KernelOp with arguments of the shapes its callers pass (complex128)."""
    gen = torch.Generator().manual_seed(0)

    def c(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, dtype=torch.complex128, generator=gen)

    def r(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, dtype=torch.float64, generator=gen) + 0.5

    x, g = c(4, 3, 5), c(4, 3, 5)
    mean, weight, bias = c(3), r(3, 3), c(3)
    cov = torch.tensor([[2.0, 2.5, 1.5], [0.3, -0.2, 0.1], [1.5, 1.0, 2.0]], dtype=torch.float64)
    rows, grad_rows, gamma, beta = c(6, 8), c(6, 8), c(8), c(8)
    planes = x.view(1, 12, 5)
    return [
        ("bn_moments", (x, 3, 5)),
        ("bn_whiten", (x, weight, bias, mean, cov, 1e-5, 3, 5)),
        ("bn_whiten", (x, None, None, mean, cov, 1e-5, 3, 5)),
        ("bn_whiten_backward", (g, x, weight, mean, cov, 1e-5, 3, 5, True, True, True, True)),
        ("bn_whiten_backward", (g, x, None, mean, cov, 1e-5, 3, 5, False, True, False, False)),
        ("complex_affine", (x, bias, c(3), 3, 5)),
        ("complex_affine", (x, None, bias, 3, 5)),
        ("complex_affine_backward", (g, x, bias, 3, 5, True, True, True)),
        ("complex_affine_backward", (g, x, None, 3, 5, False, False, True)),
        ("run_moments", (x.view(1, 12, 5), 1e-5, True)),
        ("run_moments", (x.view(1, 12, 5), 1e-5, False)),
        ("power_norm_pass", (x.view(1, 12, 5), None, c(12), r(12))),
        ("power_norm_pass", (x.view(1, 12, 5), g.view(1, 12, 5), c(12), r(12))),
        ("gn_forward", (planes, c(6), r(6), c(6), c(6), 3)),  # 2 samples, 6 channels
        ("gn_forward", (planes, c(6), r(6), None, None, 3)),
        ("gn_backward", (g.view(1, 12, 5), planes, c(6), r(6), c(6), 3, True, True, True)),
        ("gn_backward", (g.view(1, 12, 5), planes, c(6), r(6), None, 3, True, False, True)),
        ("ln_forward", (rows, c(6), r(6), gamma, beta)),
        ("ln_forward", (rows, c(6), r(6), None, beta)),
        ("ln_backward", (grad_rows, rows, c(6), r(6), gamma, True, True, True, True)),
        ("ln_backward", (grad_rows, rows, c(6), r(6), None, True, True, False, True)),
        ("ln_backward", (grad_rows, rows, c(6), r(6), gamma, False, True, True, False)),
    ]


@pytest.mark.skipif(not _native.enabled(), reason="compiled kernels not built or switched off")
@pytest.mark.parametrize(("name", "args"), _kernel_op_samples())
def test_norm_kernel_ops_pass_opcheck(name: str, args: tuple[object, ...]) -> None:
    """The custom ops a compiled graph calls: schema, fake (meta) shapes and their use under
    AOT autograd agree with what the kernels return (torch.library.opcheck)."""
    op = getattr(torch.ops.cvlayers, name).default
    torch.library.opcheck(op, args)
