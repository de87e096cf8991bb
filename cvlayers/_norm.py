r"""Normalisation of complex features.

``BatchNorm*`` whitens the 2x2 covariance of :math:`(\mathrm{Re}\,z, \mathrm{Im}\,z)` per
channel (Trabelsi et al., *Deep Complex Networks*, 2018):

.. math::
    \tilde z = V^{-1/2} (z - \mu), \qquad
    V = \begin{pmatrix} V_{rr} + \epsilon & V_{ri} \\ V_{ri} & V_{ii} + \epsilon \end{pmatrix},
    \qquad y = \Gamma \tilde z + \beta,

with the closed form :math:`V^{-1/2} = \frac{1}{st}\begin{pmatrix} V_{ii} + s & -V_{ri} \\
-V_{ri} & V_{rr} + s\end{pmatrix}`, :math:`s = \sqrt{\det V}`, :math:`t = \sqrt{V_{rr} + V_{ii}
+ 2s}`, a symmetric 2x2 scale :math:`\Gamma` that starts at :math:`I/\sqrt 2` and a complex
shift :math:`\beta`. A fresh layer thus outputs :math:`(\mathrm{Re}, \mathrm{Im})` covariance
:math:`I/2`, i.e. :math:`\mathbb{E}|y|^2 = 1`; ``affine=False`` whitens to the same. The
:math:`\epsilon` on the diagonal keeps a constant (singular) channel finite: it maps to
:math:`\beta`.

Like ``torch.nn.BatchNorm``, training mode normalises with the biased (population) batch
covariance and tracks the unbiased one in ``running_covar`` (which starts at
:math:`I/\sqrt 2`, as in the paper's code). torchcvnn's ``BatchNorm`` normalises with the
unbiased covariance: its training outputs are ours times :math:`\sqrt{(n-1)/n}` for
:math:`n` values per channel; in eval mode the two agree. ``cdtype=`` is accepted as an alias
of ``dtype=`` for drop-in use; the state dicts differ (``weight`` is ``(C, 3)`` here). As in
``torch.nn``, the keyword ``bias=False`` keeps the scale and drops the shift (all three norms).

Precision: :math:`V^{-1/2}` needs the small eigenvalue of :math:`V`, :math:`\det V` over the
large one, which cancels where a channel's phase is nearly fixed (Im z following Re z, as in
BPSK). So the batch covariance is summed in double of exact products, and :math:`V^{-1/2}` is
computed in double, for complex64 input too; :math:`\det` of the covariance is taken as at
least 0, so that one that rounding left slightly indefinite whitens finitely. The running
covariance is kept in its buffer's dtype: in float32 it loses that eigenvalue again (eval mode
on such channels, 1e-3 noise on Im z = Re z / 2 at scale 10, missed complex128 by 1.4 %;
with a float64 buffer by 5e-5). Where that matters, make it float64 (after any
``.to(dtype)``, which casts it back); training keeps it so, and the output stays complex64::

    bn.running_covar = bn.running_covar.double()

On CPU, batch norm runs in fused kernels (``_ckernels.c``) on contiguous
``(N, C, *spatial)`` input and on input whose channels lie last in memory (channels-last). In
training mode: the statistics in one pass (sums about each channel's first value, in double),
the whitening in one, and a closed-form backward in two (:class:`_FusedWhiten`); in eval mode
the whitening with the running statistics in one pass, and its backward in one or two. They
run as custom ops ``cvlayers::bn_*``, which compiled graphs call too. Elsewhere (CUDA, other
layouts, a double backward, ``torch.func`` transforms) the torch ops below run, and autograd
differentiates them.

``LayerNorm`` and ``GroupNorm`` normalise the power, per sample:
:math:`y = (z - \mu)/\sqrt{\mathbb{E}|z - \mu|^2 + \epsilon}\cdot\gamma + \beta` with complex
:math:`\gamma` (starting at 1) and :math:`\beta` (starting at 0). On contiguous CPU input the
normalisation runs in the batch norm kernels, each sample's (or group's) values taken as one
channel (:class:`_FusedPowerNorm`). Their :math:`\gamma`, :math:`\beta` go into the
normalisation's passes, two each way rather than three forward and four backward: layer
norm's per feature in kernels of their own (``ln_affine``, ``ln_sums``:
:class:`_FusedLayerNorm`), group norm's per channel as a coefficient set per (sample,
channel) plane (:class:`_FusedGroupNorm`), where a plane holds at least 64 values; on smaller
planes they take one more pass (:class:`_ComplexAffine`).
"""

from __future__ import annotations

import math
from typing import Any, TypeVar

import torch
from torch import Tensor, nn

from . import _native
from ._checks import REAL_DTYPE, check_complex, complex_dtype
from ._conversion import KeepsKind
from ._function import Function, torch_ops_backward

__all__ = [
    "BatchNorm1d",
    "BatchNorm2d",
    "BatchNorm3d",
    "GroupNorm",
    "LayerNorm",
    "batch_norm",
    "group_norm",
    "layer_norm",
]


def _check_shapes(**tensors: tuple[Tensor | None, tuple[int, ...]]) -> None:
    """Each named tensor (or None) of its expected shape, else a ValueError naming it: a
    per-channel array of another length would have the kernels read past its end."""
    for name, (t, shape) in tensors.items():
        if t is not None and tuple(t.shape) != shape:
            raise ValueError(f"expected {name} of shape {shape}, got {tuple(t.shape)}")


def _inverse_sqrt_2x2(
    vrr: Tensor, vri: Tensor, vii: Tensor, eps: float
) -> tuple[Tensor, Tensor, Tensor]:
    """(W_rr, W_ri, W_ii) of the symmetric W = V^{-1/2} for V = C + eps I, C a covariance, whose
    det C is taken as at least 0 (as cv_root_det in ``_ckernels.c``: a C that rounding left a
    little indefinite gives a finite W)."""
    least = eps * (vrr + vii) - eps * eps  # det V where det C = 0
    s = torch.sqrt(torch.maximum(vrr * vii - vri * vri, least))
    t = torch.sqrt(vrr + vii + 2 * s)
    inv = 1.0 / (s * t)
    return (vii + s) * inv, -vri * inv, (vrr + s) * inv


def _channel_view(t: Tensor, dim: int) -> Tensor:
    """A per-channel (C,) tensor shaped to broadcast against (N, C, *spatial)."""
    return t.view(-1, *([1] * (dim - 2)))


def batch_norm(
    input: Tensor,
    running_mean: Tensor | None,
    running_covar: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float | None = 0.1,
    eps: float = 1e-5,
    num_batches_tracked: Tensor | None = None,
) -> Tensor:
    r"""Whitening batch normalisation of ``(N, C, *)`` complex input (see the module doc).

    ``running_mean`` is complex ``(C,)``; ``running_covar`` is real ``(C, 3)`` holding
    :math:`(V_{rr}, V_{ri}, V_{ii})`; ``weight`` is ``(C, 3)`` holding
    :math:`(\Gamma_{rr}, \Gamma_{ri}, \Gamma_{ii})` (``None``: :math:`I/\sqrt2`); ``bias`` is
    complex ``(C,)``. In training mode the batch statistics are used and the running ones
    updated in place (unbiased covariance, as ``torch.nn.BatchNorm`` does for the variance);
    ``momentum=None`` is a cumulative average over ``num_batches_tracked``.

    Example:
        >>> x = torch.randn(64, 3, dtype=torch.complex64) * 4 + 1
        >>> y = batch_norm(x, None, None, training=True)  # batch statistics, no running ones
        >>> round(y.abs().pow(2).mean().item(), 3), bool(y.mean(0).abs().max() < 1e-6)
        (1.0, True)
    """
    check_complex(input, "input", None)
    if input.dim() < 2:
        raise ValueError(f"expected input of shape (N, C, *), got {tuple(input.shape)}")
    channels = input.shape[1]
    _check_shapes(
        running_mean=(running_mean, (channels,)),
        running_covar=(running_covar, (channels, 3)),
        weight=(weight, (channels, 3)),
        bias=(bias, (channels,)),
    )
    use_batch = training or running_mean is None or running_covar is None
    if not use_batch:
        assert running_mean is not None and running_covar is not None
        return _whiten_running(input, running_mean, running_covar, weight, bias, eps)
    count = input.numel() // input.shape[1]
    if count < 2:
        raise ValueError(
            f"expected more than 1 value per channel when training, got input size "
            f"{tuple(input.shape)}"
        )
    update = training and running_mean is not None and running_covar is not None
    layout = _kernel_layout(input, weight, bias)
    if layout is not None:
        with torch.no_grad():  # _FusedWhiten's backward differentiates through them itself
            mean, cov = _bn_moments_kernel(input, *layout)
        if update:
            _update_running(
                running_mean, running_covar, mean, cov, count, momentum, num_batches_tracked
            )
        out: Tensor = _FusedWhiten.apply(input, weight, bias, mean, cov, eps, layout, True)
        return out
    mean, moments = _moments(input)
    if update:
        stacked = torch.stack(moments).detach()
        _update_running(
            running_mean, running_covar, mean, stacked, count, momentum, num_batches_tracked
        )
    return _whiten(input, mean, moments, weight, bias, eps)


