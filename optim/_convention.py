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
"""

from __future__ import annotations

import functools

import torch
from torch import Tensor

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

# Rows shorter than this vectorise poorly; longer ones keep the sign row in L1.
_MIN_ROW = 16
_MAX_ROW = 4096
_sign_rows: dict[tuple[int, torch.dtype, torch.device], Tensor] = {}


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
def _row_length(numel: int, last_dim: int) -> int:
    """Complex elements per row of the sign-trick view; 0 when no good row exists."""
    if _MIN_ROW <= last_dim <= _MAX_ROW and numel % last_dim == 0:
        return last_dim
    if numel <= _MAX_ROW:
        return numel if numel >= 1 else 0
    for k in range(_MAX_ROW, _MIN_ROW - 1, -1):
        if numel % k == 0:
            return k
    return 0


def _sign_row(k: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    key = (k, dtype, device)
    row = _sign_rows.get(key)
    if row is None:
        row = torch.tensor([1.0, -1.0], dtype=dtype, device=device).repeat(k).view(k, 2)
        _sign_rows[key] = row
    return row


def _rows(t: Tensor, k: int) -> Tensor:
    return torch.view_as_real(t).view(-1, k, 2)


def _sign_trick_row(acc: Tensor, x: Tensor) -> int:
    """Row length usable for ``acc`` and ``x``, or 0 if the fallback must be used."""
    if (
        torch.compiler.is_compiling()
        or acc.shape != x.shape
        or not (acc.is_contiguous() and x.is_contiguous())
        or acc.dim() == 0
    ):
        return 0
    return _row_length(acc.numel(), acc.shape[-1])


def add_conj_(acc: Tensor, x: Tensor, alpha: float) -> Tensor:
    """In place ``acc += alpha * conj(x)`` without materialising ``conj(x)``."""
    k = _sign_trick_row(acc, x)
    if k == 0:
        # Under torch.compile the conjugate fuses into the add; elsewhere this is
        # the rare odd-shaped tensor, where correctness beats the extra copy.
        return acc.add_(x.conj(), alpha=alpha)
    sign = _sign_row(k, acc.real.dtype, acc.device)
    _rows(acc, k).addcmul_(_rows(x, k), sign, value=alpha)
    return acc


def foreach_add_conj_(accs: list[Tensor], xs: list[Tensor], alpha: float) -> None:
    """``add_conj_`` over lists, batching the tensors that take the sign trick."""
    fast_acc: list[Tensor] = []
    fast_x: list[Tensor] = []
    signs: list[Tensor] = []
    for acc, x in zip(accs, xs, strict=True):
        k = _sign_trick_row(acc, x)
        if k == 0:
            acc.add_(x.conj(), alpha=alpha)
            continue
        fast_acc.append(_rows(acc, k))
        fast_x.append(_rows(x, k))
        signs.append(_sign_row(k, acc.real.dtype, acc.device))
    if fast_acc:
        torch._foreach_addcmul_(fast_acc, fast_x, signs, value=alpha)


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
