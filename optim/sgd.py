"""Convention-aware stochastic gradient descent."""

from __future__ import annotations

from typing import Any, ClassVar, cast

import torch
from torch import Tensor
from torch.optim.optimizer import Optimizer, ParamsT

from . import _convention as cv
from ._base import ConventionOptimizer
from ._common import (
    check_lr,
    check_torch_only,
    like_param,
    physical,
    resolve_foreach,
    scalar,
    to_local,
)

__all__ = ["SGD", "sgd"]


class SGD(ConventionOptimizer):
    r"""Stochastic gradient descent (optionally with momentum) with an explicit complex
    gradient convention.

    For a complex parameter :math:`w` PyTorch stores ``w.grad`` :math:`= 2\,\partial L/\partial
    \bar w`. This optimizer first turns it into the direction

    .. math::
        d_t = s\,C(\texttt{w.grad}), \qquad
        s = \begin{cases} \tfrac12 & \text{half} \\ 1 & \text{otherwise}\end{cases}, \qquad
        C(g) = \begin{cases} g & \text{conjugate} \\ \bar g & \text{otherwise}\end{cases}

    so that ``d`` is :math:`\partial L/\partial \bar w` (``conjugate=True, half=True``, the
    default, textbook complex gradient descent), :math:`2\,\partial L/\partial \bar w`
    (``conjugate=True, half=False``, bit-for-bit ``torch.optim.SGD``),
    :math:`\partial L/\partial w` (``conjugate=False, half=True``) or
    :math:`2\,\partial L/\partial w` (``conjugate=False, half=False``, the value JAX's
    ``grad`` returns). Then it runs ``torch.optim.SGD`` on :math:`d`:

    .. math::
        \begin{aligned}
        &g_t \leftarrow \pm d_t + \lambda\,\theta_{t-1}
            &&\text{(minus when maximize)} \\
        &b_t \leftarrow \mu\,b_{t-1} + (1-\tau)\,g_t
            &&(b_1 = g_1) \\
        &g_t \leftarrow g_t + \mu\,b_t \ \text{(nesterov)}
            \quad\text{else}\quad g_t \leftarrow b_t && \\
        &\theta_t \leftarrow \theta_{t-1} - \gamma\,g_t &&
        \end{aligned}

    Only ``conjugate=True`` is a descent direction for a general real loss: with
    :math:`G = \partial L/\partial \bar w`, a small step along :math:`\bar G` changes the loss
    by :math:`-2\gamma\,\mathrm{Re}(G^2)`, whose sign depends on the phase of :math:`G`. The
    ``conjugate=False`` rows exist to reproduce other frameworks and papers.

    Real parameters are always updated exactly as by ``torch.optim.SGD``; ``conjugate`` and
    ``half`` act on complex parameters only. Both are per parameter group options.

    Args:
        params: iterable of parameters or dicts defining parameter groups.
        lr: learning rate :math:`\gamma` (default: 1e-3).
        momentum: momentum factor :math:`\mu` (default: 0).
        dampening: dampening :math:`\tau` for momentum (default: 0).
        weight_decay: L2 penalty :math:`\lambda` (default: 0).
        nesterov: enables Nesterov momentum (default: False).
        maximize: maximize the objective instead of minimising it (default: False).
        foreach: use the multi-tensor implementation; ``None`` picks it on CUDA
            as ``torch.optim`` does (default: None).
        conjugate: step along :math:`\partial L/\partial\bar w` (True) or its conjugate
            :math:`\partial L/\partial w` (False) (default: True).
        half: include the factor :math:`\tfrac12` of the Wirtinger derivative, i.e. undo
            PyTorch's factor 2 (default: True).

    Example:
        >>> import torch, cvlayers
        >>> from cvlayers.optim import SGD
        >>> layer = cvlayers.Linear(4, 2)
        >>> opt = SGD(layer.parameters(), lr=0.1, momentum=0.9)
        >>> x = torch.randn(8, 4, dtype=torch.complex64)
        >>> loss = layer(x).abs().pow(2).mean()
        >>> loss.backward()
        >>> opt.step()
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float | Tensor = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
        fused: bool | None = None,
        conjugate: bool = True,
        half: bool = True,
    ) -> None:
        check_torch_only(fused, differentiable)
        check_lr(lr)
        if not momentum >= 0.0:  # NaN too
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not weight_decay >= 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        defaults: dict[str, Any] = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
            "maximize": maximize,
            "foreach": foreach,
            "conjugate": conjugate,
            "half": half,
        }
        super().__init__(params, defaults)

    group_defaults: ClassVar[dict[str, Any]] = {
        **ConventionOptimizer.group_defaults,
        "nesterov": False,
    }

    def _step_group(self, group: dict[str, Any]) -> None:
        params: list[Tensor] = []
        grads: list[Tensor] = []
        bufs: list[Tensor | None] = []
        for p in group["params"]:
            if p.grad is None:
                continue
            params.append(p)
            grads.append(p.grad)
            if group["momentum"] != 0:
                bufs.append(self.state[p].get("momentum_buffer"))

        sgd(
            params,
            grads,
            bufs,
            foreach=group["foreach"],
            weight_decay=group["weight_decay"],
            momentum=group["momentum"],
            lr=group["lr"],
            dampening=group["dampening"],
            nesterov=group["nesterov"],
            maximize=group["maximize"],
            conjugate=group["conjugate"],
            half=group["half"],
        )

        if group["momentum"] != 0:
            for p, buf in zip(params, bufs, strict=True):
                self.state[p]["momentum_buffer"] = buf


def sgd(
    params: list[Tensor],
    d_p_list: list[Tensor],
    momentum_buffer_list: list[Tensor | None],
    foreach: bool | None = None,
    *,
    weight_decay: float,
    momentum: float,
    lr: float | Tensor,
    dampening: float,
    nesterov: bool,
    maximize: bool,
    conjugate: bool = True,
    half: bool = True,
) -> None:
    r"""Functional form of :class:`SGD`; updates ``params`` and ``momentum_buffer_list`` in place.

    ``momentum_buffer_list`` holds one entry per parameter when ``momentum != 0`` (``None``
    before the first step) and may be empty otherwise, as in ``torch.optim.sgd``.

    Example:
        >>> w, g = torch.tensor([1 + 1j]), torch.tensor([2 - 4j])  # g: what w.grad holds
        >>> sgd([w], [g], [], weight_decay=0.0, momentum=0.0, lr=0.1, dampening=0.0,
        ...     nesterov=False, maximize=False)  # conjugate, half: w - lr g/2
        >>> w
        tensor([0.9000+1.2000j])
    """
    cv.check_convention(conjugate, half)
    if momentum != 0 and len(momentum_buffer_list) != len(params):
        raise ValueError(
            f"momentum_buffer_list must have one entry per parameter ({len(params)}), "
            f"got {len(momentum_buffer_list)}"
        )
    use_foreach = resolve_foreach(foreach, params) and not any(g.is_sparse for g in d_p_list)
    kernel = _multi_tensor_sgd if use_foreach else _single_tensor_sgd
    # FSDP2: step on the local shards; new momentum buffers become DTensors like their params.
    local_bufs = to_local(momentum_buffer_list)
    kernel(
        to_local(params),
        to_local(physical(d_p_list)),
        local_bufs,
        weight_decay=weight_decay,
        momentum=momentum,
        lr=scalar(lr),
        dampening=dampening,
        nesterov=nesterov,
        maximize=maximize,
        conjugate=conjugate,
        half=half,
    )
    for i, (old, new) in enumerate(zip(momentum_buffer_list, local_bufs, strict=True)):
        if old is None and new is not None:
            momentum_buffer_list[i] = like_param(new, params[i])


def _single_tensor_sgd(
    params: list[Tensor],
    grads: list[Tensor],
    momentum_buffer_list: list[Tensor | None],
    *,
    weight_decay: float,
    momentum: float,
    lr: float,
    dampening: float,
    nesterov: bool,
    maximize: bool,
    conjugate: bool,
    half: bool,
) -> None:
    # Invariant: the direction of torch.optim.SGD is ``scale * C(grad)``, with C the
    # conjugate when ``conj`` is set. ``scale`` is ±1 or ±1/2, so folding it into an
    # alpha is exact and the result is bit-for-bit torch.optim.SGD run on d.
    for i, param in enumerate(params):
        grad = grads[i]
        scale = cv.direction_scale(param, half, maximize)
        conj = not conjugate and param.is_complex()

        if weight_decay != 0:
            grad, conj = cv.combine(grad, conj, param, weight_decay / scale), False

        if momentum == 0:
            cv.add_(param, grad, conj, -lr * scale)
            continue

        buf = momentum_buffer_list[i]
        if buf is None:
            buf = cv.scaled_copy(grad, conj, scale)
            momentum_buffer_list[i] = buf
        else:
            buf.mul_(momentum)
            cv.add_(buf, grad, conj, (1 - dampening) * scale)

        if nesterov:
            param.add_(cv.combine(grad, conj, buf, momentum / scale), alpha=-lr * scale)
        else:
            param.add_(buf, alpha=-lr)


def _multi_tensor_sgd(
    params: list[Tensor],
    grads: list[Tensor],
    momentum_buffer_list: list[Tensor | None],
    *,
    weight_decay: float,
    momentum: float,
    lr: float,
    dampening: float,
    nesterov: bool,
    maximize: bool,
    conjugate: bool,
    half: bool,
) -> None:
    if not params:
        return
    tensor_lists = [params, grads, momentum_buffer_list if momentum != 0 else []]
    grouped = Optimizer._group_tensors_by_device_and_dtype(
        tensor_lists,  # type: ignore[arg-type]
        with_indices=True,
    )
    for (group_params_, group_grads_, group_bufs), indices in grouped.values():
        group_params = cast(list[Tensor], group_params_)
        group_grads = cast(list[Tensor], group_grads_)
        scale = cv.direction_scale(group_params[0], half, maximize)
        conj = not conjugate and group_params[0].is_complex()

        if weight_decay != 0:
            group_grads = cv.foreach_combine(group_grads, conj, group_params, weight_decay / scale)
            conj = False

        if momentum == 0:
            cv.foreach_add_(group_params, group_grads, conj, -lr * scale)
            continue

        bufs = _momentum_buffers(
            group_grads,
            group_bufs,
            conj,
            scale,
            momentum,
            dampening,
        )
        for j, buf in zip(indices, bufs, strict=True):
            momentum_buffer_list[j] = buf

        if nesterov:
            steps = cv.foreach_combine(group_grads, conj, bufs, momentum / scale)
            torch._foreach_add_(group_params, steps, alpha=-lr * scale)
        else:
            torch._foreach_add_(group_params, bufs, alpha=-lr)


def _momentum_buffers(
    grads: list[Tensor],
    bufs: list[Tensor | None],
    conj: bool,
    scale: float,
    momentum: float,
    dampening: float,
) -> list[Tensor]:
    """Update (or create) the momentum buffers ``b <- mu b + (1 - tau) d`` of one group."""
    existing = [b for b in bufs if b is not None]
    if len(existing) == len(bufs):
        torch._foreach_mul_(existing, momentum)
        cv.foreach_add_(existing, grads, conj, (1 - dampening) * scale)
        return existing
    out: list[Tensor] = []
    for grad, buf in zip(grads, bufs, strict=True):
        if buf is None:
            buf = cv.scaled_copy(grad, conj, scale)
        else:
            buf.mul_(momentum)
            cv.add_(buf, grad, conj, (1 - dampening) * scale)
        out.append(buf)
    return out