Cov = tuple[Tensor, Tensor, Tensor]


@torch.no_grad()
def _update_running(
    running_mean: Tensor | None,
    running_covar: Tensor | None,
    mean: Tensor,
    cov: Tensor,
    count: int,
    momentum: float | None,
    num_batches_tracked: Tensor | None,
) -> None:
    """Move the running statistics towards the batch's ``mean`` and biased ``cov`` (3, C),
    whose covariance enters unbiased, as torch.nn.BatchNorm's variance; in the statistics' own
    precision (complex128 statistics of a complex64 model, say)."""
    assert running_mean is not None and running_covar is not None
    factor = _average_factor(momentum, num_batches_tracked)
    running_mean.lerp_(mean.detach().to(running_mean.dtype), factor)
    unbiased = cov.detach().t() * (count / (count - 1))
    running_covar.lerp_(unbiased.to(running_covar.dtype), factor)


def _whiten_running(
    input: Tensor,
    running_mean: Tensor,
    running_covar: Tensor,
    weight: Tensor | None,
    bias: Tensor | None,
    eps: float,
) -> Tensor:
    """Eval mode: :func:`_whiten` with the running statistics, in the fused kernels where
    they apply (the statistics as buffers: in the input's dtypes and needing no gradient)."""
    layout = _kernel_layout(input, weight, bias)
    fused = (
        layout is not None
        and running_mean.dtype == input.dtype
        and running_covar.dtype in (REAL_DTYPE[input.dtype], torch.float64)  # (W in double)
        and running_mean.device == running_covar.device == input.device
        and not (running_mean.requires_grad or running_covar.requires_grad)
    )
    if not fused:
        cov: Cov = tuple(running_covar.unbind(1))  # type: ignore[assignment]
        return _whiten(input, running_mean, cov, weight, bias, eps)
    covar = running_covar.t()
    out: Tensor = _FusedWhiten.apply(input, weight, bias, running_mean, covar, eps, layout, False)
    return out


def _moments(input: Tensor) -> tuple[Tensor, Cov]:
    """The mean and biased covariance (V_rr, V_ri, V_ii) of each channel, as torch ops (which
    autograd differentiates); the covariance in float64 for a complex64 input too, as the
    kernels' (see cv_bn_moments in ``_ckernels.c``): float products and sums lose a
    near-singular covariance's small eigenvalue. Its value then comes from float64 copies
    that autograd does not keep, its gradient from the same sums in the input's precision
    (whose graph holds views of z - mean only)."""
    dims = [d for d in range(input.dim()) if d != 1]
    mean = input.mean(dim=dims)
    centred = input - _channel_view(mean, input.dim())
    cov = _second_moments(centred.real, centred.imag, dims)
    if centred.dtype == torch.complex128:
        return mean, cov
    with torch.no_grad():
        exact = _second_moments(centred.real.double(), centred.imag.double(), dims)
    vrr, vri, vii = (e + (c - c.detach()) for e, c in zip(exact, cov, strict=True))
    return mean, (vrr, vri, vii)


def _second_moments(x: Tensor, y: Tensor, dims: list[int]) -> Cov:
    """E[x^2], E[x y], E[y^2] over ``dims``, in the precision of ``x`` and ``y``."""
    return x.square().mean(dim=dims), (x * y).mean(dim=dims), y.square().mean(dim=dims)


def _mix(weight: Tensor | None, w: Cov) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """M = Gamma W, row by row (M_rr, M_ri, M_ir, M_ii), for the symmetric W (W_rr, W_ri, W_ii)
    and Gamma (``weight``'s rows; None: I/sqrt(2))."""
    wrr, wri, wii = w
    if weight is None:
        g = 1 / math.sqrt(2.0)
        return g * wrr, g * wri, g * wri, g * wii
    grr, gri, gii = weight.unbind(1)
    return (
        grr * wrr + gri * wri,
        grr * wri + gri * wii,
        gri * wrr + gii * wri,
        gri * wri + gii * wii,
    )


def _whiten(
    input: Tensor, mean: Tensor, cov: Cov, weight: Tensor | None, bias: Tensor | None, eps: float
) -> Tensor:
    """Gamma V^{-1/2} (z - mean) + beta in torch ops, for the given statistics: W in float64
    (as the kernels'), M = Gamma W then in the precision of z - mean and Gamma."""
    d = input.dim()
    centred = input - _channel_view(mean, d)
    x, y = centred.real, centred.imag
    precision = x.dtype if weight is None else torch.promote_types(x.dtype, weight.dtype)
    vrr, vri, vii = (c.double() for c in cov)
    w = _inverse_sqrt_2x2(vrr + eps, vri, vii + eps, eps)
    mrr, mri, mir, mii = (m.to(precision) for m in _mix(weight, w))
    real = _channel_view(mrr, d) * x + _channel_view(mri, d) * y
    imag = _channel_view(mir, d) * x + _channel_view(mii, d) * y
    out = torch.complex(real, imag)
    return out if bias is None else out + _channel_view(bias, d)


def _kernel_layout(
    input: Tensor, weight: Tensor | None, bias: Tensor | None
) -> tuple[int, int] | None:
    """(channels, inner) where the fused kernels take batch norm (as custom ops, which a
    compiled graph calls too), else None: contiguous ``(N, C, *spatial)`` input, taken in runs
    of ``inner`` values per channel and sample, or input whose channels lie last in memory
    (channels-last, a transposed ``(N, L, C)``: inner = 1), taken row by row; ``weight`` and
    ``bias`` (if any) of the input's precision and device (other ones take the torch ops, which
    promote, or raise: the kernels would read their values as the input's type)."""
    if input.dim() < 2 or input.numel() == 0 or not _native.usable(input):
        return None  # (an empty input would give the kernels runs of no values: inner = 0)
    for param, dtype in ((weight, REAL_DTYPE[input.dtype]), (bias, input.dtype)):
        if param is not None and (param.dtype != dtype or param.device != input.device):
            return None
    if input.is_contiguous():
        return input.shape[1], input[0, 0].numel()
    if input.movedim(1, -1).is_contiguous():
        return input.shape[1], 1
    return None


class _FusedWhiten(Function):
    """:func:`_whiten` with statistics ``mean``, ``cov`` ((3, C): V_rr, V_ri, V_ii), in the fused
    kernels. With ``batch`` they are ``input``'s own (from :func:`_bn_moments_kernel`), and the
    backward goes through them: with M = Gamma W, c = z - mean, G the upstream gradient (as real
    2-vectors) and n values per channel,

        grad_z = M^T (G - mean(G)) + K c,  K = (1/n) [[2 a, b], [b, 2 d]],

    where (a, b, d) = dL/d(V_rr, V_ri, V_ii) comes from dL/dM = sum G c^T through the 2x2 maths
    (in closed form: cv_whiten_vjp in ``_ckernels.c``); grad Gamma likewise, grad beta = sum G.
    Two passes over memory each way. Without ``batch`` (eval mode: running statistics, which
    get no gradient) grad_z = M^T G, one pass, and the sums only where Gamma or beta need a
    gradient. A backward that records a graph (double backward) differentiates the torch ops
    instead."""

    @staticmethod
    def forward(
        input: Tensor,
        weight: Tensor | None,
        bias: Tensor | None,
        mean: Tensor,
        cov: Tensor,
        eps: float,
        layout: tuple[int, int],
        batch: bool,
    ) -> Tensor:
        out: Tensor = _bn_whiten_kernel(input, weight, bias, mean, cov, eps, *layout)
        return out

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Tensor) -> None:
        input, weight, bias, mean, cov, ctx.eps, ctx.layout, ctx.batch = inputs
        ctx.save_for_backward(input, weight, bias, mean, cov)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        input, weight, bias, mean, cov = ctx.saved_tensors
        needs = ctx.needs_input_grad[:3]
        if torch_ops_backward():  # a double backward, batched gradients: the torch ops
            stats = None if ctx.batch else (mean, tuple(cov.unbind(0)))
            grads = _eager_grads(input, weight, bias, ctx.eps, grad, needs, stats)
        else:
            args = (grad, input, weight, mean, cov, ctx.eps, *ctx.layout, ctx.batch, *needs)
            grads = [
                t if need else None
                for t, need in zip(_bn_whiten_backward_kernel(*args), needs, strict=True)
            ]
        return (*grads, None, None, None, None, None)


