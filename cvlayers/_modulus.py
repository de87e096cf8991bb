r"""Modulus and phase maths with an explicit, finite value at :math:`z = 0`.

One place for |z|, z/|z| and the phase-preserving activations
:math:`f(z) = g(|z|)\,z/|z|`. The autograd Functions here save only their input and
recompute the rest in backward (one saved tensor of the input's size), using the Wirtinger
derivatives of :math:`f = g(r)\,u`, :math:`r = |z|`, :math:`u = z/r`:

.. math::
    \frac{\partial f}{\partial z} = \tfrac12\Big(g'(r) + \frac{g(r)}{r}\Big), \qquad
    \frac{\partial f}{\partial \bar z} = \tfrac12\Big(g'(r) - \frac{g(r)}{r}\Big)\,u^2,

and PyTorch's vector-Jacobian product

.. math::
    \texttt{grad\_z} = \overline{\partial f/\partial z}\,G + (\partial f/\partial\bar z)\,\bar G .

At :math:`z = 0` every function returns 0; :math:`g(r)/r` takes its limit :math:`g'(0)`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from . import _compiled, _native
from ._function import Function

__all__ = [
    "KINDS",
    "as_complex",
    "cardioid",
    "channel_layout",
    "modulus",
    "modulus_fn",
    "modulus_scale",
    "reduce_to",
    "times_real",
    "times_real_view",
    "unit",
]

KINDS = ("relu_bias", "tanh", "sigmoid")


def modulus(z: Tensor) -> Tensor:
    """|z|, for selection and inside the Functions below, whose eager backward differentiates
    it when a graph of the backward is recorded. The fused kernel where it applies and no graph
    is recorded, else ``torch.abs`` (hypot): neither over- nor underflows, as sqrt(Re^2 + Im^2)
    would for |z| outside ~[1e-19, 1e19] in float32."""
    if _native.usable(z) and not (z.requires_grad and torch.is_grad_enabled()):
        return _native.forward("abs", z, real=True)
    return torch.abs(z)


def _nonzero(r: Tensor) -> Tensor:
    """|z| with 1 where z = 0: a divisor that leaves 0 / |z| at 0."""
    return torch.where(r > 0, r, 1.0)


def unit(z: Tensor, r: Tensor) -> Tensor:
    """z/|z| for ``r`` = |z|, 0 at z = 0: divided on the real view, as 1/|z| would overflow
    at a denormal |z| (``torch.sgn`` gives inf and NaN there)."""
    return as_complex(torch.view_as_real(z.resolve_conj()) / _nonzero(r).unsqueeze(-1))


def times_real(z: Tensor, s: Tensor) -> Tensor:
    """``z * s`` for a real ``s`` broadcastable to ``z``. Off the CPU on the real view, as
    ``z * s`` first converts ``s`` to a complex tensor, one more pass over memory (GPUs are
    memory-bound). On CPU that view's inner loop of two elements does not vectorise, and
    ``z * s`` is ~2x faster."""
    return z * s if z.device.type == "cpu" else times_real_view(z, s)


def times_real_view(z: Tensor, s: Tensor) -> Tensor:
    """``z * s`` on the real view of ``z`` (any device): the GPU path of :func:`times_real`."""
    return as_complex(torch.view_as_real(z.resolve_conj()) * s.unsqueeze(-1))


def as_complex(pairs: Tensor) -> Tensor:
    """The complex tensor of a real ``(..., 2)`` result, copied only where an op left its
    (re, im) pairs apart."""
    return torch.view_as_complex(pairs if pairs.stride(-1) == 1 else pairs.contiguous())


def _g(kind: str, r: Tensor, bias: Tensor | None) -> Tensor:
    """g(r) of the modulus map."""
    if kind == "relu_bias":
        assert bias is not None
        return torch.relu(r + bias)
    if kind == "tanh":
        return torch.tanh(r)
    if kind == "sigmoid":
        return torch.sigmoid(r)
    raise ValueError(f"unknown modulus activation {kind!r}; expected one of {KINDS}")


def _dg(kind: str, g: Tensor) -> Tensor:
    """g'(r), from g(r): 1[g != 0] (g = ReLU(r + b) >= 0, or NaN from a NaN bias, where
    torch's relu passes the gradient on), 1 - g^2, g - g^2."""
    if kind == "relu_bias":
        return g.ne(0).to(g.dtype)
    if kind == "tanh":
        return torch.addcmul(g.new_ones(()), g, g, value=-1)
    return torch.addcmul(g, g, g, value=-1)


def reduce_to(grad: Tensor, shape: torch.Size | tuple[int, ...]) -> Tensor:
    """Sum a gradient over the dimensions along which a tensor of ``shape`` was broadcast to
    it, in one reduction: the gradient of that tensor."""
    lead = grad.dim() - len(shape)
    dims = [*range(lead)]
    dims += [lead + i for i, n in enumerate(shape) if n == 1 and grad.shape[lead + i] != 1]
    return grad.sum(dims, keepdim=True).reshape(shape) if dims else grad


