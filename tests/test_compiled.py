"""The compiled path of the modulus activations (cvlayers._compiled), the GPU's fused kernels.

On the CPU it is forced on (``_compiled.on("cpu")``, the C kernels off), so that Inductor's CPU
build of the same graphs checks the maths here; on CUDA it runs as users get it. Its outputs
and gradients are held to the eager complex formulas, which the rest of the suite pins to
closed forms and gradcheck.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import torch
from torch import nn

import cvlayers
from cvlayers import _compiled, _native


@pytest.fixture(autouse=True)
def _cpu_needs_a_cpp_compiler(request: pytest.FixtureRequest) -> None:
    """Inductor builds the CPU graphs with a C++ compiler (g++ here; the CPU's C kernels need
    only a C one)."""
    device = (
        request.node.callspec.params.get("device") if hasattr(request.node, "callspec") else None
    )
    if str(device) == "cpu" and not any(map(shutil.which, ("g++", "c++", "clang++"))):
        pytest.skip("no C++ compiler for Inductor's CPU build")


@contextlib.contextmanager
def compiled_on(device: torch.device, spy: bool = True) -> Iterator[list[str]]:
    """The compiled path on ``device`` (the C kernels off); yields the names of the compiled
    functions run, in order, if ``spy`` (which a caller's torch.compile cannot trace)."""
    ran: list[str] = []
    run = _compiled._run

    def record(fn: Callable[..., Any], *args: Any) -> Any:
        ran.append(fn.__name__)
        return run(fn, *args)

    if spy:
        _compiled._run = record
    # On also under CVLAYERS_COMPILE=0; the previous state after the block.
    forced_on = _native.switched(_compiled.enabled, True)
    try:
        with forced_on, _native.eager(), _compiled.on(device.type):
            yield ran
    finally:
        _compiled._run = run


@contextlib.contextmanager
def eager_maths() -> Iterator[None]:
    """Neither the C kernels nor the compiled path: the eager formulas, on any device."""
    with _native.eager(), _compiled.eager():
        yield


def _forward_backward(
    module: nn.Module, z: torch.Tensor, grad: torch.Tensor
) -> tuple[torch.Tensor, ...]:
    x = z.detach().clone().requires_grad_(True)
    out = module(x)
    params = [p for p in module.parameters() if p.requires_grad]
    grads = torch.autograd.grad(out, [x, *params], grad)
    return (out.detach(), *grads)


def _samples(shape: tuple[int, ...], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """Random values with 0, a denormal, a tiny and a huge modulus among them."""
    z = torch.randn(shape, dtype=dtype, device=device)
    flat = z.view(-1)
    tiny = torch.finfo(z.real.dtype).tiny
    flat[:4] = torch.tensor([0, tiny / 8, 1e-30 * (1 + 1j), 3e37 * (1 - 1j)], dtype=dtype)
    return z


def _runs(name: str) -> list[str]:
    return [f"_{name}_forward", f"_{name}_backward"]


_FLAT, _IMAGE = (5, 3, 7), (4, 3, 5, 6)

# name -> (module, input shape, memory layout ("": contiguous), the compiled functions run)
CASES: dict[str, tuple[Callable[[], nn.Module], tuple[int, ...], str, list[str]]] = {
    "ModReLU scalar bias": (lambda: cvlayers.ModReLU(bias=-0.3), _FLAT, "", _runs("modrelu")),
    "ModReLU per channel": (lambda: cvlayers.ModReLU(3), _IMAGE, "", _runs("modrelu")),
    "ModReLU per channel, channels last": (
        lambda: cvlayers.ModReLU(3),
        _IMAGE,
        "channels_last",
        _runs("modrelu"),
    ),
    "ModReLU per feature": (lambda: cvlayers.ModReLU(9), (6, 9), "", _runs("modrelu")),
    "ModTanh": (cvlayers.ModTanh, _FLAT, "", _runs("modtanh")),
    "ModTanh transposed": (cvlayers.ModTanh, (5, 8), "transposed", _runs("modtanh")),
    "ModSigmoid": (cvlayers.ModSigmoid, _FLAT, "", _runs("modsigmoid")),
    "Cardioid": (cvlayers.Cardioid, _FLAT, "", _runs("cardioid")),
    "Cardioid lazily conjugated": (cvlayers.Cardioid, _FLAT, "conj", _runs("cardioid")),
    "CPReLU shared": (cvlayers.CPReLU, _FLAT, "", ["_prelu", "_prelu_backward"]),
    "CPReLU per channel, channels last": (
        lambda: cvlayers.CPReLU(num_parameters=3, init=0.1),
        _IMAGE,
        "channels_last",
        ["_prelu", "_prelu_backward"],
    ),
    "ZReLU": (cvlayers.ZReLU, _FLAT, "", ["_first_quadrant_times"] * 2),
    "CTanh": (cvlayers.CTanh, _FLAT, "transposed", ["_tanh_backward"]),
    "CSigmoid": (cvlayers.CSigmoid, _FLAT, "", ["_sigmoid_backward"]),
}


def _laid_out(z: torch.Tensor, layout: str) -> torch.Tensor:
    if layout == "channels_last":
        return z.contiguous(memory_format=torch.channels_last)
    if layout == "transposed":
        return z.transpose(0, -1).contiguous().transpose(0, -1)
    if layout == "conj":
        return z.conj()
    return z


@pytest.mark.parametrize("case", list(CASES))
def test_compiled_matches_the_eager_maths(
    case: str, device: torch.device, dtype: torch.dtype
) -> None:
    """Output, input gradient and bias gradient of the compiled path against the eager complex
    formulas, over 0, a denormal, tiny and huge moduli and every layout; the output keeps the
    input's strides."""
    if dtype == torch.complex128 and case != "ModReLU per channel":
        pytest.skip("complex128: one case (each case compiles its graphs anew)")
    make, shape, layout, expected_runs = CASES[case]
    module = make().to(device=device, dtype=torch.float64 if dtype == torch.complex128 else None)
    z = _laid_out(_samples(shape, dtype, device), layout)
    grad = _laid_out(torch.randn(shape, dtype=dtype, device=device), layout)
    with eager_maths():
        expected = _forward_backward(module, z, grad)
    with compiled_on(device) as ran:
        got = _forward_backward(module, z, grad)
    assert ran == expected_runs
    assert got[0].stride() == z.stride()
    for a, b in zip(got, expected, strict=True):
        assert torch.isfinite(torch.view_as_real(a) if a.is_complex() else a).all()
        torch.testing.assert_close(a, b, rtol=2e-6 if dtype == torch.complex64 else 1e-13, atol=0)


@pytest.mark.parametrize(
    "case", ["ModReLU per channel", "ModTanh", "ModSigmoid", "Cardioid", "CPReLU shared", "ZReLU"]
)
def test_compiled_output_can_be_modified_in_place(case: str, device: torch.device) -> None:
    """y = act(x); y += r (a residual added in place) works, with the gradient of act(x) + r:
    the compiled forward's output is no view (autograd forbids modifying a custom Function's
    output that is one in place)."""
    make, shape, _, runs = CASES[case]
    module = make().to(device)
    x = torch.randn(shape, dtype=torch.complex64, device=device, requires_grad=True)
    r, grad = torch.randn_like(x), torch.randn_like(x)
    with eager_maths():
        (want,) = torch.autograd.grad(module(x) + r, x, grad)
    with compiled_on(device) as ran:
        y = module(x)
        y += r
        (got,) = torch.autograd.grad(y, x, grad)
    assert ran == runs
    torch.testing.assert_close(got, want, rtol=2e-6, atol=0)


def test_one_graph_for_every_shape(device: torch.device) -> None:
    """Other sizes (and ranks) with the same channels-inside layout run the graphs compiled
    for the first. (A size of 1, such as a bias on the last dimension, compiles its own.)"""
    module = cvlayers.ModReLU(num_features=4).to(device)
    with compiled_on(device):
        _forward_backward(module, *[torch.randn(3, 4, 5, device=device, dtype=torch.cfloat)] * 2)
        counts = dict(torch._dynamo.utils.counters["stats"])
        for shape in [(7, 4, 9), (2, 4, 3), (5, 4, 2, 3)]:
            z = torch.randn(shape, dtype=torch.complex64, device=device)
            _forward_backward(module, z, z)
        assert dict(torch._dynamo.utils.counters["stats"]) == counts


# Inputs that each need a graph of their own for ModReLU's forward and backward: sizes of 1
# are specialised, and so are dtypes.
GRAPH_KINDS = [
    ((3, 4, 5), torch.complex64),
    ((3, 4, 5), torch.complex128),
    ((1, 4, 1), torch.complex64),
]


@contextlib.contextmanager
def _no_cvlayers_warning() -> Iterator[None]:
    """Fails on a warning from cvlayers in the block (torch's own, such as deprecations that
    Inductor meets as it compiles, pass)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    assert [str(w.message) for w in caught if "cvlayers" in str(w.message)] == []


def _modrelu_on(shape: tuple[int, ...], dtype: torch.dtype, device: torch.device) -> nn.Module:
    real = torch.float32 if dtype == torch.complex64 else torch.float64
    return cvlayers.ModReLU(num_features=shape[1], device=device, dtype=real)


def _global_limit_of_one() -> contextlib.AbstractContextManager[None]:
    """Dynamo's global recompile limit at 1 inside the block."""
    patch: contextlib.AbstractContextManager[None] = torch._dynamo.config.patch(recompile_limit=1)
    return patch


@pytest.fixture(params=[True, False], ids=["own-limit", "older-torch"])
def fresh_graphs(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The graph limit through torch.compile's own ``recompile_limit``, or as on an older torch
    that has none, and no compiled graphs: the wrappers are rebuilt at their next call (with
    a limit the test may patch) and dynamo's caches emptied, so that each kind of input
    compiles in the test; the wrappers are rebuilt again after it."""
    if request.param and not _compiled._PER_FUNCTION_LIMIT:
        pytest.skip("this torch.compile takes no recompile_limit")
    monkeypatch.setattr(_compiled, "_PER_FUNCTION_LIMIT", request.param)
    _compiled._compiled.cache_clear()
    torch._dynamo.reset()
    yield
    _compiled._compiled.cache_clear()


@pytest.mark.usefixtures("fresh_graphs")
def test_more_graphs_than_dynamos_global_limit(device: torch.device) -> None:
    """Each compiled function keeps up to RECOMPILE_LIMIT graphs whatever dynamo's global
    limit (8 by default, past which a fullgraph compile raises): with that set to 1, three
    kinds of input still compile, without a warning, and match the eager maths; through
    torch.compile's own limit, or where an older torch has none, by raising the global one
    for a compile that meets it."""
    for shape, dtype in GRAPH_KINDS:
        module = _modrelu_on(shape, dtype, device)
        z = torch.randn(shape, dtype=dtype, device=device)
        with eager_maths():
            want = _forward_backward(module, z, z)
        with _global_limit_of_one(), _no_cvlayers_warning(), compiled_on(device) as ran:
            got = _forward_backward(module, z, z)
        assert ran == ["_modrelu_forward", "_modrelu_backward"]
        for a, b in zip(got, want, strict=True):
            torch.testing.assert_close(a, b)


@pytest.mark.usefixtures("fresh_graphs")
def test_past_the_limit_the_eager_maths_with_a_warning(
    device: torch.device, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An input that none of a function's RECOMPILE_LIMIT graphs fits runs that function's
    maths as it is (a warning, once per function); inputs that fit keep their graphs."""
    monkeypatch.setattr(_compiled, "RECOMPILE_LIMIT", 1)
    monkeypatch.setattr(_compiled, "_warned_past_the_limit", set())
    (first, first_dtype), (second, second_dtype) = GRAPH_KINDS[:2]
    module = _modrelu_on(first, first_dtype, device)
    with _global_limit_of_one(), compiled_on(device), _no_cvlayers_warning():
        _forward_backward(module, *[torch.randn(first, dtype=first_dtype, device=device)] * 2)
    z = torch.randn(second, dtype=second_dtype, device=device)
    module = _modrelu_on(second, second_dtype, device)
    with eager_maths():
        want = _forward_backward(module, z, z)
    with _global_limit_of_one(), compiled_on(device):
        with pytest.warns(UserWarning, match="as many compiled graphs"):
            got = _forward_backward(module, z, z)
        for a, b in zip(got, want, strict=True):
            torch.testing.assert_close(a, b)
        assert _compiled._warned_past_the_limit == {"_modrelu_forward", "_modrelu_backward"}
        with _no_cvlayers_warning():
            _forward_backward(module, z, z)


def test_double_backward_and_vmap_take_the_eager_maths(device: torch.device) -> None:
    """A backward that records a graph, torch.func's vmap and autograd's batched gradients run
    the eager formulas."""
    z = torch.randn(3, 5, dtype=torch.complex128, device=device, requires_grad=True)
    with compiled_on(device) as ran:
        assert torch.autograd.gradgradcheck(cvlayers.ModTanh(), (z,))
        assert "_modtanh_forward" in ran and "_modtanh_backward" not in ran
        ran.clear()
        torch.func.vmap(cvlayers.Cardioid())(z.detach())
        assert ran == []
        out = cvlayers.ModSigmoid()(z)
        grads = torch.randn(2, *out.shape, dtype=out.dtype, device=device)
        torch.autograd.grad(out, z, grads, is_grads_batched=True)  # tensors without storage
        assert ran == ["_modsigmoid_forward"]


def test_gradcheck_through_the_compiled_path(device: torch.device) -> None:
    z = torch.randn(4, 3, dtype=torch.complex128, device=device, requires_grad=True)
    module = cvlayers.ModReLU(num_features=3).to(device=device, dtype=torch.float64)
    with compiled_on(device) as ran:
        assert torch.autograd.gradcheck(module, (z,))
    assert "_modrelu_backward" in ran


def test_a_failing_compiler_leaves_the_eager_maths(
    device: torch.device, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A compiler that raises turns the path off, once, with a warning; results are the eager
    formulas'."""

    def broken(fn: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any) -> Any:
            raise torch._dynamo.exc.BackendCompilerFailed(broken, RuntimeError("no cc"), None)

        return run

    monkeypatch.setattr(_compiled, "_compiled", broken)
    z = torch.randn(6, dtype=torch.complex64, device=device)
    with eager_maths():
        expected = cvlayers.ModSigmoid()(z)
    with compiled_on(device):
        with pytest.warns(UserWarning, match="torch.compile failed"):
            got = cvlayers.ModSigmoid()(z)
        assert not _compiled.enabled()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            cvlayers.ModSigmoid()(z)
    torch.testing.assert_close(got, expected, rtol=0, atol=0)


@pytest.mark.skipif(
    os.environ.get("CVLAYERS_GPU_PATH") == "compiled", reason="the compiled path forced on the CPU"
)
def test_cpu_runs_its_own_kernels_by_default() -> None:
    """Outside the tests the CPU never compiles: ``cpu`` is not in DEVICES."""
    assert "cpu" not in _compiled.DEVICES
    assert not _compiled.usable(torch.randn(3, dtype=torch.complex64))


def test_inside_a_callers_compile_the_maths_is_traced(
    device: torch.device, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under the caller's torch.compile the functions run as they are (no nested compile), so
    that the caller's graph holds their real-part maths, forward and backward (``torch.hypot``,
    where the eager formulas take a complex ``abs``); results match eager mode. The look for
    a compiler (Triton queries the device) is not traced."""
    graphs: list[torch.fx.GraphModule] = []

    def capture(gm: torch.fx.GraphModule, inputs: list[torch.Tensor]) -> Callable[..., Any]:
        graphs.append(gm)
        return gm.forward

    model = nn.Sequential(cvlayers.ModReLU(num_features=4), cvlayers.Cardioid()).to(device)
    z = torch.randn(3, 4, dtype=torch.complex64, device=device)

    def not_while_tracing(device_type: str) -> bool:
        raise AssertionError("traced")

    with eager_maths():
        expected = model(z)
    with compiled_on(device, spy=False):
        monkeypatch.setattr(_compiled, "_compiler_present", not_while_tracing)
        got = torch.compile(model, backend=capture, fullgraph=True)(z)
    torch.testing.assert_close(got, expected)
    targets = [node.target for g in graphs for m in g.modules() for node in m.graph.nodes]
    # Forward and backward of each, each with |z| and |z/2|.
    assert targets.count(torch.hypot) == 8 and torch.abs not in targets


def test_zrelu_off_the_quadrant_is_the_complex_product(device: torch.device) -> None:
    """As the eager ``z * mask``: +0 off the first quadrant (also for -1 - 2i), NaN in both
    parts where either part is NaN, and a gradient of 0 there."""
    nan = float("nan")
    z = torch.tensor([complex(nan, 1.0), complex(0.0, nan), -1 - 2j, 2 + 3j], device=device)
    with compiled_on(device) as ran:
        out, grad = _forward_backward(cvlayers.ZReLU(), z, torch.ones_like(z))
    assert ran == ["_first_quadrant_times"] * 2
    pairs = torch.view_as_real(out)
    assert pairs[:2].isnan().all() and not pairs[2:].isnan().any()
    assert not torch.signbit(pairs[2]).any()
    torch.testing.assert_close(grad, torch.tensor([0, 0, 0, 1 + 0j], device=device))


def test_compiles_off_the_main_thread(device: torch.device) -> None:
    """On a GPU the backward runs in autograd's worker thread (and dynamo's settings are per
    thread since torch 2.12): the path compiles and matches eager maths from another thread."""
    z = torch.randn(4, 3, 5, dtype=torch.complex64, device=device)
    grad = torch.randn_like(z)
    module = cvlayers.ModReLU(num_features=3).to(device)
    with eager_maths():
        expected = _forward_backward(module, z, grad)
    results: list[tuple[torch.Tensor, ...]] = []
    with compiled_on(device) as ran:
        worker = threading.Thread(target=lambda: results.append(_forward_backward(module, z, grad)))
        worker.start()
        worker.join()
    assert ran == ["_modrelu_forward", "_modrelu_backward"]
    for a, b in zip(results[0], expected, strict=True):
        torch.testing.assert_close(a, b)


PAST_THE_LARGEST = {
    "ModReLU": lambda: cvlayers.ModReLU(bias=-0.25),
    "ModReLU+": lambda: cvlayers.ModReLU(bias=0.25),
    "ModTanh": cvlayers.ModTanh,
    "ModSigmoid": cvlayers.ModSigmoid,
    "Cardioid": cvlayers.Cardioid,
}


@pytest.mark.parametrize("name", list(PAST_THE_LARGEST))
def test_moduli_past_the_largest_float(name: str, device: torch.device) -> None:
    """Finite complex64 z whose |z| overflows (both parts past max/sqrt 2, 3e38 + 2.5e38i):
    the compiled path takes z/|z| from z/2 there, and matches the same maths in complex128,
    where nothing overflows, in value and gradient. (The eager formulas give u = 0 and
    ModReLU NaN there.)"""
    parts = [3.0e38, -2.5e38, 2.9e38, 0.5, -1.5]
    z = torch.tensor([complex(a, b) for a in parts for b in parts], device=device)
    grad = torch.full_like(z, 0.6 - 0.8j)
    module = PAST_THE_LARGEST[name]().to(device)
    with eager_maths():
        want = _forward_backward(module.double(), z.to(torch.complex128), grad.to(torch.complex128))
    module.float()
    with compiled_on(device):
        got = _forward_backward(module, z, grad)
    for a, b in zip(got, want, strict=True):
        assert not a.isnan().any()
        torch.testing.assert_close(a, b.to(a.dtype), rtol=1e-5, atol=1e-30)
