"""Convention-aware Adam and AdamW."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, cast

import torch
from torch import Tensor
from torch.optim.optimizer import Optimizer, ParamsT

from cvlayers import _native
from cvlayers._checks import REAL_DTYPE

from . import _convention as cv
from ._base import ConventionOptimizer
from ._common import check_lr, check_torch_only, physical, resolve_foreach, scalar, to_local

__all__ = ["MOMENTS", "Adam", "AdamW", "adam"]

MOMENTS = ("componentwise", "modulus")


class Adam(ConventionOptimizer):
    r"""Adam with an explicit complex gradient convention and a choice of second moment.

    With the direction :math:`d_t = s\,C(\texttt{w.grad})` of :class:`cvlayers.optim.SGD`
    (``conjugate`` picks :math:`C`, ``half`` picks :math:`s \in \{\tfrac12, 1\}`):

    .. math::
        \begin{aligned}
        &g_t \leftarrow \pm d_t + \lambda\,\theta_{t-1}
            \quad(\text{or } \theta_{t-1} \leftarrow (1-\gamma\lambda)\,\theta_{t-1}
            \text{ for decoupled weight decay}) \\
        &m_t \leftarrow \beta_1 m_{t-1} + (1-\beta_1)\,g_t \\
        &v_t \leftarrow \beta_2 v_{t-1} + (1-\beta_2)\,
            \begin{cases} (\mathrm{Re}\,g_t)^2 + i\,(\mathrm{Im}\,g_t)^2
                & \text{moment="componentwise"} \\
                |g_t|^2 & \text{moment="modulus"} \end{cases} \\
        &\theta_t \leftarrow \theta_{t-1} - \gamma\,\frac{m_t / (1-\beta_1^t)}
            {\sqrt{v_t / (1-\beta_2^t)} + \epsilon}
            \quad\text{(componentwise: Re and Im separately)}
        \end{aligned}

    ``moment="componentwise"`` is what ``torch.optim.Adam`` does through ``view_as_real``;
    with ``conjugate=True, half=False`` the result is bit-for-bit ``torch.optim.Adam``.
    ``moment="modulus"`` normalises both parts by the same :math:`\sqrt{v}`, so the update is
    equivariant to a global phase: rotating parameters, data and gradients by
    :math:`e^{i\phi}` rotates the trajectory by :math:`e^{i\phi}`. The componentwise mode
    is not (it normalises the real and imaginary axes separately).

    **What ``half`` does here.** Adam's step is invariant to a constant scale of the
    gradient except through :math:`\epsilon` (and the L2 ``weight_decay``, added to
    :math:`d`). Halving :math:`d` is therefore exactly Adam on ``C(w.grad)`` with
    :math:`2\epsilon` and :math:`2\lambda`, and that is how it is computed: the optimizer
    state holds the moments of ``C(w.grad)`` (PyTorch's gradient, conjugated when
    ``conjugate=False``), and ``half`` only changes the effective ``eps`` (and L2 decay).
    With ``eps`` much smaller than :math:`\sqrt{v}` both settings give the same trajectory.

    Only ``conjugate=True`` is a descent direction for a general real loss; see
    :class:`cvlayers.optim.SGD`. Real parameters always follow ``torch.optim.Adam``.

    On CPU, the complex parameters of ``moment="modulus"`` and of ``conjugate=False``
    (without L2 decay) step in one fused pass per tensor (``cvlayers/_ckernels.c``), within
    rounding of the foreach ops, which run elsewhere (CUDA, ``torch.compile``). The rows that
    equal ``torch.optim.Adam`` bit for bit always run torch's own ops.

    Args:
        params: iterable of parameters or dicts defining parameter groups.
        lr: learning rate :math:`\gamma` (default: 1e-3).
        betas: :math:`(\beta_1, \beta_2)` (default: (0.9, 0.999)).
        eps: :math:`\epsilon` added to the denominator (default: 1e-8).
        weight_decay: :math:`\lambda` (default: 0).
        amsgrad: use the running maximum of :math:`v` (default: False).
        foreach: use the multi-tensor implementation; ``None`` picks it on CUDA.
        maximize: maximize the objective (default: False).
        decoupled_weight_decay: AdamW's decay instead of L2 (default: False).
        conjugate: see :class:`cvlayers.optim.SGD` (default: True).
        half: see :class:`cvlayers.optim.SGD` (default: True).
        moment: ``"componentwise"`` or ``"modulus"`` (default: ``"componentwise"``).

    Example:
        >>> import torch, cvlayers
        >>> from cvlayers.optim import Adam
        >>> layer = cvlayers.Linear(4, 2)
        >>> opt = Adam(layer.parameters(), lr=1e-3, moment="modulus")
        >>> layer(torch.randn(8, 4, dtype=torch.complex64)).abs().pow(2).mean().backward()
        >>> opt.step()
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float | Tensor = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        decoupled_weight_decay: bool = False,
        conjugate: bool = True,
        half: bool = True,
        moment: str = "componentwise",
    ) -> None:
        check_torch_only(fused, differentiable, capturable)
        check_lr(lr)
        if not eps >= 0.0:
            raise ValueError(f"Invalid epsilon value: {eps}")
        for i, beta in enumerate(betas):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"Invalid beta parameter at index {i}: {beta}")
        if not weight_decay >= 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults: dict[str, Any] = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
            "maximize": maximize,
            "foreach": foreach,
            "decoupled_weight_decay": decoupled_weight_decay,
            "conjugate": conjugate,
            "half": half,
            "moment": moment,
        }
        super().__init__(params, defaults)

    group_defaults: ClassVar[dict[str, Any]] = {
        **ConventionOptimizer.group_defaults,
        "amsgrad": False,
        "decoupled_weight_decay": False,
        "moment": "componentwise",
    }

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        _check_moment(group["moment"])

    def _init_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Tensor]:
        state = self.state[p]
        if not state:
            state["step"] = torch.tensor(0.0)
            state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            state["exp_avg_sq"] = _second_moment_like(p, group["moment"])
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = _second_moment_like(p, group["moment"])
        expected_complex = p.is_complex() and group["moment"] == "componentwise"
        if state["exp_avg_sq"].is_complex() != expected_complex:
            raise ValueError(
                f"exp_avg_sq of a parameter was created for another moment mode than "
                f"moment={group['moment']!r}; the second moment cannot be converted"
            )
        return cast(dict[str, Tensor], state)

    def _step_group(self, group: dict[str, Any]) -> None:
        params, grads, exp_avgs, exp_avg_sqs, max_sqs, steps = [], [], [], [], [], []
        for p in group["params"]:
            if p.grad is None:
                continue
            if p.grad.is_sparse:
                raise RuntimeError("Adam does not support sparse gradients")
            state = self._init_state(p, group)
            params.append(p)
            grads.append(p.grad)
            exp_avgs.append(state["exp_avg"])
            exp_avg_sqs.append(state["exp_avg_sq"])
            if group["amsgrad"]:
                max_sqs.append(state["max_exp_avg_sq"])
            steps.append(state["step"])
        beta1, beta2 = group["betas"]
        adam(
            params,
            grads,
            exp_avgs,
            exp_avg_sqs,
            max_sqs,
            steps,
            foreach=group["foreach"],
            amsgrad=group["amsgrad"],
            beta1=beta1,
            beta2=beta2,
            lr=group["lr"],
            weight_decay=group["weight_decay"],
            eps=group["eps"],
            maximize=group["maximize"],
            decoupled_weight_decay=group["decoupled_weight_decay"],
            conjugate=group["conjugate"],
            half=group["half"],
            moment=group["moment"],
        )