_KERNELS = {"relu_bias": "modrelu", "tanh": "modtanh", "sigmoid": "modsigmoid"}


def _bias_layout(z: Tensor, bias: Tensor | None) -> tuple[int, int] | None:
    """:func:`channel_layout`, where the kernels apply to ``z`` and ``bias``; else None."""
    if not _native.usable(z, bias) or z.numel() == 0:
        return None
    return channel_layout(z, bias)


def channel_layout(z: Tensor, bias: Tensor | None) -> tuple[int, int] | None:
    """(channels, inner) such that element i of dense ``z``'s memory reads ``bias[(i // inner)
    % channels]`` of its broadcast ``bias`` (None: no bias); None where no such pair exists
    (a bias that varies along two dimensions, or has more than ``z``)."""
    if bias is None:
        return 1, z.numel()
    if bias.dim() > z.dim():
        return None  # the output takes the broadcast shape: the eager path
    if bias.numel() == 1:  # one value for every element
        return 1, z.numel()
    lead, varying = z.dim() - bias.dim(), -1
    for d, n in enumerate(bias.shape, start=lead):
        if n != 1 and n != z.shape[d]:
            return None  # the eager path raises the broadcasting error
        if n != 1:
            if varying >= 0:
                return None
            varying = d
    if varying < 0:
        return 1, z.numel()
    # In memory, bias[c] for runs of stride(d) elements, in any dense layout.
    return z.shape[varying], z.stride(varying)


class _ModulusScale(Function):
    @staticmethod
    def forward(z: Tensor, bias: Tensor | None, kind: str) -> Tensor:
        layout = _bias_layout(z, bias)
        if layout is not None:
            return _native.forward(_KERNELS[kind], z, bias, *layout)
        if _compiled.usable(z, bias):
            out = _compiled.modulus_scale(z, bias, kind)
            if out is not None:
                return out
        r = modulus(z)
        return times_real(unit(z, r), _g(kind, r, bias))  # g/r would overflow at a tiny r

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Tensor) -> None:
        z, bias, ctx.kind = inputs
        ctx.save_for_backward(z, bias)
        ctx.save_for_forward(z, bias)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, Tensor | None, None]:
        z, bias = ctx.saved_tensors
        layout = _bias_layout(z, bias)
        if layout is not None and not torch.is_grad_enabled():
            kernel = _KERNELS[ctx.kind]
            if bias is None or not ctx.needs_input_grad[1]:  # no bias sums (NULL): 3-4 us less
                return _native.backward(kernel, z, grad, bias, *layout, None)[0], None, None
            fused, sums = _native.backward(kernel, z, grad, bias, *layout, partial=layout[0])
            assert sums is not None
            return fused, sums.to(bias.dtype).reshape(bias.shape), None
        need_z, need_bias = ctx.needs_input_grad[0], bias is not None and ctx.needs_input_grad[1]
        if _compiled.usable_backward(z, bias):
            grads = _compiled.modulus_scale_backward(z, grad, bias, ctx.kind, need_bias)
            if grads is not None:
                return grads[0] if need_z else None, grads[1], None
        grad_z, grad_bias = _scale_grads(z, bias, ctx.kind, grad, need_z, need_bias)
        return grad_z, grad_bias, None

    @staticmethod
    def tangent(ctx: Any, z_t: Tensor | None, bias_t: Tensor | None, _: None) -> Tensor:
        """The backward's map of the input's tangent (the Jacobian is symmetric: diag(g'(r),
        g(r)/r) in the frame (u, iu)), plus u g'(r) times the bias's tangent."""
        z, bias = ctx.saved_tensors
        if z_t is None:
            out = torch.zeros_like(z)
        else:
            grad_z = _scale_grads(z, bias, ctx.kind, z_t, True, False)[0]
            assert grad_z is not None
            out = grad_z
        if bias_t is not None:
            r = modulus(z)
            out = out + times_real(unit(z, r), _dg(ctx.kind, _g(ctx.kind, r, bias)) * bias_t)
        return out


def _scale_grads(
    z: Tensor, bias: Tensor | None, kind: str, grad: Tensor, need_z: bool, need_bias: bool
) -> tuple[Tensor | None, Tensor | None]:
    """The eager backward of :func:`modulus_scale` for upstream ``grad``: the gradients of
    ``z`` and ``bias`` (where asked for)."""
    r = modulus(z)
    u = unit(z, r)
    g = _g(kind, r, bias)
    dg = _dg(kind, g)
    # conj(u) G = q + ip. Out-of-place ops and a lazy conj throughout: torch.func's vmap has
    # batching rules for them, not for conj_physical or clamp_ (a per-sample loop).
    radial = u.conj() * grad
    grad_z = None
    if need_z:
        # (dg + g/r)/2 G + (dg - g/r)/2 u^2 conj(G) = u (dg q + i (g/r) p), which is dg G
        # at z = 0 (u = 0 there). g/r and (g/r) p saturate at the largest float rather than
        # overflow to inf, which would meet a 0 of u as NaN.
        big = torch.finfo(r.dtype).max
        ratio = torch.div(g, _nonzero(r)).clamp(max=big)
        tangential = torch.mul(ratio, radial.imag).clamp(-big, big)
        grad_z = u * torch.complex(dg * radial.real, tangential)
        grad_z = grad_z + times_real(grad, torch.where(r > 0, 0.0, dg))
    grad_bias = None
    if need_bias:
        assert bias is not None
        # df/db = 1[r + b > 0] u; a real parameter gets Re(conj(G) df/db) = dg q.
        grad_bias = reduce_to(radial.real * dg, bias.shape)
    return grad_z, grad_bias


