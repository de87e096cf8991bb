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

from typing import Any

import torch

__all__ = ["Function", "transforms_active"]

_ACTIVE = getattr(torch._C, "_are_functorch_transforms_active", None)


def transforms_active() -> bool:
    """Whether a torch.func transform is active. (A torch that cannot say is taken to have
    none active: the kernels and the classic twins keep their speed, and a transform meets
    torch's own error for classic Functions.)"""
    return False if _ACTIVE is None else bool(_ACTIVE())


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