def _like_first(first: Tensor, *_: Any) -> Tensor:
    """The fake (shapes-only) output of a custom op whose output is laid out as its first
    argument."""
    return torch.empty_like(first)


_Optional = TypeVar("_Optional", Tensor, Tensor | None)


def _per_channel(*tensors: _Optional) -> list[_Optional]:
    """Per-channel arguments of the kernels' per-channel maths as they read them: dense, in
    order (a :class:`~cvlayers._native.KernelOp` has resolved lazy conjugates)."""
    return [None if t is None else t.contiguous() for t in tensors]


@_native.kernel_op(
    "bn_moments",
    schema="(Tensor input, int channels, int inner) -> (Tensor, Tensor)",
)
def _bn_moments_kernel(input: Tensor, channels: int, inner: int) -> tuple[Tensor, Tensor]:
    """Mean and biased covariance (V_rr, V_ri, V_ii: a (3, C) float64 tensor, for a
    complex64 input too: see cv_bn_moments) of each channel in one pass of the kernels: sums
    of d = z - s about each channel's first value s, in double, then E[d] and
    E[d d^T] - E[d] E[d]^T (no cancellation to speak of, s being one of the channel's values)."""
    shift, sums = _shifted_sums(input, channels, inner, exact=True)
    mean = input.new_empty(channels)
    cov = input.new_empty(3, channels, dtype=torch.float64)
    count = input.numel() // channels
    _native.call("bn_moments", input.dtype, channels, count, sums, shift, mean, cov)
    return mean, cov


def _shifted_sums(
    input: Tensor, channels: int, inner: int, exact: bool = False
) -> tuple[Tensor, Tensor]:
    """Each channel's value in sample 0 at position 0, and bn_sums' sums about it (``exact``:
    see :func:`_sums`)."""
    first: tuple[int | slice, ...] = (0, slice(None), *([0] * (input.dim() - 2)))
    shift = input[first].contiguous()
    return shift, _sums(input, None, shift, channels, inner, exact=exact)


@_bn_moments_kernel.register_fake
def _(input: Tensor, channels: int, inner: int) -> tuple[Tensor, Tensor]:
    return input.new_empty(channels), input.new_empty(3, channels, dtype=torch.float64)


@_native.kernel_op(
    "bn_whiten",
    schema="(Tensor input, Tensor? weight, Tensor? bias, Tensor mean, Tensor cov, float eps, "
    "int channels, int inner) -> Tensor",
)
def _bn_whiten_kernel(
    input: Tensor,
    weight: Tensor | None,
    bias: Tensor | None,
    mean: Tensor,
    cov: Tensor,
    eps: float,
    channels: int,
    inner: int,
) -> Tensor:
    """M (z - mean) + beta in one pass of the kernels; ``cov`` (3, C) holds V_rr, V_ri, V_ii
    (W is computed from them in double)."""
    coef = _new_coef(input, channels)
    beta = bias if bias is not None else input.new_zeros(channels)
    args = _per_channel(mean, cov.double(), weight, beta)
    _native.call("bn_whiten_coef", input.dtype, channels, *args, eps, coef)
    return _affine(input, None, coef, channels, inner)


_bn_whiten_kernel.register_fake(_like_first)


@_native.kernel_op(
    "bn_whiten_backward",
    schema="(Tensor grad, Tensor input, Tensor? weight, Tensor mean, Tensor cov, float eps, "
    "int channels, int inner, bool batch, bool need_input, bool need_weight, bool need_bias) "
    "-> (Tensor, Tensor, Tensor)",
)
def _bn_whiten_backward_kernel(
    grad: Tensor,
    input: Tensor,
    weight: Tensor | None,
    mean: Tensor,
    cov: Tensor,
    eps: float,
    channels: int,
    inner: int,
    batch: bool,
    need_input: bool,
    need_weight: bool,
    need_bias: bool,
) -> tuple[Tensor, Tensor, Tensor]:
    """The gradients of :func:`_bn_whiten_kernel` with respect to input, weight and bias (an
    empty tensor where not needed), through the statistics where they are the ``batch``'s (see
    :class:`_FusedWhiten`)."""
    g = _native.laid_out_as(grad, input)
    real = REAL_DTYPE[input.dtype]
    if batch or need_weight or need_bias:
        sums = _sums(input, g, mean, channels, inner)
    else:  # (eval mode, the input's gradient alone: M^T G needs no sums)
        sums = torch.zeros(6, channels, dtype=torch.float64)
    coef = _new_coef(input, channels)
    grad_weight = input.new_empty(channels, 3, dtype=real)
    grad_bias = input.new_empty(channels)
    count = input.numel() // channels
    args = (*_per_channel(mean, cov.double(), weight), eps, batch, coef, grad_weight, grad_bias)
    _native.call("bn_whiten_grads", input.dtype, channels, count, sums, *args)
    grad_input = input.new_empty(0)  # (an empty tensor: not needed)
    if need_input:
        v_arg = input if batch else None  # without: M^T G, one pass that reads G only
        grad_input = _affine(g, v_arg, coef, channels, inner)
    need_weight = need_weight and weight is not None
    return (
        grad_input,
        grad_weight if need_weight else input.new_empty(0),
        grad_bias if need_bias else input.new_empty(0),
    )


@_bn_whiten_backward_kernel.register_fake
def _(
    grad: Tensor, input: Tensor, weight: Tensor | None, mean: Tensor, cov: Tensor, *rest: Any
) -> tuple[Tensor, Tensor, Tensor]:
    need_input, need_weight, need_bias = rest[-3:]
    return (
        torch.empty_like(input) if need_input else input.new_empty(0),
        input.new_empty(weight.shape, dtype=REAL_DTYPE[input.dtype])
        if need_weight and weight is not None
        else input.new_empty(0),
        mean.new_empty(mean.shape) if need_bias else input.new_empty(0),
    )


def _eager_grads(
    input: Tensor,
    weight: Tensor | None,
    bias: Tensor | None,
    eps: float,
    grad: Tensor,
    needs: tuple[bool, ...],
    stats: tuple[Tensor, Cov] | None,
) -> list[Tensor | None]:
    """The gradients of batch norm by autograd through the torch ops, keeping their graph (for
    a double backward): with the fixed statistics ``stats`` (eval mode), or None: the batch's
    (training mode)."""

    def whiten(z: Tensor, w: Tensor | None, b: Tensor | None) -> Tensor:
        mean, cov = _moments(z) if stats is None else stats
        return _whiten(z, mean, cov, w, b, eps)

    return _graph_grads(whiten, (input, weight, bias), needs, grad)


def _average_factor(momentum: float | None, num_batches_tracked: Tensor | None) -> float:
    if momentum is not None:
        return momentum
    if num_batches_tracked is None:
        raise ValueError("momentum=None (cumulative average) needs num_batches_tracked")
    return 1.0 / float(num_batches_tracked.item())


