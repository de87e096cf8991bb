"""The base of cvlayers' custom autograd Functions: fast in plain autograd, and usable under
torch.func transforms (vmap, grad, jacrev, per-sample gradients).

Subclasses are written in torch.func's style: ``forward`` without ``ctx``, ``setup_context``
and a ``backward`` in plain torch ops wherever a transform may run it (the fused kernels
step aside under transforms, see :func:`cvlayers._native.usable`). torch's ``Function.apply``
binds the arguments of such a Function with ``inspect.signature`` on every call, ~30 us on a
2-core Zen 4, as much as a small layer's whole forward and backward. Outside transforms,
:meth:`Function.apply` therefore runs a twin in the classic style (``forward(ctx, ...)``,
which calls the same ``forward`` and ``setup_context``), and only under a transform the
class itself. Arguments are passed positionally.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import torch

__all__ = ["Function", "torch_ops_backward", "transforms_active"]

_ACTIVE = getattr(torch._C, "_are_functorch_transforms_active", None)
_LEGACY_BATCHED = getattr(torch._C._functorch, "is_legacy_batchedtensor", None)
# Backwards now running on gradients batched by autograd's own vmap, in this thread.
_batched_backwards = threading.local()


def transforms_active() -> bool:
    """Whether a torch.func transform is active, or a backward runs on gradients that
    autograd batched (``is_grads_batched=True``, ``jacobian(..., vectorize=True)``: tensors
    without storage, which the kernels cannot read). (A torch that cannot say is taken to
    have none active: the kernels and the classic twins keep their speed, and a transform
    meets torch's own error for classic Functions.)"""
    if getattr(_batched_backwards, "depth", 0):
        return True
    return False if _ACTIVE is None else bool(_ACTIVE())


def torch_ops_backward() -> bool:
    """Whether a backward is to run in torch ops rather than the kernels: it records a graph
    (a double backward), or runs under a transform or on batched gradients."""
    return torch.is_grad_enabled() or transforms_active()


def _batched(grads: tuple[Any, ...]) -> bool:
    """Whether any of ``grads`` is batched by autograd's vmap (not torch.func's)."""
    return _LEGACY_BATCHED is not None and any(
        isinstance(g, torch.Tensor) and _LEGACY_BATCHED(g) for g in grads
    )


@contextlib.contextmanager
def _batched_backward() -> Iterator[None]:
    _batched_backwards.depth = getattr(_batched_backwards, "depth", 0) + 1
    try:
        yield
    finally:
        _batched_backwards.depth -= 1


class Function(torch.autograd.Function):
    """A custom Function in torch.func's style with a fast classic twin (see the module)."""

    generate_vmap_rule = True
    _classic: type[torch.autograd.Function]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)

        def forward(ctx: Any, *args: Any) -> Any:
            output = cls.forward(*args)
            cls.setup_context(ctx, args, output)
            return output

        def backward(ctx: Any, *grads: Any) -> Any:
            if _batched(grads):
                with _batched_backward():
                    return cls.backward(ctx, *grads)
            return cls.backward(ctx, *grads)

        # Named as the class, so that grad_fn reads <Name>Backward either way.
        cls._classic = type(
            cls.__name__,
            (torch.autograd.Function,),
            {"forward": staticmethod(forward), "backward": staticmethod(backward)},
        )

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        if kwargs or transforms_active():
            return super().apply(*args, **kwargs)  # type: ignore[no-untyped-call]
        return cls._classic.apply(*args)  # type: ignore[no-untyped-call]
