"""Argument checks and dispatch shared by the cvlayers optimizers (mirroring torch.optim)."""

from __future__ import annotations

import functools
import math
from typing import Any, TypeVar, cast

import torch
from torch import Tensor
from torch.optim.optimizer import _default_to_fused_or_foreach

__all__ = ["check_lr", "check_torch_only", "like_param", "resolve_foreach", "scalar", "to_local"]

T = TypeVar("T", Tensor, Tensor | None)


def check_lr(lr: float | Tensor) -> None:
    """Raise ``ValueError`` for a negative or multi-element learning rate, as torch.optim, and
    for a NaN or infinite one (torch.optim.SGD takes those and makes every parameter NaN)."""
    if isinstance(lr, Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    if not 0.0 <= lr < math.inf:
        raise ValueError(f"Invalid learning rate: {lr} (expected a finite number >= 0)")


def check_torch_only(
    fused: bool | None = None, differentiable: bool = False, capturable: bool = False
) -> None:
    """Accept torch.optim's ``fused``, ``differentiable`` and ``capturable`` at their defaults
    (so that torch code ports unchanged), and raise ``ValueError`` naming the one set: the
    convention transform runs in cvlayers' own foreach and single-tensor kernels."""
    asked = {"fused": bool(fused), "differentiable": differentiable, "capturable": capturable}
    for name, value in asked.items():
        if value:
            raise ValueError(
                f"{name}=True is not supported by the cvlayers optimizers (their conjugate/half "
                f"step runs as foreach or single-tensor kernels); leave {name} at its default"
            )


def resolve_foreach(foreach: bool | None, params: list[Tensor]) -> bool:
    """``foreach`` as given, or torch.optim's default for these parameters when ``None``."""
    if foreach is not None:
        return foreach
    return _default_to_fused_or_foreach(params, differentiable=False, use_fused=False)[1]


def scalar(value: float | Tensor) -> float:
    """A hyper-parameter as a Python float (a 1-element tensor is read once, outside compile)."""
    if isinstance(value, Tensor) and not torch.compiler.is_compiling():
        return float(value.item())
    return cast(float, value)


@functools.cache
def _dtensor_type() -> Any:
    """DTensor, or None where torch.distributed is missing (looked up once: hot path)."""
    if not torch.distributed.is_available():
        return None
    from torch.distributed.tensor import DTensor

    return DTensor


def physical(grads: list[Tensor]) -> list[Tensor]:
    """``grads`` with any lazy conjugate or negation resolved (a copy for those only; no-ops
    otherwise, and under torch.compile). Autograd stores ``w.grad`` as a conjugate view after
    ``w.conj() * x``, a common complex pattern; the optimizers' real views, foreach ops and
    kernels read the memory as it is, and ``view_as_real`` refuses a conjugate view (as it
    does in torch.optim.Adam)."""
    return [g.resolve_conj().resolve_neg() for g in grads]


def to_local(tensors: list[T]) -> list[T]:
    """The local shards of DTensors (FSDP2 parameters and their state), others unchanged.

    Every cvlayers optimizer is elementwise per parameter, so it steps on the shards; in-place
    updates of a shard update its DTensor. ``None`` entries (momentum buffers not created yet)
    pass through.
    """
    dtensor = _dtensor_type()
    if dtensor is None:
        return tensors
    return [cast(Any, t).to_local() if isinstance(t, dtensor) else t for t in tensors]


def like_param(local: Tensor, param: Tensor) -> Tensor:
    """A new state tensor made from a local shard, as a DTensor sharded like ``param``."""
    dtensor = _dtensor_type()
    if dtensor is None or not isinstance(param, dtensor):
        return local
    sharded = cast(Any, param)
    return cast(
        Tensor,
        dtensor.from_local(
            local,
            sharded.device_mesh,
            sharded.placements,
            run_check=False,
            shape=param.shape,
            stride=param.stride(),
        ),
    )
