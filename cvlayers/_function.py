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

Forward-mode AD (``torch.func.jvp``, ``jacfwd``, ``forward_ad.dual_level``): a subclass's
``tangent(ctx, *tangents)`` (with what ``setup_context`` gave ``ctx.save_for_forward``) is
the ``jvp`` of a third twin, used under a transform or forward-mode AD. It is not the class's
own ``jvp``, as dynamo cannot trace a Function that has one.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import torch
from torch.autograd import forward_ad

__all__ = ["Function", "torch_ops_backward", "transforms_active"]

_ACTIVE = getattr(torch._C, "_are_functorch_transforms_active", None)
_LEGACY_BATCHED = getattr(torch._C._functorch, "is_legacy_batchedtensor", lambda t: False)
# How many backwards run on gradients batched by autograd's own vmap. One count for every
# thread: a backward in another thread meanwhile takes the torch ops too, which is only slower.
_batched_backwards = 0


def transforms_active() -> bool:
    """Whether a torch.func transform is active, forward-mode AD is on (``dual_level``: the
    Functions' ``tangent`` and torch ops carry the tangents, not the kernels), or a backward
    runs on gradients that autograd batched (``is_grads_batched=True``, ``jacobian(...,
    vectorize=True)``: tensors without storage, which the kernels cannot read). (A torch that
    cannot say is taken to have no transform active: the kernels and the classic twins keep
    their speed, and a transform meets torch's own error for classic Functions.)"""
    if _batched_backwards or forward_ad._current_level >= 0:
        return True
    return False if _ACTIVE is None else bool(_ACTIVE())


def torch_ops_backward() -> bool:
    """Whether a backward is to run in torch ops rather than the kernels: it records a graph
    (a double backward), or runs under a transform or on batched gradients."""
    return torch.is_grad_enabled() or transforms_active()


def _batched(grads: tuple[Any, ...]) -> bool:
    """Whether any of ``grads`` is batched by autograd's vmap (not torch.func's)."""
    return any(isinstance(g, torch.Tensor) and _LEGACY_BATCHED(g) for g in grads)


_batched_lock = threading.Lock()  # for the rare updates; reading the count needs none


@contextlib.contextmanager
def _batched_backward() -> Iterator[None]:
    global _batched_backwards
    with _batched_lock:
        _batched_backwards += 1
    try:
        yield
    finally:
        with _batched_lock:
            _batched_backwards -= 1


def _not_a_view(output: Any) -> Any:
    """A custom Function's output tensor(s), each as a tensor that is not a view (it shares the
    storage and version counter; nothing is copied). Autograd forbids in-place changes to a
    custom Function's output that is a view, which torch's own ops allow (``y = act(x); y +=
    residual``), and outputs computed on the real view end as one (``view_as_complex``)."""
    if isinstance(output, tuple):
        return tuple(_not_a_view(t) for t in output)
    if isinstance(output, torch.Tensor) and output._is_view():
        return output.detach()
    return output


class Function(torch.autograd.Function):
    """A custom Function in torch.func's style with a fast classic twin (see the module). Its
    twins return outputs that are not views (:func:`_not_a_view`)."""

    generate_vmap_rule = True
    _classic: type[torch.autograd.Function]
    _forward_mode: type[torch.autograd.Function] | None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)

        def own_forward(*args: Any) -> Any:
            return _not_a_view(cls.forward(*args))

        def forward(ctx: Any, *args: Any) -> Any:
            output = own_forward(*args)
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
        # Dynamo cannot trace a Function that defines jvp (a graph break), so the class itself
        # has none: its ``tangent`` becomes the jvp of a twin that runs under a transform or
        # forward-mode AD only.
        cls._forward_mode = None
        if "tangent" in cls.__dict__:
            cls._forward_mode = type(
                cls.__name__,
                (torch.autograd.Function,),
                {
                    "forward": staticmethod(own_forward),
                    "setup_context": staticmethod(cls.setup_context),
                    "backward": staticmethod(cls.backward),
                    "jvp": cls.__dict__["tangent"],
                    "generate_vmap_rule": True,
                },
            )

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        if kwargs or transforms_active():
            if cls._forward_mode is not None:
                return cls._forward_mode.apply(*args, **kwargs)  # type: ignore[no-untyped-call]
            return super().apply(*args, **kwargs)  # type: ignore[no-untyped-call]
        return cls._classic.apply(*args)  # type: ignore[no-untyped-call]
