r"""Fused kernels off the CPU: the activations' maths on (Re, Im), compiled.

On a GPU the eager complex formulas of :mod:`cvlayers._modulus` run 20-30 torch ops, each a
pass over memory (11-15x the time of ``z * 2`` on an H100), and the split activations'
formulas on the real view 3-6 (CPReLU 5.5x). Here the same maths is written on the real and
imaginary parts, which ``torch.compile`` (Inductor: Triton on a GPU) fuses into one kernel
each way: the forward reads z and writes f(z), the backward reads z (or the saved output)
and the upstream gradient and writes the input gradient, summing a bias's gradient as it
goes.
:func:`pointwise` runs such a function over a tensor's memory; the modulus functions are
here, the split ones (``_prelu``, ``_first_quadrant_times``, ``_tanh_backward``, ...) in
:mod:`cvlayers._activation_functional`, where their eager path calls them too.

Where it runs: complex64/128 tensors on :data:`DEVICES` (CUDA; tests add the CPU, which has
its own C kernels), outside torch.func transforms, with a backward that records no graph.
Inside a caller's own ``torch.compile`` the functions are traced as they are, so that graph
fuses them too. ``CVLAYERS_COMPILE=0`` (or :func:`enabled`\ (False)) keeps the eager maths;
a compiler that fails turns this path off with a warning, and the eager maths runs.

Each function has its own compiled code (one cache of graphs per kind and direction), with
dynamic sizes: a new shape reuses the graph, except that sizes of 1 and each dtype get their
own (up to :data:`RECOMPILE_LIMIT` graphs per function). A first call compiles (a few
seconds), and Inductor's cache keeps the kernels for later processes.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import os
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import Tensor

from . import _modulus
from ._checks import REAL_DTYPE
from ._function import transforms_active
from ._native import dense, laid_out_as, switched

__all__ = [
    "DEVICES",
    "RECOMPILE_LIMIT",
    "cardioid",
    "cardioid_backward",
    "eager",
    "enabled",
    "modulus_scale",
    "modulus_scale_backward",
    "on",
    "pointwise",
    "usable",
    "usable_backward",
]

DEVICES = {"cuda"}
_enabled = os.environ.get("CVLAYERS_COMPILE", "1") != "0"


def enabled(value: bool | None = None) -> bool:
    """Whether the compiled path is used; ``enabled(False)`` keeps the eager maths. Returns
    the state."""
    global _enabled
    if value is not None:
        _enabled = value
    return _enabled


def eager() -> contextlib.AbstractContextManager[None]:
    """The eager maths inside the block (tests compare the two paths); the previous state
    after it."""
    return switched(enabled, False)


@contextlib.contextmanager
def on(device: str) -> Iterator[None]:
    """The compiled path on ``device`` too inside the block (the tests run it on the CPU)."""
    added = device not in DEVICES
    DEVICES.add(device)
    try:
        yield
    finally:
        if added:
            DEVICES.discard(device)


@functools.cache
def _compiler_present(device_type: str) -> bool:
    """Whether Inductor can build kernels for ``device_type``: Triton for a GPU."""
    if device_type == "cpu":
        return True
    from torch.utils._triton import has_triton

    return bool(has_triton())


def usable(z: Tensor, *real: Tensor | None) -> bool:
    """Whether the compiled maths applies to complex ``z`` and its real parameters ``real``."""
    if not _enabled or z.dtype not in REAL_DTYPE or z.numel() == 0 or transforms_active():
        return False
    if z.device.type not in DEVICES:
        return False
    # While a caller's torch.compile traces, its backend builds the code (and a look for
    # Triton, which queries the device, is not to be traced).
    if not (torch.compiler.is_compiling() or _compiler_present(z.device.type)):
        return False
    dtype = REAL_DTYPE[z.dtype]
    return all(t is None or (t.dtype == dtype and t.device == z.device) for t in real)


def usable_backward(z: Tensor, *real: Tensor | None) -> bool:
    """:func:`usable`, and no graph of the backward is being recorded (a double backward
    differentiates the eager maths)."""
    return not torch.is_grad_enabled() and usable(z, *real)


# The maths, on real tensors of shape (outer, channels, inner, 2) and a bias of (channels, 1).


def _polar(t: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """|z| (inf where it overflows), u = z/|z| (0 at z = 0), and where |z| overflows for finite
    parts (both past max/sqrt 2) the mask ``over`` and |z|/2, which stays finite: u is then
    taken from z/2. (The eager formulas give u = 0 and ModReLU NaN there.)"""
    x, y = t[..., 0], t[..., 1]
    r = torch.hypot(x, y)
    half = torch.hypot(x * 0.5, y * 0.5)
    over = torch.isinf(r) & torch.isfinite(half)
    nonzero = torch.where(r > 0, r, 1.0)
    u = torch.where(over.unsqueeze(-1), t * 0.5 / half.unsqueeze(-1), t / nonzero.unsqueeze(-1))
    return r, u, over, half, nonzero


def _ratio(
    kind: str, g: Tensor, bias: Tensor | None, over: Tensor, half: Tensor, nonzero: Tensor
) -> Tensor:
    """g(r)/r, saturating at the largest float rather than overflowing to inf (which would
    meet a 0 of u as NaN); where |z| overflows, from |z|/2: (r + b)/r for ModReLU, whose g is
    then inf."""
    big = torch.finfo(g.dtype).max
    if kind == "relu_bias":
        assert bias is not None
        at_over = torch.relu(1 + bias * 0.5 / half)
    else:
        at_over = g * 0.5 / half
    return torch.where(over, at_over, torch.div(g, nonzero).clamp(max=big))


def _scale_forward(t: Tensor, bias: Tensor | None, kind: str) -> Tensor:
    r, u, over, half, nonzero = _polar(t)
    g = _modulus._g(kind, r, bias)
    if kind != "relu_bias":
        return u * g.unsqueeze(-1)  # not g/r z: g/r overflows at a tiny r
    # ModReLU: (r + b)/r z where |z| overflows, which is finite (g is inf there).
    ratio = _ratio(kind, g, bias, over, half, nonzero)
    return torch.where(over.unsqueeze(-1), t * ratio.unsqueeze(-1), u * g.unsqueeze(-1))


def _scale_backward(
    t: Tensor, grad: Tensor, bias: Tensor | None, kind: str, need_bias: bool
) -> tuple[Tensor, Tensor | None]:
    """As the eager backward of :func:`cvlayers._modulus.modulus_scale`: with u = z/|z| and
    conj(u) G = q + ip, grad_z = u (g'(r) q + i (g/r) p) + [z = 0] g'(0) G, and the bias's
    gradient g'(r) q summed over each channel."""
    r, u, over, half, nonzero = _polar(t)
    ux, uy = u[..., 0], u[..., 1]
    gx, gy = grad[..., 0], grad[..., 1]
    g = _modulus._g(kind, r, bias)
    dg = _modulus._dg(kind, g)
    q, p = ux * gx + uy * gy, ux * gy - uy * gx
    big = torch.finfo(t.dtype).max
    a = dg * q
    b = (_ratio(kind, g, bias, over, half, nonzero) * p).clamp(-big, big)
    at_zero = torch.where(r > 0, 0.0, dg)
    grad_z = torch.stack((ux * a - uy * b + at_zero * gx, ux * b + uy * a + at_zero * gy), -1)
    return grad_z, a.sum((0, 2)) if need_bias else None


def _cardioid_forward(t: Tensor) -> Tensor:
    u = _polar(t)[1]
    return t * ((u[..., 0] + 1) * 0.5).unsqueeze(-1)


def _cardioid_backward(t: Tensor, grad: Tensor) -> Tensor:
    """grad_z = (1 + c)/2 G - i (s/2) Re(conj(u) G) u, with u = c + i s (see ``_Cardioid``)."""
    u = _polar(t)[1]
    c, s = u[..., 0], u[..., 1]
    gx, gy = grad[..., 0], grad[..., 1]
    half_one_plus_cos = (c + 1) * 0.5
    k = (c * gx + s * gy) * s * 0.5
    return torch.stack((gx * half_one_plus_cos + s * k, gy * half_one_plus_cos - c * k), -1)


# One function (one code object, so one cache of compiled graphs) per kind and direction.
def _modrelu_forward(t: Tensor, bias: Tensor | None) -> Tensor:
    return _scale_forward(t, bias, "relu_bias")


def _modtanh_forward(t: Tensor, bias: Tensor | None) -> Tensor:
    return _scale_forward(t, bias, "tanh")


def _modsigmoid_forward(t: Tensor, bias: Tensor | None) -> Tensor:
    return _scale_forward(t, bias, "sigmoid")


def _modrelu_backward(
    t: Tensor, grad: Tensor, bias: Tensor | None, need_bias: bool
) -> tuple[Tensor, Tensor | None]:
    return _scale_backward(t, grad, bias, "relu_bias", need_bias)


def _modtanh_backward(
    t: Tensor, grad: Tensor, bias: Tensor | None, need_bias: bool
) -> tuple[Tensor, Tensor | None]:
    return _scale_backward(t, grad, bias, "tanh", need_bias)


def _modsigmoid_backward(
    t: Tensor, grad: Tensor, bias: Tensor | None, need_bias: bool
) -> tuple[Tensor, Tensor | None]:
    return _scale_backward(t, grad, bias, "sigmoid", need_bias)


_SCALE = {
    "relu_bias": (_modrelu_forward, _modrelu_backward),
    "tanh": (_modtanh_forward, _modtanh_backward),
    "sigmoid": (_modsigmoid_forward, _modsigmoid_backward),
}


# Graphs one function may need: dynamo specialises sizes of 1, so (outer, channels, inner)
# come in 8 kinds, times two dtypes and, for a backward, with or without a bias gradient: up
# to 32, where dynamo's default limit is 8 per function, past which fullgraph=True raises.
RECOMPILE_LIMIT = 64
# torch.compile's own limit where it takes one; else dynamo's global one (older torch named
# it cache_size_limit), raised for a compile past it (see _past_the_limit).
_PER_FUNCTION_LIMIT = "recompile_limit" in inspect.signature(torch.compile).parameters
_GLOBAL_LIMIT = (
    "recompile_limit" if hasattr(torch._dynamo.config, "recompile_limit") else "cache_size_limit"
)
_warned_past_the_limit: set[str] = set()


@functools.cache
def _compiled(fn: Callable[..., Any]) -> Callable[..., Any]:
    limit: dict[str, Any] = {"recompile_limit": RECOMPILE_LIMIT} if _PER_FUNCTION_LIMIT else {}
    return torch.compile(fn, fullgraph=True, **limit)


def _mark_sizes_dynamic(args: tuple[Any, ...]) -> None:
    """Every dimension but the last (the (Re, Im) pair, or a bias column's 1) of each tensor
    argument taken as of any size: one graph for every shape, whose kernels know the pair's 2
    (and read it as one vector) rather than a symbolic stride."""
    for arg in args:
        if isinstance(arg, Tensor):
            torch._dynamo.maybe_mark_dynamic(arg, list(range(arg.dim() - 1)))


# Raised by a fullgraph compile past its function's limit (earlier torch named it
# FailOnCacheLimitHit; one without either runs the function as it is there).
_RECOMPILE_LIMIT_HIT: type[Exception] | tuple[()] = getattr(
    torch._dynamo.exc,
    "FailOnRecompileLimitHit",
    getattr(torch._dynamo.exc, "FailOnCacheLimitHit", ()),
)


def _run(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn`` compiled, or as it is while a caller's torch.compile traces it (its graph fuses
    the maths), where the compiler has failed (with a warning, once, and from then on), or
    for an input that none of ``fn``'s :data:`RECOMPILE_LIMIT` graphs fits (with a warning,
    once per function)."""
    if torch.compiler.is_compiling() or not _enabled:
        return fn(*args)
    _mark_sizes_dynamic(args)
    try:
        return _compiled(fn)(*args)
    except _RECOMPILE_LIMIT_HIT:
        return _past_the_limit(fn, args)
    except (
        torch._dynamo.exc.BackendCompilerFailed,
        torch._dynamo.exc.InternalTorchDynamoError,
    ) as err:
        enabled(False)
        warnings.warn(
            f"cvlayers: torch.compile failed, the eager maths is used from now on: {err}",
            stacklevel=3,
        )
        return fn(*args)


def _past_the_limit(fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    """``fn`` on ``args``, which none of its graphs fits, past dynamo's recompile limit. Where
    torch.compile took no limit of its own, compiled with dynamo's global one raised to
    :data:`RECOMPILE_LIMIT` for this call (a config patch costs ~17 us, so only here: later
    calls find the graph without a compile); past that, as it is, with a warning once per
    function."""
    if not _PER_FUNCTION_LIMIT:
        try:
            with torch._dynamo.config.patch({_GLOBAL_LIMIT: RECOMPILE_LIMIT}):
                return _compiled(fn)(*args)
        except _RECOMPILE_LIMIT_HIT:
            pass
    if fn.__name__ not in _warned_past_the_limit:
        _warned_past_the_limit.add(fn.__name__)
        warnings.warn(
            f"cvlayers: {fn.__name__} has as many compiled graphs as torch.compile allows;"
            " inputs of sizes or dtypes that none of them fits take the eager maths",
            stacklevel=4,
        )
    return fn(*args)


# Layouts: a dense complex tensor as (outer, channels, inner, 2) real, in memory order.


def _memory_order(z: Tensor) -> Tensor:
    """``z`` dense and resolved (copied where it is not), so that its memory is a flat array."""
    z = z.resolve_conj().resolve_neg()
    return z if dense(z) else z.contiguous()


def _blocks(z: Tensor, layout: tuple[int, int]) -> Tensor:
    """The real view of dense ``z``'s memory as (outer, channels, inner, 2)."""
    channels, inner = layout
    flat = torch.as_strided(z, (z.numel(),), (1,))
    return torch.view_as_real(flat).view(-1, channels, inner, 2)