class _BatchNorm(KeepsKind):
    spatial_dims: int

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = torch.complex64,
        cdtype: torch.dtype | None = None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        dtype = cdtype if cdtype is not None else dtype  # torchcvnn names it cdtype
        if num_features <= 0:
            raise ValueError(f"num_features must be positive, got {num_features}")
        if eps <= 0:
            raise ValueError(
                f"eps must be positive (it keeps singular covariances finite), got {eps}"
            )
        dtype = complex_dtype(dtype)
        real = REAL_DTYPE[dtype]
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        self.weight: nn.Parameter | None = None
        self.bias: nn.Parameter | None = None
        if affine:
            self.weight = nn.Parameter(torch.empty(num_features, 3, device=device, dtype=real))
            if bias:
                self.bias = nn.Parameter(torch.empty(num_features, device=device, dtype=dtype))
        self.running_mean: Tensor | None
        self.running_covar: Tensor | None
        self.num_batches_tracked: Tensor | None
        if track_running_stats:
            self.register_buffer(
                "running_mean", torch.zeros(num_features, device=device, dtype=dtype)
            )
            self.register_buffer(
                "running_covar", torch.empty(num_features, 3, device=device, dtype=real)
            )
            self.register_buffer(
                "num_batches_tracked", torch.tensor(0, dtype=torch.long, device=device)
            )
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_covar", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        """Running mean 0 and covariance I/sqrt(2), as Trabelsi et al.'s code and torchcvnn."""
        if self.running_mean is not None and self.running_covar is not None:
            assert self.num_batches_tracked is not None
            self.running_mean.zero_()
            self.running_covar.copy_(torch.tensor([1 / math.sqrt(2.0), 0.0, 1 / math.sqrt(2.0)]))
            self.num_batches_tracked.zero_()

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        with torch.no_grad():
            if self.weight is not None:
                self.weight.copy_(torch.tensor([1 / math.sqrt(2.0), 0.0, 1 / math.sqrt(2.0)]))
            if self.bias is not None:
                self.bias.zero_()

    def forward(self, input: Tensor) -> Tensor:
        expected = (self.spatial_dims + 1, self.spatial_dims + 2)
        if input.dim() not in expected:
            raise ValueError(
                f"{type(self).__name__} expects {expected[0] + 1}D (N, C, ...) or {expected[0]}D "
                f"input, got {input.dim()}D input of shape {tuple(input.shape)}"
            )
        if input.dim() == expected[0] and self.spatial_dims > 0:
            input = input.unsqueeze(0)
            return self.forward(input).squeeze(0)
        if input.shape[1] != self.num_features:
            raise ValueError(
                f"expected {self.num_features} channels (dim 1), got input of shape "
                f"{tuple(input.shape)}"
            )
        return self._normalise(input)

    def _normalise(self, input: Tensor) -> Tensor:
        """The normalisation of checked, batched input."""
        if self.training and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
        return batch_norm(
            input,
            self.running_mean if not self.training or self.track_running_stats else None,
            self.running_covar if not self.training or self.track_running_stats else None,
            self.weight,
            self.bias,
            self.training or not self.track_running_stats,
            self.momentum,
            self.eps,
            self.num_batches_tracked,
        )

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, bias={self.bias is not None}, "
            f"track_running_stats={self.track_running_stats}"
        )


class BatchNorm1d(_BatchNorm):
    r"""Whitening batch norm of ``(N, C)`` or ``(N, C, L)`` complex input.

    .. math::
        y = \Gamma V^{-1/2} (z - \mu) + \beta \quad \text{per channel}

    Example:
        >>> bn = BatchNorm1d(4)
        >>> bn(torch.randn(32, 4, dtype=torch.complex64)).shape
        torch.Size([32, 4])
    """

    spatial_dims = 1

    def forward(self, input: Tensor) -> Tensor:
        if input.dim() == 2:  # (N, C): no length dimension
            return super().forward(input.unsqueeze(-1)).squeeze(-1)
        return super().forward(input)


class BatchNorm2d(_BatchNorm):
    r"""Whitening batch norm of ``(N, C, H, W)`` complex input (see the module doc).

    .. math::
        y = \Gamma V^{-1/2} (z - \mu) + \beta \quad \text{per channel}

    Example:
        >>> y = BatchNorm2d(3)(torch.randn(8, 3, 4, 4, dtype=torch.complex64) * 5 - 2j)
        >>> round(y.abs().pow(2).mean().item(), 2)
        1.0
    """

    spatial_dims = 2


class BatchNorm3d(_BatchNorm):
    r"""Whitening batch norm of ``(N, C, D, H, W)`` complex input (see the module doc).

    .. math::
        y = \Gamma V^{-1/2} (z - \mu) + \beta \quad \text{per channel}

    Example:
        >>> BatchNorm3d(2)(torch.randn(4, 2, 3, 3, 3, dtype=torch.complex64)).shape
        torch.Size([4, 2, 3, 3, 3])
    """

    spatial_dims = 3


def _power_norm(z: Tensor, ndim: int, eps: float) -> Tensor:
    """``z`` normalised over its last ``ndim`` dimensions, per index of the leading ones:
    (z - mu) / sqrt(E|z - mu|^2 + eps); in the fused kernels on contiguous CPU input."""
    inner = math.prod(z.shape[z.dim() - ndim :])
    if not (z.numel() and z.is_contiguous() and _native.usable(z)):
        return _power_norm_eager(z, ndim, eps)
    runs = z.view(1, -1, inner)  # each run a "channel" of the batch norm kernels
    mean, scale = _run_moments(runs, eps)  # (_FusedPowerNorm's backward goes through them)
    out: Tensor = _FusedPowerNorm.apply(runs, mean, scale, eps)
    return out.view(z.shape)


@torch.no_grad()  # (outside the custom op: a compiled graph would need its backward)
def _run_moments(runs: Tensor, eps: float, centred: bool = True) -> tuple[Tensor, Tensor]:
    """Each run's mean and scale 1/sqrt(E|z - mean|^2 + eps) for ``runs`` (1, G, K) (a run as a
    channel of the batch norm kernels), from one bn_sums pass; they get no gradient. Not
    ``centred`` (RMS norm): mean 0 and scale 1/sqrt(E|z|^2 + eps)."""
    return _run_moments_kernel(runs, eps, centred)


@_native.kernel_op(
    "run_moments", schema="(Tensor runs, float eps, bool centred) -> (Tensor, Tensor)"
)
def _run_moments_kernel(runs: Tensor, eps: float, centred: bool) -> tuple[Tensor, Tensor]:
    groups, inner = runs.shape[1:]
    if centred:
        shift, sums = _shifted_sums(runs, groups, inner)
    else:  # sums about 0, which give E|z|^2 without cancellation
        shift = runs.new_zeros(groups)
        sums = _sums(runs, None, shift, groups, inner)
    mean = runs.new_empty(groups)
    scale = runs.new_empty(groups, dtype=REAL_DTYPE[runs.dtype])
    args = (sums, shift, eps, int(centred), mean, scale)
    _native.call("run_moments", runs.dtype, groups, inner, *args)
    return mean, scale


@_run_moments_kernel.register_fake
def _(runs: Tensor, eps: float, centred: bool) -> tuple[Tensor, Tensor]:
    groups = runs.shape[1]
    return runs.new_empty(groups), runs.new_empty(groups, dtype=REAL_DTYPE[runs.dtype])


def _power_norm_eager(z: Tensor, ndim: int, eps: float, centred: bool = True) -> Tensor:
    """(z - mu) / sqrt(E|z - mu|^2 + eps) over the last ``ndim`` dimensions (not ``centred``:
    mu = 0, RMS norm) in torch ops."""
    dims = list(range(-ndim, 0))
    d = z - z.mean(dim=dims, keepdim=True) if centred else z.resolve_conj()
    power = torch.view_as_real(d).square().sum(-1).mean(dim=dims, keepdim=True)
    return d / torch.sqrt(power + eps)


class _FusedPowerNorm(Function):
    """:func:`_power_norm_eager` of ``runs`` (1, G, K) over its last dimension, given each
    run's ``mean`` and ``scale`` s = 1/sqrt(E|z - mean|^2 + eps), in the batch norm kernels
    (a run as a channel): out = s (z - mean) in one pass. The backward, with c = z - mean and
    G the upstream gradient (as real 2-vectors), grad_z = s (G - mean(G)) - s^3 mean(G . c) c,
    in two. A backward that records a graph (double backward) differentiates the torch ops."""

    @staticmethod
    def forward(runs: Tensor, mean: Tensor, scale: Tensor, eps: float) -> Tensor:
        out: Tensor = _power_norm_pass(runs, None, mean, scale)
        return out

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Tensor) -> None:
        runs, mean, scale, ctx.eps = inputs
        ctx.save_for_backward(runs, mean, scale)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        runs, mean, scale = ctx.saved_tensors
        if torch_ops_backward():  # a double backward, batched gradients: the torch ops
            (grad_z,) = _graph_grads(
                lambda z: _power_norm_eager(z, 1, ctx.eps), (runs,), (True,), grad
            )
            return grad_z, None, None, None
        return _power_norm_pass(runs, grad, mean, scale), None, None, None


