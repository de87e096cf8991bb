"""The one place that maps ``(conjugate, half)`` onto a gradient.

PyTorch stores ``w.grad = 2 dL/dw*`` for a complex parameter ``w``. A cvlayers
optimizer steps along the direction

.. math::
    d = s \\, C(\\texttt{w.grad}), \\qquad
    s = \\tfrac12 \\text{ if half else } 1, \\qquad
    C = \\text{id if conjugate else } \\overline{\\,\\cdot\\,}

so ``d`` is ``dL/dw*`` (default), ``2 dL/dw*`` (torch.optim), ``dL/dw`` or
``2 dL/dw`` (JAX's value). Real parameters always use ``d = w.grad``.

Nothing here materialises ``d``. ``s`` is a power of two, so it is folded
exactly into the ``alpha`` of the first operation that consumes the gradient.
The conjugate is applied inside that operation on the real view
(``view_as_real``): ``acc += a * conj(x)`` becomes
``acc_r += a * x_r * [1, -1, 1, -1, ...]`` with a small cached row of signs
broadcast over the rows of the tensor. It runs at the speed of ``add_`` and
allocates nothing, whereas ``acc.add_(x.conj())`` resolves the conjugate into a
temporary the size of the parameter.

The trick is used on CPU only. There ``addcmul_`` on the real view rounds exactly as
the complex ``add_`` of torch.optim does (a product, then a sum), so the step is
bit-for-bit torch.optim's on ``d``. CUDA's ``addcmul_`` is one fused multiply-add
while its complex ``add_`` rounds twice, so there the conjugate is resolved into a
temporary and added by the same op as torch.optim.
"""

from __future__ import annotations

import functools
import math

import torch
from torch import Tensor

from cvlayers._checks import REAL_DTYPE

__all__ = [
    "add_",
    "add_conj_",
    "check_convention",
    "combine",
    "conj_copy",
    "direction_scale",
    "foreach_add_",
    "foreach_add_conj_",
    "foreach_combine",
    "scaled_copy",
]

# Rows shorter than _MIN_ROW vectorise poorly; the sign row of _MAX_ROW stays in L1.
_MIN_ROW = 16
_MAX_ROW = 512
_plans: dict[tuple[torch.Size, torch.dtype, torch.device], tuple[int, Tensor | None]] = {}


def check_convention(conjugate: object, half: object) -> None:
    """Raise ``ValueError`` unless ``conjugate`` and ``half`` are booleans."""
    for name, value in (("conjugate", conjugate), ("half", half)):
        if not isinstance(value, bool):
            raise ValueError(f"Invalid {name} value: {value!r} (expected True or False)")


def direction_scale(param: Tensor, half: bool, maximize: bool) -> float:
    """The real factor ``±s`` in ``d = ±s C(grad)`` for ``param``: 1, -1, 0.5 or -0.5."""
    scale = 0.5 if half and param.is_complex() else 1.0
    return -scale if maximize else scale


def conj_copy(x: Tensor, scale: float = 1.0) -> Tensor:
    """A new tensor equal to ``scale * conj(x)``, in one pass when ``scale == 1``."""
    out = torch.conj_physical(x)
    if scale != 1.0:
        out.mul_(scale)
    return out


@functools.lru_cache(maxsize=1024)
def _row_length(shape: tuple[int, ...]) -> int:
    """Complex elements per row of the sign-trick view of ``shape``; 0 when none is good.

    Measured on AVX2 (benchmarks/bench_optim.py): rows whose float count is a multiple of
    16 and at most ~1k floats run at the speed of ``add_``; ragged rows cost up to 40 %.
    """
    numel = math.prod(shape)
    if numel == 0:
        return 0
    if numel <= _MAX_ROW:
        return numel
    for step in (8, 1):
        for k in range(_MAX_ROW - _MAX_ROW % step, _MIN_ROW - 1, -step):
            if numel % k == 0:
                return k
    return 0