def modulus_scale(z: Tensor, kind: str, bias: Tensor | None = None) -> Tensor:
    r""":math:`g(|z|)\,z/|z|` for ``kind`` in :data:`KINDS` (``relu_bias``:
    :math:`\mathrm{ReLU}(r + b)`, ``tanh``, ``sigmoid``), 0 at :math:`z = 0`."""
    if kind not in KINDS:
        raise ValueError(f"unknown modulus activation {kind!r}; expected one of {KINDS}")
    out: Tensor = _ModulusScale.apply(z, bias, kind)
    return out


class _Cardioid(Function):
    """f = (1 + cos theta) z / 2 with cos theta = Re(z)/|z| (0 at z = 0).

    With u = z/|z| = c + i s (0 at z = 0), the Jacobian in the frame (u, iu) is
    [[(1 + c)/2, -s/2], [0, (1 + c)/2]]; its transpose applied to G gives

        grad_z = (1 + c)/2 G - i (s/2) Re(conj(u) G) u,

    which is G/2 at z = 0.
    """

    @staticmethod
    def forward(z: Tensor) -> Tensor:
        if _native.usable(z):
            return _native.forward("cardioid", z)
        if _compiled.usable(z):
            return _compiled.cardioid(z)
        half_one_plus_cos = (z.real / _nonzero(modulus(z))).add_(1).mul_(0.5)
        return times_real(z, half_one_plus_cos)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Tensor) -> None:
        ctx.save_for_backward(inputs[0])
        ctx.save_for_forward(inputs[0])

    @staticmethod
    def tangent(ctx: Any, z_t: Tensor) -> Tensor:
        """The Jacobian itself on the tangent v: (1 + c)/2 v - (s/2) Im(conj(u) v) u, which is
        v/2 at z = 0."""
        (z,) = ctx.saved_tensors
        u = unit(z, modulus(z))
        k = (u.conj() * z_t).imag * u.imag * 0.5
        return times_real(z_t, torch.add(u.real, 1).mul(0.5)) - times_real(u, k)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        (z,) = ctx.saved_tensors
        if _native.usable_backward(z):
            return _native.backward("cardioid", z, grad)[0]
        if _compiled.usable_backward(z):
            return _compiled.cardioid_backward(z, grad)
        u = unit(z, modulus(z))
        u_re, g_re = torch.view_as_real(u), torch.view_as_real(grad.resolve_conj())
        radial = (u_re * g_re).sum(-1)  # Re(conj(u) G)
        half_one_plus_cos = torch.add(u.real, 1).mul_(0.5)
        k = radial.mul_(u.imag).mul_(0.5)
        out = times_real(grad, half_one_plus_cos)
        # Out of place: vmap has no batching rule for addcmul_.
        pairs = torch.addcmul(torch.view_as_real(out), torch.view_as_real(u * -1j), k.unsqueeze(-1))
        return as_complex(pairs)


def cardioid(z: Tensor) -> Tensor:
    r"""Cardioid (Virtue et al., 2017): :math:`\tfrac12(1 + \cos\angle z)\,z`, 0 at z = 0."""
    out: Tensor = _Cardioid.apply(z)
    return out


class _Modulus(Function):
    """|z| with the fused kernels; else ``torch.abs`` and the backward ``grad * z/|z|``."""

    @staticmethod
    def forward(z: Tensor) -> Tensor:
        return modulus(z)  # no graph inside forward: the kernel wherever it applies

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Tensor) -> None:
        ctx.save_for_backward(inputs[0])
        ctx.save_for_forward(inputs[0])

    @staticmethod
    def tangent(ctx: Any, z_t: Tensor) -> Tensor:
        """Re(conj(u) v) for the tangent v, 0 at z = 0."""
        (z,) = ctx.saved_tensors
        return (unit(z, modulus(z)).conj() * z_t).real

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        (z,) = ctx.saved_tensors
        if _native.usable_backward(z):
            return _native.backward("abs", z, grad)[0]
        return times_real(unit(z, modulus(z)), grad)


def modulus_fn(z: Tensor) -> Tensor:
    """Differentiable |z| (real output), as ``torch.abs``: backward ``grad * z/|z|``, 0 at
    z = 0, saving only z."""
    out: Tensor = _Modulus.apply(z)
    return out