@_native.kernel_op(
    "power_norm_pass",
    schema="(Tensor runs, Tensor? grad, Tensor mean, Tensor scale) -> Tensor",
)
def _power_norm_pass(runs: Tensor, grad: Tensor | None, mean: Tensor, scale: Tensor) -> Tensor:
    """:class:`_FusedPowerNorm`'s output of ``runs`` (1, G, K), or with ``grad`` the input
    gradient, in one pass of bn_affine (after one of bn_sums for the gradient), the
    coefficients per run from power_coef (see ``_ckernels.c``)."""
    groups, inner = runs.shape[1:]
    g = None if grad is None else _native.laid_out_as(grad, runs)
    sums = None if g is None else _sums(runs, g, mean, groups, inner)
    coef = _new_coef(runs, groups)
    args = (sums, *_per_channel(mean, scale), coef)
    _native.call("power_coef", runs.dtype, groups, inner, *args)
    return (
        _affine(runs, None, coef, groups, inner)
        if g is None
        else _affine(g, runs, coef, groups, inner)
    )


_power_norm_pass.register_fake(_like_first)


# Rows (channels or features last) that each range of bn_sums and ln_sums sums at least:
# their per-channel sums go through buffers per range (6 or 4 values per channel, in the input
# type and in float64), zeroed and added up across ranges, which on few rows outweigh the data:
# BatchNorm1d(4096) on (32, 4096) took 4.7 MB of them for 1 MB of input with 16 ranges of two
# rows, layer norm on two rows of 2^20 features 512 MB. (At these sizes the time was the same.)
_SUM_ROWS = 32


def _sums(
    input: Tensor,
    grad: Tensor | None,
    shift: Tensor,
    channels: int,
    inner: int,
    *,
    exact: bool = False,
) -> Tensor:
    """The kernels' per-channel sums (6, C) in float64 about ``shift``, with d = z - shift:
    without ``grad`` of dx, dy, dx^2, dx dy, dy^2 (and 0); with it, of gx, gy, gx dx, gx dy,
    gy dx, gy dy (see ``_ckernels.c``). Runs sum in blocks in the input's precision, rows
    (inner = 1) into a buffer of it per range, added to the float64 sums every 32 rows
    (CV_BN_ROWS), in no more ranges than leave each _SUM_ROWS rows; with ``exact`` (no
    ``grad``: batch norm's moments) they sum in float64 throughout."""
    g = None if grad is None else _native.laid_out_as(grad, input)
    most = input.numel() // (channels * _SUM_ROWS) if inner == 1 else None
    buffered = inner == 1 and not (exact and grad is None)
    work = _native.per_range(input, 6 * channels, max_ranges=most) if buffered else None
    args = (input, g, shift, channels, inner, int(exact), work)
    sums = _native.launch("bn_sums", input, *args, partial=6 * channels, max_ranges=most)
    assert sums is not None
    return sums.view(6, channels)


# Rows of bn_affine's per-channel coefficients: A (2x2, row by row), K (2x2), o, the centre m.
_COEFS = 12


def _new_coef(like: Tensor, channels: int) -> Tensor:
    """An uninitialised (_COEFS, ``channels``) buffer of bn_affine coefficients for ``like``'s
    real dtype, which a per-channel function of ``_ckernels.c`` fills."""
    return like.new_empty(_COEFS, channels, dtype=REAL_DTYPE[like.dtype])


def _affine(u: Tensor, v: Tensor | None, coef: Tensor, channels: int, inner: int) -> Tensor:
    """A u + K (v - m) + o per channel (without ``v``: A (u - m) + o), the 2x2 A and K, the
    offset o and the centre m in the rows of the (_COEFS, C) ``coef`` (see ``_ckernels.c``);
    ``u`` is read in ``v``'s layout."""
    if v is not None:
        u = _native.laid_out_as(u, v)
    out = torch.empty_like(u)
    _native.launch("bn_affine", u, u, v, out, coef.contiguous(), channels, inner)
    return out


def _scale_shift(
    out: Tensor, weight: Tensor | None, bias: Tensor | None, channels: int, inner: int
) -> Tensor:
    """gamma out + beta with complex ``weight`` gamma and ``bias`` beta (None: 1 and 0) shaped to
    broadcast against ``out``, one value per channel of ``out`` laid out as runs of ``inner``
    values of ``channels`` channels; in the fused kernels on contiguous CPU input."""
    if weight is None and bias is None:
        return out
    if not _kernel_affine(out, channels, weight, bias):
        return _scale_shift_eager(out, weight, bias)
    result: Tensor = _ComplexAffine.apply(out, weight, bias, channels, inner)
    return result


def _scale_shift_eager(out: Tensor, weight: Tensor | None, bias: Tensor | None) -> Tensor:
    if weight is not None:
        out = out * weight
    return out if bias is None else out + bias


class _ComplexAffine(Function):
    """:func:`_scale_shift_eager` in one pass of the kernels (bn_affine). The backward: conj(gamma)
    G in one pass, and grad gamma = sum conj(x) G, grad beta = sum G from one pass of bn_sums.
    A backward that records a graph (double backward) differentiates the torch ops."""

    @staticmethod
    def forward(
        x: Tensor, weight: Tensor | None, bias: Tensor | None, channels: int, inner: int
    ) -> Tensor:
        out: Tensor = _complex_affine(x, weight, bias, channels, inner)
        return out

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Tensor) -> None:
        x, weight, bias, ctx.channels, ctx.inner = inputs
        ctx.save_for_backward(x, weight, bias)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        x, weight, bias = ctx.saved_tensors
        needs = ctx.needs_input_grad[:3]
        if torch_ops_backward():  # a double backward, batched gradients: the torch ops
            grads = _graph_grads(_scale_shift_eager, (x, weight, bias), needs, grad)
            return (*grads, None, None)
        wanted = _wanted(needs, weight, bias, stats=0)
        fused = _complex_affine_backward(grad, x, weight, ctx.channels, ctx.inner, *wanted)
        return _as_inputs(fused, wanted, weight, bias, stats=0, extra=2)


@_native.kernel_op(
    "complex_affine",
    schema="(Tensor x, Tensor? weight, Tensor? bias, int channels, int inner) -> Tensor",
)
def _complex_affine(
    x: Tensor, weight: Tensor | None, bias: Tensor | None, channels: int, inner: int
) -> Tensor:
    """gamma x + beta per channel in one pass of bn_affine."""
    coef = _new_coef(x, channels)
    _native.call("complex_coef", x.dtype, channels, *_per_channel(weight, bias), False, coef)
    return _affine(x, None, coef, channels, inner)


_complex_affine.register_fake(_like_first)


@_native.kernel_op(
    "complex_affine_backward",
    schema="(Tensor grad, Tensor x, Tensor? weight, int channels, int inner, bool need_input, "
    "bool need_weight, bool need_bias) -> (Tensor, Tensor, Tensor)",
)
def _complex_affine_backward(
    grad: Tensor,
    x: Tensor,
    weight: Tensor | None,
    channels: int,
    inner: int,
    need_input: bool,
    need_weight: bool,
    need_bias: bool,
) -> tuple[Tensor, Tensor, Tensor]:
    """The gradients of :func:`_complex_affine` with respect to x, weight and bias (flat; an
    empty tensor where not needed)."""
    g = _native.laid_out_as(grad, x)
    grad_x, grad_weight, grad_bias = (x.new_empty(0) for _ in range(3))
    if need_input:
        coef = _new_coef(x, channels)
        _native.call("complex_coef", x.dtype, channels, *_per_channel(weight), None, True, coef)
        grad_x = _affine(g, None, coef, channels, inner)
    if need_weight or need_bias:
        sums = _sums(x, g, x.new_zeros(channels), channels, inner)
        grad_weight = x.new_empty(channels) if need_weight else grad_weight
        grad_bias = x.new_empty(channels) if need_bias else grad_bias
        outs = (grad_weight if need_weight else None, grad_bias if need_bias else None)
        _native.call("complex_grads", x.dtype, channels, sums, *outs)
    return grad_x, grad_weight, grad_bias


@_complex_affine_backward.register_fake
def _(
    grad: Tensor, x: Tensor, weight: Tensor | None, channels: int, inner: int, *needs: bool
) -> tuple[Tensor, Tensor, Tensor]:
    return _fake_grads(x, channels, needs)


