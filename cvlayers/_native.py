"""Fused CPU kernels for the activations (``_ckernels.c``), called through ctypes.

The eager formulas in :mod:`cvlayers._modulus` and :mod:`cvlayers._activation_functional`
take 10-20 passes over memory on CPU (complex ``abs`` alone is ~10x a real elementwise op);
these kernels take one. They are the same maths, in the same order, and are used only where
they apply exactly:

- the extension was built (an optional part of the install; without a C compiler it is
  skipped) and ``CVLAYERS_NATIVE`` is not ``0``;
- CPU tensors, complex64 or complex128, dense in some order of their dimensions (contiguous,
  channels-last, transposed: :func:`dense`), without a lazy conjugate or negation (which the
  custom ops below resolve under ``torch.compile``);
- not while a ``torch.func`` transform runs (its wrapper tensors have no data pointers), and
  in backward only when no graph is being built (``create_graph=True`` keeps the
  differentiable eager backward).

While ``torch.compile`` traces, :func:`forward` and :func:`backward` put the custom ops
``cvlayers::fused_forward`` and ``cvlayers::fused_backward`` in the graph, which call the
kernels when it runs.

Everywhere else (CUDA, inputs with gaps such as ``z[:, ::2]``, double backward) the eager maths
runs. Large tensors are split into several ranges per thread, which ``torch.get_num_threads()``
threads take as they come free: on Linux the kernels are built with OpenMP and share torch's
own OpenMP threads (ctypes releases the GIL).
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import importlib.util
import os
import warnings
from collections.abc import Callable, Iterator
from typing import Any, Generic, ParamSpec, TypeVar

import torch
from torch import Tensor

from ._checks import REAL_DTYPE
from ._function import transforms_active

__all__ = [
    "KernelOp",
    "available",
    "backward",
    "call",
    "dense",
    "enabled",
    "forward",
    "kernel_op",
    "launch",
    "per_range",
    "same_layout",
    "switched",
    "usable",
    "usable_backward",
]

_SUFFIX = {torch.complex64: "f32", torch.complex128: "f64"}
# Elements per thread below which another thread costs more than it saves.
_MIN_RANGE = 1 << 15

_P, _I, _D = ctypes.c_void_p, ctypes.c_int64, ctypes.c_double
# Argument types after (n, threads) for each kernel family.
_SIGNATURES: dict[str, list[Any]] = {
    **{f"mod{kind}_fwd": [_P, _P, _P, _I, _I] for kind in ("relu", "tanh", "sigmoid")},
    **{f"mod{kind}_bwd": [_P, _P, _P, _P, _I, _I, _P] for kind in ("relu", "tanh", "sigmoid")},
    "crelu_fwd": [_P, _P],
    "crelu_bwd": [_P, _P, _P],
    "ctanh_fwd": [_P, _P],
    "ctanh_bwd": [_P, _P, _P],
    "csigmoid_fwd": [_P, _P],
    "csigmoid_bwd": [_P, _P, _P],
    **{f"{family}_fwd": [_P, _P, _D, _D] for family in ("celu", "ccelu")},
    **{f"{family}_bwd": [_P, _P, _P, _D, _D] for family in ("celu", "ccelu")},
    "cgelu_fwd": [_P, _P],
    "cgelu_bwd": [_P, _P, _P],
    "cardioid_fwd": [_P, _P],
    "cardioid_bwd": [_P, _P, _P],
    "zrelu_fwd": [_P, _P],
    "zrelu_bwd": [_P, _P, _P],
    "cprelu_fwd": [_P, _P, _P, _P, _I, _I],
    "cprelu_bwd": [_P, _P, _P, _P, _P, _I, _I, _P],
    "abs_fwd": [_P, _P],
    "abs_bwd": [_P, _P, _P],
    "adam_modulus": [_P, _P, _P, _P, _P, _D, _D, _D, _D, _D, _D],
    "adam_conj": [_P, _P, _P, _P, _P, _D, _D, _D, _D, _D],
    "bn_sums": [_P, _P, _P, _I, _I, _I, _P, _P],
    "bn_affine": [_P, _P, _P, _P, _I, _I],
    "ln_affine": [_P, _P, _P, _P, _P, _I, _I],
    "ln_sums": [_P, _P, _P, _P, _P, _I, _I, _P, _P, _P],
}
# Kernels built for complex64 only (their complex128 runs the eager maths): see usable().
_FLOAT_ONLY = frozenset({"cgelu"})
# Functions over per-channel (per-row, per-feature) arrays rather than ranges of elements (no
# (n, threads)): their argument types, all of them (see call()).
_PER_CHANNEL: dict[str, list[Any]] = {
    "bn_moments": [_I, _I, _P, _P, _P, _P],
    "bn_whiten_coef": [_I, _P, _P, _P, _P, _D, _P],
    "bn_whiten_grads": [_I, _I, _P, _P, _P, _P, _D, _I, _P, _P, _P],
    "run_moments": [_I, _I, _P, _P, _D, _I, _P, _P],
    "power_coef": [_I, _I, _P, _P, _P, _P],
    "gn_coef": [_I, _I, _I, _P, _P, _P, _P, _P],
    "gn_grads": [_I, _I, _I, _I, _P, _P, _P, _P, _P, _P, _P],
    "complex_coef": [_I, _P, _P, _I, _P],
    "complex_grads": [_I, _P, _P, _P],
    "ln_feature_coef": [_I, _P, _P, _I, _P],
    "ln_row_coef": [_I, _I, _P, _P, _P, _I, _P],
    "ln_feature_grads": [_I, _P, _P, _P],
}


def _load() -> ctypes.CDLL | None:
    if os.environ.get("CVLAYERS_NATIVE", "1") == "0":
        return None
    spec = importlib.util.find_spec("cvlayers._ckernels")
    if spec is None or spec.origin is None:
        return None
    try:
        lib = ctypes.CDLL(spec.origin)
    except OSError as err:  # e.g. no libgomp.so.1 where it was built with one
        warnings.warn(
            f"cvlayers: compiled kernels not loaded, eager maths used: {err}", stacklevel=2
        )
        return None
    for family, argtypes in _SIGNATURES.items():
        for suffix in _SUFFIX.values():
            if suffix == "f64" and family.rpartition("_")[0] in _FLOAT_ONLY:
                continue
            fn = getattr(lib, f"cv_{family}_{suffix}")
            fn.argtypes = [_I, _I, *argtypes]
            fn.restype = None
    for name, argtypes in _PER_CHANNEL.items():
        for suffix in _SUFFIX.values():
            fn = getattr(lib, f"cv_{name}_{suffix}")
            fn.argtypes = argtypes
            fn.restype = None
    return lib


_LIB = _load()
_enabled = _LIB is not None


def available() -> bool:
    """Whether the compiled kernels were built and loaded."""
    return _LIB is not None


def enabled(value: bool | None = None) -> bool:
    """Whether the kernels are used; ``enabled(False)`` switches to the eager maths (tests
    compare the two), ``enabled(True)`` back where they are available. Returns the state."""
    global _enabled
    if value is not None:
        _enabled = value and _LIB is not None
    return _enabled


@contextlib.contextmanager
def switched(switch: Callable[[bool | None], bool], value: bool) -> Iterator[None]:
    """``switch(value)`` inside the block and the previous state after it, for a getter and
    setter such as :func:`enabled`."""
    before = switch(None)
    switch(value)
    try:
        yield
    finally:
        switch(before)


def eager() -> contextlib.AbstractContextManager[None]:
    """The eager maths inside the block (tests compare the two paths); the previous state
    after it."""
    return switched(enabled, False)


def dense(t: Tensor) -> bool:
    """Whether ``t``'s elements fill its memory span without gaps or overlaps, in some order of
    its dimensions (contiguous, channels-last, transposed, permuted). An elementwise kernel then
    runs over that memory as over a flat array, and ``torch.empty_like(t)`` has ``t``'s strides
    (torch's rule for such tensors), so its output is laid out as its input."""
    if t.is_contiguous():
        return True
    span = 1
    extents = sorted((st, n) for st, n in zip(t.stride(), t.shape, strict=True) if n != 1)
    for stride, size in extents:
        if stride != span:
            return False
        span *= size
    return True


def _native_complex(t: Tensor) -> bool:
    if not (t.dtype in _SUFFIX and t.device.type == "cpu" and dense(t)):
        return False
    # Dynamo cannot trace is_conj (a graph break): under torch.compile the custom ops below
    # resolve a lazy conjugate or negation when they run.
    return torch.compiler.is_compiling() or not (t.is_conj() or t.is_neg())


def usable(z: Tensor, *real: Tensor | None, kernel: str = "") -> bool:
    """Whether the kernels (``kernel``'s, where it is built for some dtypes only) apply to
    complex ``z`` and its real parameters ``real``."""
    if not _enabled or transforms_active() or not _native_complex(z):
        return False
    if kernel in _FLOAT_ONLY and z.dtype != torch.complex64:
        return False
    dtype = REAL_DTYPE[z.dtype]
    return all(
        t is None or (t.dtype == dtype and t.device.type == "cpu" and t.is_contiguous())
        for t in real
    )


def usable_backward(z: Tensor, *real: Tensor | None, kernel: str = "") -> bool:
    """:func:`usable`, and no graph of the backward is being recorded."""
    return not torch.is_grad_enabled() and usable(z, *real, kernel=kernel)


def same_layout(t: Tensor, z: Tensor) -> bool:
    """Whether ``t`` and ``z`` have one shape and lie in memory in one order (the same strides,
    in elements, on every dimension longer than 1): a kernel over several dense tensors reads
    element i of each together only where this holds."""
    return t.shape == z.shape and all(
        a == b for a, b, n in zip(t.stride(), z.stride(), z.shape, strict=True) if n != 1
    )


def laid_out_as(t: Tensor, z: Tensor) -> Tensor:
    """``t`` (a gradient of dense ``z``'s shape) without lazy conjugate or negation, and in
    ``z``'s memory order, copied where it is not (an expanded ``ones`` from ``sum()``, another
    layout): the kernels read both as flat arrays, element i of one with element i of the
    other."""
    t = t.resolve_conj().resolve_neg()
    return t if same_layout(t, z) else torch.empty_like(z, dtype=t.dtype).copy_(t)


# Set in a child started by fork: GNU OpenMP cannot start threads there once the parent has
# used its pool (torch's own parallel ops hang in such a child), so the kernels run in one.
_forked = False


def _after_fork() -> None:
    global _forked
    _forked = True


os.register_at_fork(after_in_child=_after_fork)


def _threads(n: int) -> int:
    """Threads for ``n`` elements: torch's count, but none idle on a small tensor."""
    if _forked:
        return 1
    return max(1, min(torch.get_num_threads(), n // _MIN_RANGE))


# Ranges per thread in the kernels (see CV_FOR_RANGES), defined there.
_PARTS_PER_THREAD = ctypes.c_int64.in_dll(_LIB, "cv_parts_per_thread").value if _LIB else 1


def _parts(threads: int) -> int:
    """The kernels' ranges for ``threads`` threads (several each, taken as they come free),
    which per-range partial sums need room for."""
    return threads * _PARTS_PER_THREAD if threads > 1 else 1


def _launch_threads(z: Tensor, max_ranges: int | None) -> int:
    """Threads for a launch over ``z`` (see :func:`launch`), no more than make ``max_ranges``
    ranges (at least one thread)."""
    threads = _threads(z.numel())
    if max_ranges is None:
        return threads
    return min(threads, max(1, max_ranges // _PARTS_PER_THREAD))


def per_range(z: Tensor, k: int, max_ranges: int | None = None) -> Tensor:
    """A zeroed scratch buffer of ``k`` values of ``z``'s real dtype for each range that
    :func:`launch` splits ``z`` into (a kernel's per-range work space)."""
    return torch.zeros(_parts(_launch_threads(z, max_ranges)), k, dtype=REAL_DTYPE[z.dtype])


def launch(
    family: str,
    z: Tensor,
    *args: Tensor | float | None,
    partial: int = 0,
    units: int | None = None,
    max_ranges: int | None = None,
) -> Tensor | None:
    """Run kernel ``family`` for ``z``'s dtype over all of ``z``'s elements, in parallel ranges
    (or over ``units`` units of work, such as rows, split into ranges of whole units), with
    torch's threads, or fewer where they would make more than ``max_ranges`` ranges.

    ``args`` are tensors (passed by address), numbers, or None (a null pointer). With ``partial``
    = k, the kernel's last argument is a float64 accumulator of k values per range; their sum
    over the ranges is returned. Kernels that sum into per-range buffers cap their ranges, so
    that the buffers, zeroed and added up once per range, stay small against the data.
    """
    assert _LIB is not None
    fn = getattr(_LIB, f"cv_{family}_{_SUFFIX[z.dtype]}")
    values = _c_args(args)
    threads = _launch_threads(z, max_ranges)
    sums = torch.zeros(_parts(threads), partial, dtype=torch.float64) if partial else None
    extra = [sums.data_ptr()] if sums is not None else []
    fn(z.numel() if units is None else units, threads, *values, *extra)
    if sums is None:
        return None
    return sums[0] if len(sums) == 1 else sums.sum(0)  # one range: no reduction


def call(name: str, dtype: torch.dtype, *args: Tensor | float | None) -> None:
    """Run the per-channel function ``name`` (see ``_PER_CHANNEL``) for complex ``dtype`` in
    this thread: tensors (contiguous, on the CPU) are passed by address, None as a null
    pointer."""
    assert _LIB is not None
    fn = getattr(_LIB, f"cv_{name}_{_SUFFIX[dtype]}")
    fn(*_c_args(args))


def _c_args(args: tuple[Tensor | float | None, ...]) -> list[int | float | None]:
    """A kernel's arguments as ctypes takes them: a tensor by its address."""
    return [a.data_ptr() if isinstance(a, Tensor) else a for a in args]


def forward(family: str, z: Tensor, *extra: Tensor | float | None, real: bool = False) -> Tensor:
    """The output of kernel ``{family}_fwd`` on ``z`` (a real tensor of z's shape if ``real``)."""
    if torch.compiler.is_compiling():
        out: Tensor = torch.ops.cvlayers.fused_forward(family, real, z, *_pack(extra))
        return out
    return _forward(family, z, *extra, real=real)


def backward(
    family: str, z: Tensor, grad: Tensor, *extra: Tensor | float | None, partial: int = 0
) -> tuple[Tensor, Tensor | None]:
    """The input gradient from kernel ``{family}_bwd`` for the saved ``z`` and upstream
    ``grad``, and the per-range sums of its accumulator when ``partial`` (see :func:`launch`)."""
    if torch.compiler.is_compiling():
        grad_z, sums = torch.ops.cvlayers.fused_backward(family, partial, z, grad, *_pack(extra))
        return grad_z, sums if partial else None
    return _backward(family, z, grad, *extra, partial=partial)


def _forward(family: str, z: Tensor, *extra: Tensor | float | None, real: bool) -> Tensor:
    out = torch.empty_like(z, dtype=REAL_DTYPE[z.dtype] if real else z.dtype)
    launch(f"{family}_fwd", z, z, out, *extra)
    return out


def _backward(
    family: str, z: Tensor, grad: Tensor, *extra: Tensor | float | None, partial: int
) -> tuple[Tensor, Tensor | None]:
    grad_z = torch.empty_like(z)
    sums = launch(f"{family}_bwd", z, z, laid_out_as(grad, z), grad_z, *extra, partial=partial)
    return grad_z, sums


_Params = ParamSpec("_Params")
_R = TypeVar("_R")


def _resolved(arg: object) -> object:
    if isinstance(arg, Tensor) and (arg.is_conj() or arg.is_neg()):
        return arg.resolve_conj().resolve_neg()
    return arg


class KernelOp(Generic[_Params, _R]):
    """A function that calls the kernels, run as itself in eager mode and, while torch.compile
    traces, as the custom op ``cvlayers::<name>`` (which the graph calls as it is; register its
    shapes with :meth:`register_fake`). Dispatching the custom op costs ~20 us a call: a
    BatchNorm1d training step on (64, 256) made four such calls in ~0.4 ms. As the
    dispatcher's fallback does for a custom op, a tensor argument with a lazy conjugate or
    negation is resolved first (the kernels read memory as stored)."""

    def __init__(self, fn: Callable[_Params, _R], name: str, schema: str) -> None:
        self._fn = fn
        self.op = torch.library.custom_op(f"cvlayers::{name}", fn, mutates_args=(), schema=schema)
        functools.update_wrapper(self, fn)

    def __call__(self, *args: _Params.args, **kwargs: _Params.kwargs) -> _R:
        if torch.compiler.is_compiling():
            result: _R = self.op(*args, **kwargs)
            return result
        args = tuple(_resolved(a) for a in args)  # type: ignore[assignment]
        kwargs = {k: _resolved(v) for k, v in kwargs.items()}  # type: ignore[assignment]
        return self._fn(*args, **kwargs)

    def register_fake(self, fake: Callable[..., Any]) -> Callable[..., Any]:
        self.op.register_fake(fake)
        return fake


def kernel_op(name: str, schema: str) -> Callable[[Callable[_Params, _R]], KernelOp[_Params, _R]]:
    """Decorator: the function as a :class:`KernelOp` named ``name`` with ``schema``."""
    return lambda fn: KernelOp(fn, name, schema)


# Under torch.compile the kernels run as two custom ops, which the graph calls as they are
# (Inductor has no code for complex operators: the eager maths it traced instead ran 1.4-28x
# slower than the kernels). A kernel's extra arguments, tensors (or None) and numbers in one
# order, travel as a list of each and a string of their kinds: "t" tensor, "i" int, "f" float.
def _pack(extra: tuple[Tensor | float | None, ...]) -> tuple[list[Tensor | None], list[float], str]:
    tensors: list[Tensor | None] = [a for a in extra if a is None or isinstance(a, Tensor)]
    numbers = [float(a) for a in extra if not (a is None or isinstance(a, Tensor))]
    kinds = "".join(
        "t" if a is None or isinstance(a, Tensor) else "i" if isinstance(a, int) else "f"
        for a in extra
    )
    return tensors, numbers, kinds


def _unpack(tensors: list[Tensor | None], numbers: list[float], kinds: str) -> list[Any]:
    next_tensor, next_number = iter(tensors), iter(numbers)
    return [
        next(next_tensor) if k == "t" else int(next(next_number)) if k == "i" else next(next_number)
        for k in kinds
    ]


@torch.library.custom_op(
    "cvlayers::fused_forward",
    mutates_args=(),
    schema="(str family, bool real, Tensor z, Tensor?[] tensors, float[] numbers, str kinds) "
    "-> Tensor",
)
def _fused_forward(
    family: str,
    real: bool,
    z: Tensor,
    tensors: list[Tensor | None],
    numbers: list[float],
    kinds: str,
) -> Tensor:
    z = z.resolve_conj().resolve_neg()
    return _forward(family, z, *_unpack(tensors, numbers, kinds), real=real)


@_fused_forward.register_fake
def _(family: str, real: bool, z: Tensor, *_: Any) -> Tensor:
    return torch.empty_like(z, dtype=REAL_DTYPE[z.dtype] if real else z.dtype)


@torch.library.custom_op(
    "cvlayers::fused_backward",
    mutates_args=(),
    schema="(str family, int partial, Tensor z, Tensor grad, Tensor?[] tensors, float[] numbers, "
    "str kinds) -> (Tensor, Tensor)",
)
def _fused_backward(
    family: str,
    partial: int,
    z: Tensor,
    grad: Tensor,
    tensors: list[Tensor | None],
    numbers: list[float],
    kinds: str,
) -> tuple[Tensor, Tensor]:
    z = z.resolve_conj().resolve_neg()
    grad_z, sums = _backward(family, z, grad, *_unpack(tensors, numbers, kinds), partial=partial)
    return grad_z, sums if sums is not None else z.new_empty(0, dtype=torch.float64)


@_fused_backward.register_fake
def _(family: str, partial: int, z: Tensor, *_: Any) -> tuple[Tensor, Tensor]:
    return torch.empty_like(z), z.new_empty(partial, dtype=torch.float64)