def pointwise(
    fn: Callable[..., Any],
    z: Tensor,
    *args: Tensor | bool | None,
    grad: Tensor | None = None,
    channels: Tensor | None = None,
) -> Any:
    """``fn`` compiled, on complex ``z``'s memory as real blocks (outer, channels, inner, 2)
    (then ``grad``'s, read in z's order, if given), then ``args``. The blocks' channels follow
    ``channels``, a tensor that broadcasts against ``z`` and varies along at most one of its
    dimensions (None: one). ``fn``'s output, or its first, is (Re, Im) pairs of the blocks'
    shape: it comes back as a complex tensor of z's shape and strides; others as they are.
    None where ``channels`` has no such layout (the eager path broadcasts it)."""
    z = _memory_order(z)
    layout = _modulus.channel_layout(z, channels)
    if layout is None:
        return None
    tensors = [_blocks(z, layout)]
    if grad is not None:
        tensors.append(_blocks(laid_out_as(grad, z), layout))
    result = _run(fn, *tensors, *args)
    if isinstance(result, Tensor):
        return _laid_out_as(result, z)
    return (_laid_out_as(result[0], z), *result[1:])


def _laid_out_as(pairs: Tensor, z: Tensor) -> Tensor:
    """The complex tensor of shape and strides of dense ``z`` over contiguous real ``pairs``
    (a view, which the Functions return as none: see :func:`cvlayers._function._not_a_view`)."""
    return torch.as_strided(torch.view_as_complex(pairs).view(-1), z.shape, z.stride())