def _fake_grads(
    like: Tensor, params: int, needs: tuple[bool, ...]
) -> tuple[Tensor, Tensor, Tensor]:
    """The fake (shapes-only) (input, flat weight, flat bias) gradients of a backward op: the
    input's like ``like``, ``params`` values each for weight and bias, empty where not needed."""
    need_input, need_weight, need_bias = needs
    return (
        torch.empty_like(like) if need_input else like.new_empty(0),
        like.new_empty(params) if need_weight else like.new_empty(0),
        like.new_empty(params) if need_bias else like.new_empty(0),
    )


def _graph_grads(
    fn: Any, inputs: tuple[Tensor | None, ...], needs: tuple[bool, ...], grad: Tensor
) -> list[Tensor | None]:
    """The gradients of ``fn(*inputs)`` for upstream ``grad`` by autograd through its torch ops,
    keeping their graph (a double backward); None where not needed."""
    wanted = [t for t, need in zip(inputs, needs, strict=True) if need and t is not None]
    with torch.enable_grad():
        out = fn(*inputs)
    got = iter(torch.autograd.grad(out, wanted, grad, create_graph=True))
    return [
        next(got) if need and t is not None else None for t, need in zip(inputs, needs, strict=True)
    ]


def layer_norm(
    input: Tensor,
    normalized_shape: int | tuple[int, ...] | list[int],
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    r"""Complex layer norm over the last ``len(normalized_shape)`` dimensions, per sample
    (``torch.nn.functional.layer_norm``'s arguments):

    .. math::
        y = \frac{z - \mu}{\sqrt{\mathbb{E}|z - \mu|^2 + \epsilon}}\,\gamma + \beta

    with complex ``weight`` :math:`\gamma` and ``bias`` :math:`\beta` (``None``: 1 and 0).

    Example:
        >>> y = layer_norm(torch.randn(4, 8, dtype=torch.complex64) * 5 + 3, (8,))
        >>> round(y.abs().pow(2).mean().item(), 3)
        1.0
    """
    shape = _normalized_dims(input, normalized_shape)
    _check_shapes(weight=(weight, shape), bias=(bias, shape))
    _check_eps(eps)
    if weight is not None or bias is not None:
        fused = _fused_layer_norm(input, math.prod(shape), weight, bias, eps)
        if fused is not None:
            return fused
    return _scale_shift(_power_norm(input, len(shape), eps), weight, bias, math.prod(shape), 1)


def _check_eps(eps: float) -> None:
    """Raise ``ValueError`` unless ``eps`` >= 0: a negative one can make E|z - mu|^2 + eps
    negative, and its square root NaN (the power norms')."""
    if not eps >= 0:
        raise ValueError(f"eps must be a number >= 0, got {eps}")


def _as_shape(normalized_shape: int | tuple[int, ...] | list[int]) -> tuple[int, ...]:
    return (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)


def _normalized_dims(
    input: Tensor, normalized_shape: int | tuple[int, ...] | list[int]
) -> tuple[int, ...]:
    """``normalized_shape`` as a tuple, checked to be the last dimensions of complex ``input``
    (layer norm's and RMS norm's)."""
    check_complex(input, "input", None)
    shape = _as_shape(normalized_shape)
    n = len(shape)
    if n == 0:  # (torch.mean over dims=[] would take every dimension)
        raise ValueError("normalized_shape must have at least one dimension, got ()")
    if input.dim() < n or tuple(input.shape[input.dim() - n :]) != shape:
        raise ValueError(
            f"expected input of shape (*, {', '.join(map(str, shape))}), got {tuple(input.shape)}"
        )
    return shape


def _fused_layer_norm(
    input: Tensor,
    features: int,
    weight: Tensor | None,
    bias: Tensor | None,
    eps: float,
    centred: bool = True,
) -> Tensor | None:
    """:func:`layer_norm` (not ``centred``: RMS norm) with ``weight`` and ``bias`` in the
    kernels, or None where they do not apply: contiguous CPU input, and ``weight``, ``bias``
    None or of its dtype with one value per feature."""
    if not _kernel_affine(input, features, weight, bias):
        return None
    rows = input.view(-1, features)
    # (the backward goes through mean and scale)
    mean, scale = _run_moments(rows.view(1, *rows.shape), eps, centred)
    out: Tensor = _FusedLayerNorm.apply(rows, mean, scale, weight, bias, eps, centred)
    return out.view(input.shape)


def _kernel_affine(input: Tensor, count: int, *params: Tensor | None) -> bool:
    """Whether the kernels take ``input`` (contiguous, on the CPU, not empty) with the complex
    ``params`` (None, or ``count`` values of its dtype each)."""
    return bool(
        input.numel()
        and input.is_contiguous()
        and _native.usable(input)
        and all(
            t is None
            or (t.dtype == input.dtype and t.numel() == count and t.device == input.device)
            for t in params
        )
    )


class _FusedLayerNorm(Function):
    """:func:`layer_norm` of ``rows`` (R, D) with complex ``weight`` gamma and ``bias`` beta
    (None: 1 and 0) per feature, given each row's ``mean`` and ``scale``
    s = 1/sqrt(E|z - mean|^2 + eps): y = gamma s (z - mean) + beta in one pass (ln_affine). The
    backward in two: ln_sums gives grad beta = sum G and grad gamma = sum s conj(z - mean) G per
    feature, and per row the means of G' = conj(gamma) G and of Re(conj(z - mean) G') that
    grad_z = s (G' - mean G') - s^3 mean(Re(conj(d) G')) d needs, which ln_affine applies (not
    ``centred``, RMS norm: mean = 0, and grad_z = s G' - s^3 mean(Re(conj(z) G')) z). A
    backward that records a graph (double backward) differentiates the torch ops."""

    @staticmethod
    def forward(
        rows: Tensor,
        mean: Tensor,
        scale: Tensor,
        weight: Tensor | None,
        bias: Tensor | None,
        eps: float,
        centred: bool,
    ) -> Tensor:
        out: Tensor = _ln_forward(rows, mean, scale, weight, bias)
        return out

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Tensor) -> None:
        rows, mean, scale, weight, bias, ctx.eps, ctx.centred = inputs
        ctx.save_for_backward(rows, mean, scale, weight, bias)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        rows, mean, scale, weight, bias = ctx.saved_tensors
        needs = ctx.needs_input_grad
        eps, centred = ctx.eps, ctx.centred
        if torch_ops_backward():  # a double backward, batched gradients: the torch ops
            features = rows.shape[1]

            def eager(z: Tensor, w: Tensor | None, b: Tensor | None) -> Tensor:
                w, b = (None if t is None else t.reshape(features) for t in (w, b))
                return _scale_shift_eager(_power_norm_eager(z, 1, eps, centred), w, b)

            grads = _graph_grads(eager, (rows, weight, bias), (needs[0], *needs[3:5]), grad)
            return grads[0], None, None, grads[1], grads[2], None, None
        wanted = _wanted(needs, weight, bias, stats=2)
        fused = _ln_backward(grad, rows, mean, scale, weight, centred, *wanted)
        return _as_inputs(fused, wanted, weight, bias, stats=2, extra=2)


def _wanted(
    needs: tuple[bool, ...], weight: Tensor | None, bias: Tensor | None, *, stats: int
) -> tuple[bool, bool, bool]:
    """Which of input, weight and bias need a gradient, for a Function whose inputs are
    (input, ``stats`` statistics, weight, bias, ...), as :func:`_as_inputs` takes them."""
    w, b = 1 + stats, 2 + stats
    return needs[0], needs[w] and weight is not None, needs[b] and bias is not None


def _as_inputs(
    grads: tuple[Tensor, Tensor, Tensor],
    wanted: tuple[bool, bool, bool],
    weight: Tensor | None,
    bias: Tensor | None,
    *,
    stats: int,
    extra: int,
) -> tuple[Tensor | None, ...]:
    """A backward op's (input, flat weight, flat bias) gradients as those of a Function whose
    inputs are (input, ``stats`` statistics, weight, bias, ``extra`` more): None where not
    wanted, and for the statistics and the rest."""
    (grad_z, grad_weight, grad_bias), (need_input, need_weight, need_bias) = grads, wanted
    return (
        grad_z if need_input else None,
        *([None] * stats),
        grad_weight.view(weight.shape) if weight is not None and need_weight else None,
        grad_bias.view(bias.shape) if bias is not None and need_bias else None,
        *([None] * extra),
    )