def _sign_plan(t: Tensor) -> tuple[int, Tensor | None]:
    """``(k, sign)`` for ``t``'s shape, dtype and device: the row length and the cached row
    ``[1, -1, 1, -1, ...]`` of ``2k`` reals; ``(0, None)`` when no good row exists."""
    key = (t.shape, t.dtype, t.device)
    plan = _plans.get(key)
    if plan is None:
        k = _row_length(tuple(t.shape))
        sign = None
        if k:
            ones = torch.ones(k, dtype=REAL_DTYPE[t.dtype], device=t.device)
            sign = torch.stack([ones, -ones], dim=-1).view(2 * k)
        plan = _plans[key] = (k, sign)
    return plan


def _rows(t: Tensor, k: int) -> Tensor:
    """The real view of contiguous complex ``t`` as rows of ``2k`` reals (re, im, re, im...)."""
    return t.view(-1, k).view(REAL_DTYPE[t.dtype])


def _fast_path(acc: Tensor, x: Tensor) -> tuple[int, Tensor | None]:
    if acc.device.type != "cpu" or acc.shape != x.shape:
        return 0, None
    if not (acc.is_contiguous() and x.is_contiguous()):
        return 0, None
    return _sign_plan(acc)


def add_conj_(acc: Tensor, x: Tensor, alpha: float) -> Tensor:
    """In place ``acc += alpha * conj(x)`` without materialising ``conj(x)``."""
    k, sign = (0, None) if torch.compiler.is_compiling() else _fast_path(acc, x)
    if sign is None:
        # Under torch.compile the conjugate fuses into the add; elsewhere this is an
        # accelerator or the rare odd-shaped tensor: the add of torch.optim, on a copy.
        return acc.add_(x.conj(), alpha=alpha)
    _rows(acc, k).addcmul_(_rows(x, k), sign, value=alpha)
    return acc


def foreach_add_conj_(accs: list[Tensor], xs: list[Tensor], alpha: float) -> None:
    """``add_conj_`` over lists, batching the tensors that take the sign trick."""
    if torch.compiler.is_compiling():
        torch._foreach_add_(accs, [x.conj() for x in xs], alpha=alpha)
        return
    fast_acc: list[Tensor] = []
    fast_x: list[Tensor] = []
    signs: list[Tensor] = []
    slow_acc: list[Tensor] = []
    slow_x: list[Tensor] = []
    for acc, x in zip(accs, xs, strict=True):
        k, sign = _fast_path(acc, x)
        if sign is None:
            slow_acc.append(acc)
            slow_x.append(torch.conj_physical(x))
            continue
        fast_acc.append(_rows(acc, k))
        fast_x.append(_rows(x, k))
        signs.append(sign)
    if fast_acc:
        torch._foreach_addcmul_(fast_acc, fast_x, signs, value=alpha)
    if slow_acc:
        torch._foreach_add_(slow_acc, slow_x, alpha=alpha)


def scaled_copy(x: Tensor, conj: bool, scale: float) -> Tensor:
    """A new tensor ``scale * C(x)``: a fresh momentum buffer, for instance."""
    if conj:
        return conj_copy(x, scale)
    return x.detach().clone() if scale == 1.0 else torch.mul(x, scale)


def combine(x: Tensor, conj: bool, other: Tensor, alpha: float) -> Tensor:
    """A new tensor ``C(x) + alpha * other`` (one temporary, as torch.optim makes)."""
    if conj:
        return conj_copy(x).add_(other, alpha=alpha)
    return x.add(other, alpha=alpha)


def add_(acc: Tensor, x: Tensor, conj: bool, alpha: float) -> None:
    """In place ``acc += alpha * C(x)``."""
    if conj:
        add_conj_(acc, x, alpha)
    else:
        acc.add_(x, alpha=alpha)


def foreach_combine(
    xs: list[Tensor], conj: bool, others: list[Tensor], alpha: float
) -> list[Tensor]:
    """``combine`` over lists."""
    if conj:
        out = [conj_copy(x) for x in xs]
        torch._foreach_add_(out, others, alpha=alpha)
        return out
    return list(torch._foreach_add(xs, others, alpha=alpha))


def foreach_add_(accs: list[Tensor], xs: list[Tensor], conj: bool, alpha: float) -> None:
    """``add_`` over lists."""
    if conj:
        foreach_add_conj_(accs, xs, alpha)
    else:
        torch._foreach_add_(accs, xs, alpha=alpha)