class AdamW(Adam):
    r"""Adam with decoupled weight decay (:math:`\theta \leftarrow (1-\gamma\lambda)\theta`),
    as ``torch.optim.AdamW``; every other option is :class:`Adam`'s.

    Example:
        >>> import torch, cvlayers
        >>> from cvlayers.optim import AdamW
        >>> opt = AdamW(cvlayers.Linear(4, 2).parameters(), lr=1e-3, weight_decay=1e-2)
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float | Tensor = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        conjugate: bool = True,
        half: bool = True,
        moment: str = "componentwise",
    ) -> None:
        super().__init__(
            params,
            lr,
            betas,
            eps,
            weight_decay,
            amsgrad,
            foreach=foreach,
            maximize=maximize,
            capturable=capturable,
            differentiable=differentiable,
            fused=fused,
            decoupled_weight_decay=True,
            conjugate=conjugate,
            half=half,
            moment=moment,
        )

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True


def _check_moment(moment: object) -> None:
    if moment not in MOMENTS:
        raise ValueError(f"Invalid moment value: {moment!r} (expected one of {MOMENTS})")


def _second_moment_like(p: Tensor, moment: str) -> Tensor:
    """Like ``p`` (sharded like it under FSDP2); real for the modulus of a complex ``p``."""
    if p.is_complex() and moment == "modulus":
        return torch.zeros_like(p, dtype=REAL_DTYPE[p.dtype])
    return torch.zeros_like(p, memory_format=torch.preserve_format)


def adam(
    params: list[Tensor],
    grads: list[Tensor],
    exp_avgs: list[Tensor],
    exp_avg_sqs: list[Tensor],
    max_exp_avg_sqs: list[Tensor],
    state_steps: list[Tensor],
    foreach: bool | None = None,
    *,
    amsgrad: bool,
    beta1: float,
    beta2: float,
    lr: float | Tensor,
    weight_decay: float,
    eps: float,
    maximize: bool,
    decoupled_weight_decay: bool = False,
    conjugate: bool = True,
    half: bool = True,
    moment: str = "componentwise",
) -> None:
    r"""Functional form of :class:`Adam`; updates the parameters and the state in place.

    ``state_steps`` holds one 0-d float tensor per parameter (incremented here);
    ``max_exp_avg_sqs`` is empty unless ``amsgrad``.

    Example:
        >>> w, g = torch.tensor([1 + 1j]), torch.tensor([3 - 4j])
        >>> m, v, step = torch.zeros_like(w), torch.zeros(1), torch.tensor(0.0)  # v real
        >>> adam([w], [g], [m], [v], [], [step], amsgrad=False, beta1=0.9, beta2=0.999,
        ...      lr=0.1, weight_decay=0.0, eps=1e-8, maximize=False, moment="modulus")
        >>> w  # a first step of lr along the phase of dL/dw* = g/2: 0.1 (3 - 4i)/5
        tensor([0.9400+1.0800j])
    """
    cv.check_convention(conjugate, half)
    _check_moment(moment)
    if not params:
        return
    # FSDP2: Adam is elementwise per parameter, so it steps on the local shards.
    grads = physical(grads)
    lists = [to_local(t) for t in (params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs)]
    lists.append(state_steps)
    params = lists[0]
    use_foreach = resolve_foreach(foreach, params)
    if use_foreach:
        grouped = Optimizer._group_tensors_by_device_and_dtype(lists)  # type: ignore[arg-type]
        batches = [cast(list[list[Tensor]], tensors) for tensors, _ in grouped.values()]
    else:
        batches = [[t[i : i + 1] for t in lists] for i in range(len(params))]
    lr = scalar(lr)
    for p, g, m, v, vmax, steps in batches:
        _adam_batch(
            p,
            g,
            m,
            v,
            vmax,
            steps,
            foreach=use_foreach,
            amsgrad=amsgrad,
            beta1=beta1,
            beta2=beta2,
            lr=lr,
            weight_decay=weight_decay,
            eps=eps,
            maximize=maximize,
            decoupled_weight_decay=decoupled_weight_decay,
            conjugate=conjugate,
            half=half,
            moment=moment,
        )


def _step_value(step: Tensor) -> float:
    """The step count as torch.optim reads it (a Python float outside torch.compile)."""
    return cast(float, step if torch.compiler.is_compiling() else step.item())


def _real(tensors: list[Tensor]) -> list[Tensor]:
    return [torch.view_as_real(t) if t.is_complex() else t for t in tensors]


def _l2_decay(
    grads: list[Tensor], conj: bool, params: list[Tensor], alpha: float, on_real_view: bool
) -> list[Tensor]:
    """New tensors ``C(grad) + alpha * param``. torch.optim's foreach Adam adds on the real
    view and its single-tensor Adam on the complex tensor (1 ulp apart); mirror both."""
    if not on_real_view:
        return cv.foreach_combine(grads, conj, params, alpha)
    base = [cv.conj_copy(g) for g in grads] if conj else grads
    summed = torch._foreach_add(_real(base), _real(params), alpha=alpha)
    if not params[0].is_complex():
        return list(summed)
    return [torch.view_as_complex(t) for t in summed]


def _adam_batch(
    params: list[Tensor],
    grads: list[Tensor],
    exp_avgs: list[Tensor],
    exp_avg_sqs: list[Tensor],
    max_exp_avg_sqs: list[Tensor],
    steps: list[Tensor],
    *,
    foreach: bool,
    amsgrad: bool,
    beta1: float,
    beta2: float,
    lr: float,
    weight_decay: float,
    eps: float,
    maximize: bool,
    decoupled_weight_decay: bool,
    conjugate: bool,
    half: bool,
    moment: str,
) -> None:
    """One Adam step on tensors of one dtype and device, in the op order of torch.optim's
    foreach Adam (``foreach``) or of its single-tensor Adam (a batch of one tensor)."""
    ops = _Ops(foreach)
    is_complex = params[0].is_complex()
    # d = s C(grad); s is folded exactly into eps and the L2 decay (see the class docstring).
    scale = 0.5 if half and is_complex else 1.0
    conj = is_complex and not conjugate
    modulus = is_complex and moment == "modulus"

    if maximize:
        grads = list(torch._foreach_neg(grads))
    torch._foreach_add_(steps, 1.0)
    if weight_decay != 0:
        if decoupled_weight_decay:
            ops.mul_(params, 1 - lr * weight_decay)
        else:
            grads = _l2_decay(grads, conj, params, weight_decay / scale, foreach)
            conj = False

    bias_correction1 = [1 - beta1 ** _step_value(s) for s in steps]
    step_sizes = [(lr / bc) * -1 for bc in bias_correction1]
    bias_correction2_sqrt = [(1 - beta2 ** _step_value(s)) ** 0.5 for s in steps]
    # Where the foreach ops below are not torch's own bit-for-bit sequence (the modulus
    # moment; a conjugated gradient), one fused CPU pass (cvlayers/_ckernels.c) takes the
    # rest of the step, within rounding of those ops.
    maxes = max_exp_avg_sqs if amsgrad else [None] * len(params)
    kernel = "adam_modulus" if modulus else "adam_conj" if conj else None
    if kernel is not None and _fused_applies(params, grads, exp_avgs, exp_avg_sqs, maxes):
        # The modulus kernel takes the first moment's imaginary sign (-1 for conj(g)); the
        # conj kernel conjugates by construction.
        tail = ((-1.0 if conj else 1.0),) if modulus else ()
        for p, m, v, vmax, g, bc2, size in zip(
            params,
            exp_avgs,
            exp_avg_sqs,
            maxes,
            grads,
            bias_correction2_sqrt,
            step_sizes,
            strict=True,
        ):
            _native.launch(kernel, p, p, m, v, vmax, g, beta1, beta2, bc2, eps / scale, size, *tail)
        return

    # Real views once per step (as torch.optim does): each view_as_real costs ~1 us, which
    # shows on CUDA, where the kernels of a step over many small tensors take little longer.
    real_params, real_grads, real_avgs, real_sqs = map(
        _real, (params, grads, exp_avgs, exp_avg_sqs)
    )
    if conj:  # m <- beta1 m + (1 - beta1) conj(g), without materialising conj(g)
        ops.mul_(exp_avgs, beta1)
        cv.foreach_add_conj_(exp_avgs, grads, 1 - beta1)
    else:
        ops.lerp_(real_avgs, real_grads, 1 - beta1)

    ops.mul_(real_sqs, beta2)
    if modulus:  # |g|^2 = Re(g)^2 + Im(g)^2, conjugation-invariant
        for part in (torch.real, torch.imag):
            parts = [part(g) for g in grads]
            ops.addcmul_(exp_avg_sqs, parts, parts, 1 - beta2)
    else:
        ops.addcmul_(real_sqs, real_grads, real_grads, 1 - beta2)

    second = real_sqs
    if amsgrad:
        second = _real(max_exp_avg_sqs)
        torch._foreach_maximum_(second, real_sqs)
    denom = ops.denominators(second, bias_correction2_sqrt, eps / scale)
    if modulus:  # one denominator for both parts: phase-equivariant
        for part in (torch.real, torch.imag):
            ops.addcdiv_([part(p) for p in params], [part(m) for m in exp_avgs], denom, step_sizes)
    else:
        ops.addcdiv_(real_params, real_avgs, denom, step_sizes)


def _fused_applies(
    params: list[Tensor],
    grads: list[Tensor],
    exp_avgs: list[Tensor],
    exp_avg_sqs: list[Tensor],
    maxes: Sequence[Tensor | None],
) -> bool:
    """Whether the fused CPU kernels can take these tensors (the modulus moment's real v, or
    the componentwise complex v); the foreach ops are the same maths, within rounding. The
    kernel reads element i of each tensor together, so all must lie in memory as the
    parameter does (a channels-last parameter with a contiguous gradient or loaded state
    takes the foreach ops). Not while torch.compile traces: the kernels write in place
    through data pointers, which traced tensors do not have."""
    if torch.compiler.is_compiling():
        return False

    def fits(p: Tensor, t: Tensor | None) -> bool:
        if t is None:
            return True
        dtype = p.dtype if t.is_complex() else REAL_DTYPE[p.dtype]
        return (
            _native.same_layout(t, p)
            and t.dtype == dtype
            and t.device == p.device
            and not t.is_conj()
            and not t.is_neg()
        )

    return all(
        _native.usable(p) and all(fits(p, t) for t in (g, m, v, vmax))
        for p, g, m, v, vmax in zip(params, grads, exp_avgs, exp_avg_sqs, maxes, strict=True)
    )


class _Ops:
    """The elementwise ops of an Adam step, as torch.optim runs them: one foreach kernel per
    op over a list (``foreach``), or one op per tensor. On CUDA the two round differently,
    so each of our paths uses the ops of the torch.optim path it mirrors."""

    def __init__(self, foreach: bool) -> None:
        self.foreach = foreach

    def mul_(self, ts: list[Tensor], factor: float) -> None:
        if self.foreach:
            torch._foreach_mul_(ts, factor)
        else:
            for t in ts:
                t.mul_(factor)

    def lerp_(self, ts: list[Tensor], ends: list[Tensor], weight: float) -> None:
        if self.foreach:
            torch._foreach_lerp_(ts, ends, weight)
        else:
            for t, end in zip(ts, ends, strict=True):
                t.lerp_(end, weight)

    def addcmul_(self, ts: list[Tensor], a: list[Tensor], b: list[Tensor], value: float) -> None:
        if self.foreach:
            torch._foreach_addcmul_(ts, a, b, value)
        else:
            for t, x, y in zip(ts, a, b, strict=True):
                t.addcmul_(x, y, value=value)

    def denominators(self, second: list[Tensor], bc2_sqrt: list[float], eps: float) -> list[Tensor]:
        """``sqrt(v) / sqrt(1 - beta2^t) + eps``, new tensors."""
        if self.foreach:
            denom = list(torch._foreach_sqrt(second))
            torch._foreach_div_(denom, bc2_sqrt)
            torch._foreach_add_(denom, eps)
            return denom
        return [(v.sqrt() / bc).add_(eps) for v, bc in zip(second, bc2_sqrt, strict=True)]

    def addcdiv_(
        self, ts: list[Tensor], nums: list[Tensor], denoms: list[Tensor], values: list[float]
    ) -> None:
        """``t += value * num / denom``. Under torch.compile, where the step sizes are
        tensors, plain ops that inductor fuses."""
        if torch.compiler.is_compiling():
            for t, n, d, v in zip(ts, nums, denoms, values, strict=True):
                t.add_(n / d * v)
        elif self.foreach:
            torch._foreach_addcdiv_(ts, nums, denoms, values)
        else:
            for t, n, d, v in zip(ts, nums, denoms, values, strict=True):
                t.addcdiv_(n, d, value=v)