@_native.kernel_op(
    "ln_forward",
    schema="(Tensor rows, Tensor mean, Tensor scale, Tensor? weight, Tensor? bias) -> Tensor",
)
def _ln_forward(
    rows: Tensor, mean: Tensor, scale: Tensor, weight: Tensor | None, bias: Tensor | None
) -> Tensor:
    """gamma s (z - mean) + beta over (R, D) ``rows`` in one pass of ln_affine."""
    real = REAL_DTYPE[rows.dtype]
    (n, features), dtype = rows.shape, rows.dtype
    rowc, colc = rows.new_empty(6, n, dtype=real), rows.new_empty(4, features, dtype=real)
    gamma, beta = _per_channel(weight, bias)
    mean, scale = _per_channel(mean, scale)
    _native.call("ln_row_coef", dtype, n, features, None, mean, scale, 1, rowc)
    _native.call("ln_feature_coef", dtype, features, gamma, beta, False, colc)
    return _row_affine(rows, None, rowc, colc)


_ln_forward.register_fake(_like_first)


@_native.kernel_op(
    "ln_backward",
    schema="(Tensor grad, Tensor rows, Tensor mean, Tensor scale, Tensor? weight, bool centred, "
    "bool need_input, bool need_weight, bool need_bias) -> (Tensor, Tensor, Tensor)",
)
def _ln_backward(
    grad: Tensor,
    rows: Tensor,
    mean: Tensor,
    scale: Tensor,
    weight: Tensor | None,
    centred: bool,
    need_input: bool,
    need_weight: bool,
    need_bias: bool,
) -> tuple[Tensor, Tensor, Tensor]:
    """The gradients of :func:`_ln_forward` with respect to rows, weight (flat) and bias (flat)
    (an empty tensor where not needed), from one ln_sums pass and one ln_affine pass."""
    real = REAL_DTYPE[rows.dtype]
    (n, features), dtype = rows.shape, rows.dtype
    g = _native.laid_out_as(grad, rows)
    (gamma,) = _per_channel(weight)
    mean, scale = _per_channel(mean, scale)
    colc = rows.new_empty(4, features, dtype=real)
    _native.call("ln_feature_coef", dtype, features, gamma, None, True, colc)  # conj(gamma), 0
    per_row, per_feature = _row_sums(rows, g, mean, scale, colc)
    grad_weight = rows.new_empty(features) if need_weight else rows.new_empty(0)
    grad_bias = rows.new_empty(features) if need_bias else rows.new_empty(0)
    args = (grad_weight if need_weight else None, grad_bias if need_bias else None)
    _native.call("ln_feature_grads", dtype, features, per_feature, *args)
    grad_z = rows.new_empty(0)
    if need_input:
        rowc = rows.new_empty(6, n, dtype=real)
        _native.call("ln_row_coef", dtype, n, features, per_row, mean, scale, int(centred), rowc)
        grad_z = _row_affine(g, rows, rowc, colc)
    return grad_z, grad_weight, grad_bias


@_ln_backward.register_fake
def _(
    grad: Tensor,
    rows: Tensor,
    mean: Tensor,
    scale: Tensor,
    weight: Tensor | None,
    centred: bool,
    *needs: bool,
) -> tuple[Tensor, Tensor, Tensor]:
    return _fake_grads(rows, rows.shape[1], needs)


def _row_affine(u: Tensor, v: Tensor | None, rowc: Tensor, colc: Tensor) -> Tensor:
    """P (s (u - w)) + Q + k v + e over (R, D) ``u``, with s, w, k, e per row in the rows of the
    (6, R) ``rowc`` and P, Q per column in those of the (4, D) ``colc`` (see ``_ckernels.c``)."""
    out = torch.empty_like(u)
    rows, cols = u.shape
    _native.launch("ln_affine", u, u, v, out, rowc, colc, rows, cols)
    return out


def _row_sums(
    z: Tensor, grad: Tensor, mean: Tensor, scale: Tensor, colc: Tensor
) -> tuple[Tensor, Tensor]:
    """ln_sums of (R, D) ``z`` and ``grad``: per row (3, R) and per column (4, D), float64 (see
    ``_ckernels.c``), with P per column in the first two rows of ``colc``."""
    rows, cols = z.shape
    per_row = torch.empty(3, rows, dtype=torch.float64)
    most = rows // _SUM_ROWS  # ranges of at least _SUM_ROWS rows each
    work = _native.per_range(z, 4 * cols, max_ranges=most)
    args = (z, grad, mean, scale, colc, cols, rows)
    sums = _native.launch(
        "ln_sums", z, *args, per_row, work, partial=4 * cols, units=rows, max_ranges=most
    )
    assert sums is not None
    return per_row, sums.view(4, cols)