def _column(bias: Tensor | None) -> Tensor | None:
    """A bias as the (channels, 1) column that the blocks' (outer, channels, inner) take."""
    return None if bias is None else bias.reshape(-1, 1)


def modulus_scale(z: Tensor, bias: Tensor | None, kind: str) -> Tensor | None:
    r""":math:`g(|z|)\,z/|z|` (:func:`cvlayers._modulus.modulus_scale`), or None where
    ``bias`` does not follow one dimension of ``z`` (the eager path then broadcasts)."""
    out: Tensor | None = pointwise(_SCALE[kind][0], z, _column(bias), channels=bias)
    return out


def modulus_scale_backward(
    z: Tensor, grad: Tensor, bias: Tensor | None, kind: str, need_bias: bool
) -> tuple[Tensor, Tensor | None] | None:
    """The gradients of :func:`modulus_scale` for ``z`` and (if ``need_bias``) ``bias``, or
    None where the forward's layout does not apply."""
    fn = _SCALE[kind][1]
    grads = pointwise(fn, z, _column(bias), need_bias, grad=grad, channels=bias)
    if grads is None:
        return None
    grad_z, sums = grads
    return grad_z, None if sums is None or bias is None else sums.reshape(bias.shape)


def cardioid(z: Tensor) -> Tensor:
    r""":math:`\tfrac12(1 + \cos\angle z)\,z` (:func:`cvlayers._modulus.cardioid`)."""
    out: Tensor = pointwise(_cardioid_forward, z)
    return out


def cardioid_backward(z: Tensor, grad: Tensor) -> Tensor:
    """The input gradient of :func:`cardioid`."""
    grad_z: Tensor = pointwise(_cardioid_backward, z, grad=grad)
    return grad_z