def group_norm(
    input: Tensor,
    num_groups: int,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    r"""Complex group norm of ``(N, C, *)`` input (``torch.nn.functional.group_norm``'s
    arguments): the channels split into ``num_groups`` groups, each normalised per sample to
    :math:`\mathbb{E}|z - \mu|^2 = 1` as in :func:`layer_norm`, then a per-channel complex
    ``weight`` and ``bias``.

    Example:
        >>> y = group_norm(torch.randn(3, 4, 5, dtype=torch.complex64) + 2j, 2)
        >>> round(y.abs().pow(2).mean().item(), 3)
        1.0
    """
    check_complex(input, "input", None)
    if input.dim() < 2 or num_groups <= 0 or input.shape[1] % num_groups:
        raise ValueError(
            f"expected input of shape (N, C, *) with C divisible by num_groups ({num_groups}), "
            f"got {tuple(input.shape)}"
        )
    _check_shapes(weight=(weight, (input.shape[1],)), bias=(bias, (input.shape[1],)))
    _check_eps(eps)
    fused = _fused_group_norm(input, num_groups, weight, bias, eps)
    if fused is not None:
        return fused
    per_group = math.prod(input.shape[1:]) // num_groups  # (not -1: an empty batch has none)
    grouped = input.reshape(input.shape[0], num_groups, per_group)
    out = _power_norm(grouped, 1, eps).reshape(input.shape)
    channel = (-1, *([1] * (input.dim() - 2)))
    return _scale_shift(
        out,
        None if weight is None else weight.view(channel),
        None if bias is None else bias.view(channel),
        input.shape[1],
        math.prod(input.shape[2:]),
    )


# Group norm with a coefficient set per (sample, channel) plane pays for them per plane: against
# the normalisation and the affine part apart (two passes each way), fwd+bwd on 2M complex64
# values in GN(4, 64), 2 threads, it took 1.85x their time at 4 values per plane, 1.15x at 16,
# 1.11x at 32 and 0.88x at 64 (0.63x at 1024).
_MIN_PLANE = 64


def _fused_group_norm(
    input: Tensor, num_groups: int, weight: Tensor | None, bias: Tensor | None, eps: float
) -> Tensor | None:
    """:func:`group_norm` in the kernels, or None where they do not apply (then the torch ops
    run): contiguous CPU input with at least _MIN_PLANE values per (sample, channel) plane, and
    ``weight``, ``bias`` None or of its dtype, one per channel."""
    channels = input.shape[1]
    plane = math.prod(input.shape[2:])
    if not (_kernel_affine(input, channels, weight, bias) and plane >= _MIN_PLANE):
        return None
    samples, per_group = input.shape[0], plane * channels // num_groups
    runs = input.view(1, samples * num_groups, per_group)
    mean, scale = _run_moments(runs, eps)  # (_FusedGroupNorm's backward goes through them)
    planes = input.view(1, samples * channels, -1)  # a "channel" per sample and channel
    out: Tensor = _FusedGroupNorm.apply(planes, mean, scale, weight, bias, num_groups, eps)
    return out.view(input.shape)


class _FusedGroupNorm(Function):
    """:func:`group_norm` of contiguous ``(N, C, *)`` input viewed as ``planes`` (1, N C, S),
    given the (sample, group) ``mean`` and ``scale`` s = 1/sqrt(E|z - mean|^2 + eps): with
    d = z - mean, y = gamma s d + beta in one pass of bn_affine, a channel of it per sample and
    channel. The backward in two passes: bn_sums of G and conj(d) G per plane, which give
    grad beta = sum G, grad gamma = sum s conj(d) G and, with G' = conj(gamma) G the gradient
    of the normalised value and means over each group, grad_z = s (G' - mean G')
    - s^3 mean(Re(conj(d) G')) d, which bn_affine applies (the per-plane maths: gn_coef and
    gn_grads in ``_ckernels.c``). A backward that records a graph (double backward)
    differentiates the torch ops."""

    @staticmethod
    def forward(
        planes: Tensor,
        mean: Tensor,
        scale: Tensor,
        weight: Tensor | None,
        bias: Tensor | None,
        groups: int,
        eps: float,
    ) -> Tensor:
        out: Tensor = _gn_forward(planes, mean, scale, weight, bias, groups)
        return out

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Tensor) -> None:
        planes, mean, scale, weight, bias, ctx.groups, ctx.eps = inputs
        ctx.save_for_backward(planes, mean, scale, weight, bias)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        planes, mean, scale, weight, bias = ctx.saved_tensors
        groups, eps = ctx.groups, ctx.eps
        needs = ctx.needs_input_grad
        if torch_ops_backward():  # a double backward, batched gradients: the torch ops
            count, inner = planes.shape[1:]
            samples = mean.numel() // groups
            shape = (samples, count // samples, inner)

            def eager(z: Tensor, w: Tensor | None, b: Tensor | None) -> Tensor:
                normed = _power_norm_eager(z.view(samples, groups, -1), 1, eps).view(shape)
                w, b = (None if t is None else t.view(-1, 1) for t in (w, b))
                return _scale_shift_eager(normed, w, b).view(planes.shape)

            grads = _graph_grads(eager, (planes, weight, bias), (needs[0], *needs[3:5]), grad)
            return grads[0], None, None, grads[1], grads[2], None, None
        wanted = _wanted(needs, weight, bias, stats=2)
        fused = _gn_backward(grad, planes, mean, scale, weight, groups, *wanted)
        return _as_inputs(fused, wanted, weight, bias, stats=2, extra=2)


@_native.kernel_op(
    "gn_forward",
    schema="(Tensor planes, Tensor mean, Tensor scale, Tensor? weight, Tensor? bias, "
    "int groups) -> Tensor",
)
def _gn_forward(
    planes: Tensor,
    mean: Tensor,
    scale: Tensor,
    weight: Tensor | None,
    bias: Tensor | None,
    groups: int,
) -> Tensor:
    """gamma s (z - mean) + beta over ``planes`` (1, N C, S) in one pass of bn_affine."""
    count, inner = planes.shape[1:]
    samples = mean.numel() // groups
    channels = count // samples
    coef = _new_coef(planes, count)
    gamma = weight if weight is not None else planes.new_ones(channels)
    beta = bias if bias is not None else planes.new_zeros(channels)
    args = (*_per_channel(mean, scale, gamma, beta), coef)
    _native.call("gn_coef", planes.dtype, samples, channels, groups, *args)
    return _affine(planes, None, coef, count, inner)


_gn_forward.register_fake(_like_first)


@_native.kernel_op(
    "gn_backward",
    schema="(Tensor grad, Tensor planes, Tensor mean, Tensor scale, Tensor? weight, int groups, "
    "bool need_input, bool need_weight, bool need_bias) -> (Tensor, Tensor, Tensor)",
)
def _gn_backward(
    grad: Tensor,
    planes: Tensor,
    mean: Tensor,
    scale: Tensor,
    weight: Tensor | None,
    groups: int,
    need_input: bool,
    need_weight: bool,
    need_bias: bool,
) -> tuple[Tensor, Tensor, Tensor]:
    """The gradients of :func:`_gn_forward` with respect to planes, weight (flat) and bias
    (flat) (an empty tensor where not needed): one bn_sums pass and one bn_affine pass."""
    count, inner = planes.shape[1:]
    samples = mean.numel() // groups
    channels = count // samples
    g = _native.laid_out_as(grad, planes)
    mu = mean.view(samples, groups, 1).expand(samples, groups, channels // groups).reshape(-1)
    sums = _sums(planes, g, mu, count, inner)
    coef = _new_coef(planes, count) if need_input else None
    grad_weight = planes.new_empty(channels) if need_weight else planes.new_empty(0)
    grad_bias = planes.new_empty(channels) if need_bias else planes.new_empty(0)
    outs = (coef, grad_weight if need_weight else None, grad_bias if need_bias else None)
    gamma = weight if weight is not None else planes.new_ones(channels)
    args = (sums, *_per_channel(mean, scale, gamma), *outs)
    _native.call("gn_grads", planes.dtype, samples, channels, groups, inner, *args)
    grad_z = planes.new_empty(0) if coef is None else _affine(g, planes, coef, count, inner)
    return grad_z, grad_weight, grad_bias


@_gn_backward.register_fake
def _(
    grad: Tensor,
    planes: Tensor,
    mean: Tensor,
    scale: Tensor,
    weight: Tensor | None,
    groups: int,
    *needs: bool,
) -> tuple[Tensor, Tensor, Tensor]:
    return _fake_grads(planes, planes.shape[1] // (mean.numel() // groups), needs)


class _PerSampleNorm(KeepsKind):
    """LayerNorm's, GroupNorm's and RMSNorm's complex affine part: gamma (starting at 1) and
    beta (starting at 0) of ``shape``, or only gamma (``bias=False``), or neither."""

    weight: nn.Parameter | None
    bias: nn.Parameter | None

    def _make_affine(
        self,
        shape: tuple[int, ...],
        affine: bool,
        bias: bool,
        device: torch.device | str | None,
        dtype: torch.dtype,
    ) -> None:
        def parameter(wanted: bool) -> nn.Parameter | None:
            empty = torch.empty(shape, device=device, dtype=dtype)
            return nn.Parameter(empty) if wanted else None

        self.weight = parameter(affine)
        self.bias = parameter(affine and bias)
        self.reset_parameters()

    def _make_feature_norm(
        self,
        normalized_shape: int | tuple[int, ...] | list[int],
        elementwise_affine: bool,
        bias: bool,
        device: torch.device | str | None,
        dtype: torch.dtype | None,
    ) -> None:
        """LayerNorm's and RMSNorm's attributes, and gamma and beta (``bias``) per feature."""
        shape = _as_shape(normalized_shape)
        self.normalized_shape = shape
        self.elementwise_affine = elementwise_affine
        self._make_affine(shape, elementwise_affine, bias, device, complex_dtype(dtype))

    def reset_parameters(self) -> None:
        """gamma = 1 and beta = 0, as after construction."""
        if self.weight is not None:
            nn.init.ones_(self.weight)
        if self.bias is not None:
            nn.init.zeros_(self.bias)


class LayerNorm(_PerSampleNorm):
    r"""Per-sample complex layer norm over the last ``len(normalized_shape)`` dimensions:
    :math:`y = (z - \mu)/\sqrt{\mathbb{E}|z-\mu|^2 + \epsilon}\,\gamma + \beta`.

    Statistics never mix samples of a batch (torchcvnn's ``LayerNorm`` does).

    Example:
        >>> ln = LayerNorm(8)
        >>> y = ln(torch.randn(4, 8, dtype=torch.complex64) * 5 + 3)
        >>> round(y.abs().pow(2).mean().item(), 3)
        1.0
    """

    def __init__(
        self,
        normalized_shape: int | tuple[int, ...] | list[int],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = torch.complex64,
    ) -> None:
        super().__init__()
        self.eps = eps
        self._make_feature_norm(normalized_shape, elementwise_affine, bias, device, dtype)

    def forward(self, input: Tensor) -> Tensor:
        return layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, "
            f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}"
        )


class GroupNorm(_PerSampleNorm):
    r"""Per-sample complex group norm: channels split into ``num_groups`` groups, each
    normalised to :math:`\mathbb{E}|z|^2 = 1` around its complex mean, then a per-channel
    complex :math:`\gamma, \beta`.

    Example:
        >>> GroupNorm(2, 4)(torch.randn(3, 4, 5, dtype=torch.complex64)).shape
        torch.Size([3, 4, 5])
    """

    def __init__(
        self,
        num_groups: int,
        num_channels: int,
        eps: float = 1e-5,
        affine: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = torch.complex64,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        if num_groups <= 0 or num_channels % num_groups:
            raise ValueError(
                f"num_channels ({num_channels}) must be divisible by num_groups ({num_groups})"
            )
        self.num_groups, self.num_channels, self.eps, self.affine = (
            num_groups,
            num_channels,
            eps,
            affine,
        )
        self._make_affine((num_channels,), affine, bias, device, complex_dtype(dtype))

    def forward(self, input: Tensor) -> Tensor:
        if input.dim() < 2 or input.shape[1] != self.num_channels:
            raise ValueError(
                f"expected input of shape (N, {self.num_channels}, *), got {tuple(input.shape)}"
            )
        return group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
            f"bias={self.bias is not None}"
        )
