"""Functional forms of the complex activations (re-exported by cvlayers.functional)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from . import _compiled, _native
from ._checks import check_complex
from ._function import Function
from ._modulus import _bias_layout, as_complex, modulus_fn, modulus_scale, reduce_to
from ._modulus import cardioid as _cardioid

__all__ = [
    "CONVERSIONS",
    "cardioid",
    "ccelu",
    "celu",
    "cgelu",
    "complex_to_real",
    "cprelu",
    "crelu",
    "csigmoid",
    "ctanh",
    "mod",
    "mod_sigmoid",
    "mod_tanh",
    "modrelu",
    "real_to_complex",
    "zrelu",
]


def _parts(z: Tensor) -> Tensor:
    """``z``, checked to be complex, without a lazy conjugate (``x.conj()``, which has no real
    view): the input of the functions of Re and Im."""
    check_complex(z, "input", None)
    return z.resolve_conj()


def _in_place(
    fn: Callable[[Tensor], object], z: Tensor, out_of_place: Callable[[Tensor], Tensor]
) -> Tensor:
    """Apply torch's in-place real function to Re and Im of ``z`` through its real view; a
    lazy conjugate, which has none, takes ``out_of_place``'s result through ``copy_``."""
    check_complex(z, "input", None)
    if z.is_conj():
        return z.copy_(out_of_place(z))
    fn(torch.view_as_real(z))
    return z


def crelu(input: Tensor, inplace: bool = False) -> Tensor:
    r""":math:`\mathrm{ReLU}(\mathrm{Re}\,z) + i\,\mathrm{ReLU}(\mathrm{Im}\,z)`; 0 at 0.
    ``inplace=True`` writes into ``input`` (torch's ``relu_`` on its real view).

    Example:
        >>> crelu(torch.tensor([1 - 2j, -1 + 3j]))
        tensor([1.+0.j, 0.+3.j])
    """
    if inplace:
        return _in_place(torch.relu_, input, crelu)
    input = _parts(input)
    if (not input.is_contiguous() or torch.compiler.is_compiling()) and _native.usable(input):
        # Channels last or transposed: the kernel, in input's layout. On the real view, torch's
        # backward of view_as_complex makes the gradient contiguous, and threshold_backward then
        # mixes two layouts: fwd+bwd took ~10x the contiguous time. Under torch.compile too:
        # Inductor's code for relu on the real view took 14x the kernel.
        out: Tensor = _SplitFromOutput.apply(input, "crelu")
        return out
    return as_complex(torch.relu(torch.view_as_real(input)))  # as fast as the kernel, no Function


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    r""":math:`\mathrm{ELU}(\mathrm{Re}\,z) + i\,\mathrm{ELU}(\mathrm{Im}\,z)` with
    :math:`\mathrm{ELU}(t) = t` for :math:`t > 0`, else :math:`\alpha (e^t - 1)`; 0 at 0.
    ``inplace=True`` writes into ``input`` (torch's ``elu_``, whose backward reads the output).

    Example:
        >>> celu(torch.tensor([-1 + 2j]))
        tensor([-0.6321+2.j])
    """
    if inplace:
        return _in_place(lambda t: F.elu_(t, alpha), input, lambda c: celu(c, alpha))
    out: Tensor = _SplitELU.apply(_parts(input), alpha, 1.0)
    return out


def ccelu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    r""":math:`\mathrm{CELU}(\mathrm{Re}\,z) + i\,\mathrm{CELU}(\mathrm{Im}\,z)` with
    torch's :math:`\mathrm{CELU}(t) = \max(0, t) + \min(0, \alpha (e^{t/\alpha} - 1))`
    (torchcvnn's ``CCELU``; :func:`celu` is ELU); 0 at 0, derivative 1 there.
    ``inplace=True`` writes into ``input`` (torch's ``celu_``).

    Example:
        >>> ccelu(torch.tensor([-1 + 2j]), alpha=2.0)
        tensor([-0.7869+2.j])
    """
    _check_celu_alpha(alpha)
    if inplace:
        return _in_place(lambda t: F.celu_(t, alpha), input, lambda c: ccelu(c, alpha))
    out: Tensor = _SplitELU.apply(_parts(input), alpha, 1 / alpha)
    return out


def _check_celu_alpha(alpha: float) -> None:
    """Raise ``ValueError`` for CELU's ``alpha`` = 0 (it divides t), as torch's celu does."""
    if alpha == 0:
        raise ValueError("alpha must be nonzero for CELU (it divides t), got 0")


def cgelu(input: Tensor, approximate: str = "none") -> Tensor:
    r""":math:`\mathrm{GELU}(\mathrm{Re}\,z) + i\,\mathrm{GELU}(\mathrm{Im}\,z)` with
    :math:`\mathrm{GELU}(t) = t\,\Phi(t)` (``approximate="tanh"``: torch's tanh form); 0 at 0.

    Example:
        >>> cgelu(torch.tensor([1 - 1j]))
        tensor([0.8413-0.1587j])
    """
    if approximate not in ("none", "tanh"):
        raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}")
    out: Tensor = _SplitGELU.apply(_parts(input), approximate)
    return out


def csigmoid(input: Tensor) -> Tensor:
    r""":math:`\sigma(\mathrm{Re}\,z) + i\,\sigma(\mathrm{Im}\,z)`; :math:`(1+i)/2` at 0.

    Example:
        >>> csigmoid(torch.tensor([0j, 2 - 2j]))
        tensor([0.5000+0.5000j, 0.8808+0.1192j])
    """
    out: Tensor = _SplitFromOutput.apply(_parts(input), "csigmoid")
    return out


def ctanh(input: Tensor) -> Tensor:
    r""":math:`\tanh(\mathrm{Re}\,z) + i\,\tanh(\mathrm{Im}\,z)`; 0 at 0.

    Example:
        >>> ctanh(torch.tensor([1 - 1j]))
        tensor([0.7616-0.7616j])
    """
    out: Tensor = _SplitFromOutput.apply(_parts(input), "ctanh")
    return out


def cprelu(input: Tensor, weight: Tensor) -> Tensor:
    r"""PReLU on Re and Im, :math:`\max(t, 0) + a \min(t, 0)` for :math:`t = \mathrm{Re}\,z`
    with :math:`a` = ``weight[..., 0]`` and for :math:`t = \mathrm{Im}\,z` with ``weight[..., 1]``.

    ``weight`` is ``(2,)`` or ``(1, 2)`` (slopes shared by all of ``z``) or ``(C, 2)`` (slopes
    per channel, dim 1 of ``z``, as ``torch.nn.functional.prelu``'s). Derivative 1 at t = 0.

    Example:
        >>> cprelu(torch.tensor([-4 - 8j, 2 - 2j]), torch.tensor([0.25, 0.5]))
        tensor([-1.-4.j,  2.-1.j])
    """
    input = _parts(input)
    if weight.shape[-1:] != (2,) or weight.dim() > 2:
        raise ValueError(
            f"weight must have shape (2,) or (C, 2) (real and imag slopes), got "
            f"{tuple(weight.shape)}"
        )
    if weight.numel() == 2:
        weight = weight.reshape(2)
    elif input.dim() < 2 or input.shape[1] != weight.shape[0]:
        raise ValueError(
            f"weight has slopes for {weight.shape[0]} channels but the input has "
            f"{input.shape[1] if input.dim() >= 2 else 'no channel dimension (dim 1)'}; shape "
            f"{tuple(input.shape)}"
        )
    out: Tensor = _SplitPReLU.apply(input, weight)
    return out


def zrelu(input: Tensor) -> Tensor:
    r""":math:`z` if :math:`\mathrm{Re}\,z > 0` and :math:`\mathrm{Im}\,z > 0`, else 0
    (Guberman, 2016): only the open first quadrant passes; 0 (and gradient 0) at 0.

    Example:
        >>> zrelu(torch.tensor([1 + 2j, 1 - 2j]))
        tensor([1.+2.j, 0.+0.j])
    """
    check_complex(input, "input", None)
    out: Tensor = _ZReLU.apply(input)
    return out


def modrelu(input: Tensor, bias: Tensor) -> Tensor:
    r""":math:`\mathrm{ReLU}(|z| + b)\,z/|z|` (Arjovsky et al., 2016): phase kept, modulus
    shifted by the real ``bias`` :math:`b` (broadcast against :math:`|z|`). 0 at z = 0.

    Example:
        >>> modrelu(torch.tensor([3 - 4j, 0j]), torch.tensor(-1.0))
        tensor([2.4000-3.2000j, 0.0000+0.0000j])
    """
    check_complex(input, "input", None)
    if bias.is_complex():
        raise TypeError(f"bias must be real, got {bias.dtype}")
    return modulus_scale(input, "relu_bias", bias)


def mod_tanh(input: Tensor) -> Tensor:
    r""":math:`\tanh(|z|)\,z/|z|`: squashes the modulus into [0, 1), keeps the phase; 0 at 0.

    Example:
        >>> mod_tanh(torch.tensor([3 - 4j, 0j]))
        tensor([0.5999-0.7999j, 0.0000+0.0000j])
    """
    check_complex(input, "input", None)
    return modulus_scale(input, "tanh")


def mod_sigmoid(input: Tensor) -> Tensor:
    r""":math:`\sigma(|z|)\,z/|z|`: modulus into (1/2, 1), phase kept; 0 at z = 0 (where the
    phase is undefined), with the finite gradient of the limit :math:`g(r)/r \to g'(0)`.

    Example:
        >>> mod_sigmoid(torch.tensor([3 - 4j, 0j]))
        tensor([0.5960-0.7946j, 0.0000+0.0000j])
    """
    check_complex(input, "input", None)
    return modulus_scale(input, "sigmoid")


def cardioid(input: Tensor) -> Tensor:
    r""":math:`\tfrac12(1 + \cos\angle z)\,z` (Virtue et al., 2017); 0 at z = 0.

    Example:
        >>> cardioid(torch.tensor([2 + 0j, 1j, -2 + 0j]))
        tensor([2.+0.0000j, 0.+0.5000j, -0.+0.0000j])
    """
    check_complex(input, "input", None)
    return _cardioid(input)


def mod(input: Tensor) -> Tensor:
    r""":math:`|z|` as a real tensor; gradient :math:`z/|z|` (0 at z = 0).

    Example:
        >>> mod(torch.tensor([3 - 4j, 0j]))
        tensor([5., 0.])
    """
    check_complex(input, "input", None)
    return modulus_fn(input)


def _angle(z: Tensor) -> Tensor:
    return torch.angle(z)


CONVERSIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "real": torch.real,
    "imag": torch.imag,
    "abs": modulus_fn,
    "angle": _angle,
}


def complex_to_real(input: Tensor, mode: str = "real", dim: int = 1) -> Tensor:
    r"""Complex to real: ``"real"``, ``"imag"``, ``"abs"`` (:math:`|z|`), ``"angle"`` (in
    :math:`(-\pi, \pi]`, 0 at z = 0, gradient 0 there) or ``"cat"`` (Re and Im concatenated
    along ``dim``, which doubles that dimension).

    Example:
        >>> complex_to_real(torch.tensor([[3 - 4j]]), "cat")
        tensor([[ 3., -4.]])
    """
    check_complex(input, "input", None)
    if mode == "cat":
        return torch.cat([input.real, input.imag], dim=dim)
    if mode not in CONVERSIONS:
        raise ValueError(f"mode must be one of {(*CONVERSIONS, 'cat')}, got {mode!r}")
    return CONVERSIONS[mode](input)


def real_to_complex(input: Tensor, dim: int | None = None) -> Tensor:
    r"""Real to complex: :math:`x + 0i` for ``input`` :math:`x` when ``dim`` is None, else the
    inverse of ``complex_to_real(mode="cat", dim=dim)`` (first half real, second half
    imaginary).

    Example:
        >>> real_to_complex(torch.tensor([[1.0, 2.0]]), dim=-1)
        tensor([[1.+2.j]])
    """
    if input.is_complex() or not input.is_floating_point():
        raise TypeError(f"input must be a real floating point tensor, got {input.dtype}")
    if dim is None:
        return torch.complex(input, torch.zeros_like(input))
    size = input.shape[dim]
    if size % 2:
        raise ValueError(f"dimension {dim} must have even size to split into (Re, Im), got {size}")
    real, imag = torch.chunk(input, 2, dim=dim)
    return torch.complex(real, imag)


def _relu_backward(out: Tensor, g: Tensor) -> Tensor:
    grad: Tensor = torch.ops.aten.threshold_backward(g, out, 0)
    return grad


def _tanh_backward(out: Tensor, g: Tensor) -> Tensor:
    return g * (1 - out * out)


def _sigmoid_backward(out: Tensor, g: Tensor) -> Tensor:
    return g * ((1 - out) * out)


# Functions of Re and Im whose derivative is a function of their output: (torch op, backward
# from the output and the upstream gradient, both real; compiled off the CPU).
_FROM_OUTPUT: dict[str, tuple[Callable[[Tensor], Tensor], Callable[[Tensor, Tensor], Tensor]]] = {
    "crelu": (torch.relu, _relu_backward),
    "ctanh": (torch.tanh, _tanh_backward),
    "csigmoid": (torch.sigmoid, _sigmoid_backward),
}


class _SplitFromOutput(Function):
    """``family``'s function on the real view, saving the output: the backward is G f'(out)
    (the kernel of ``family`` where it applies, else the formula of :data:`_FROM_OUTPUT`). Its
    backward takes the gradient as it comes, where autograd's for ``view_as_complex`` makes it
    contiguous (then out of step with a channels-last output)."""

    @staticmethod
    def forward(z: Tensor, family: str) -> Tensor:
        if _native.usable(z):
            return _native.forward(family, z)
        return as_complex(_FROM_OUTPUT[family][0](torch.view_as_real(z)))

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Tensor) -> None:
        ctx.save_for_backward(output)
        ctx.save_for_forward(output)
        ctx.family = inputs[1]

    @staticmethod
    def tangent(ctx: Any, z_t: Tensor, _: None) -> Tensor:
        """f'(t) on each part: the backward's map, as the Jacobian is diagonal in (Re, Im)."""
        return _SplitFromOutput.backward(ctx, z_t)[0]

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        (out,) = ctx.saved_tensors
        if _native.usable_backward(out):
            return _native.backward(ctx.family, out, grad)[0], None
        backward = _FROM_OUTPUT[ctx.family][1]
        if _compiled.usable_backward(out):
            return _compiled.pointwise(backward, out, grad=grad), None
        g = torch.view_as_real(grad.resolve_conj())
        return as_complex(backward(torch.view_as_real(out), g)), None


def _elu_family(input_scale: float) -> str:
    """The kernels of ELU (``input_scale`` 1: no multiplications by it) or of CELU."""
    return "celu" if input_scale == 1 else "ccelu"


class _SplitELU(Function):
    """torch's ``elu(t, alpha, 1, input_scale)`` on the real view (``input_scale`` 1: ELU,
    1/alpha: CELU), saving the input: the backward is torch's ``elu_backward``. The kernel takes
    ``input_scale`` > 0, where e^(input_scale t) is needed only for t <= 0."""

    @staticmethod
    def forward(z: Tensor, alpha: float, input_scale: float) -> Tensor:
        if input_scale > 0 and _native.usable(z):
            return _native.forward(_elu_family(input_scale), z, alpha, input_scale)
        return as_complex(torch.ops.aten.elu(torch.view_as_real(z), alpha, 1, input_scale))

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Tensor) -> None:
        ctx.save_for_backward(inputs[0])
        ctx.save_for_forward(inputs[0])
        ctx.alpha, ctx.input_scale = inputs[1:]

    @staticmethod
    def tangent(ctx: Any, z_t: Tensor, *_: None) -> Tensor:
        """The backward's map (a diagonal Jacobian in (Re, Im))."""
        return _SplitELU.backward(ctx, z_t)[0]

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None]:
        (z,) = ctx.saved_tensors
        alpha, scale = ctx.alpha, ctx.input_scale
        if scale > 0 and _native.usable_backward(z):
            family = _elu_family(scale)
            return _native.backward(family, z, grad, alpha, scale)[0], None, None
        real = torch.ops.aten.elu_backward(
            torch.view_as_real(grad.resolve_conj()), alpha, 1, scale, False, torch.view_as_real(z)
        )
        return torch.view_as_complex(real), None, None


class _SplitGELU(Function):
    """GELU on the real view, saving the input. The exact GELU of complex64 runs the kernel,
    which takes Phi from a rational instead of erf's exponential (cv_gelu_phi_f32: as accurate
    as torch's float gelu, to a few eps); complex128 and ``approximate="tanh"`` run torch's."""

    @staticmethod
    def forward(z: Tensor, approximate: str) -> Tensor:
        if approximate == "none" and _native.usable(z, kernel="cgelu"):
            return _native.forward("cgelu", z)
        return as_complex(F.gelu(torch.view_as_real(z), approximate=approximate))

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Tensor) -> None:
        ctx.save_for_backward(inputs[0])
        ctx.save_for_forward(inputs[0])
        ctx.approximate = inputs[1]

    @staticmethod
    def tangent(ctx: Any, z_t: Tensor, _: None) -> Tensor:
        """The backward's map (a diagonal Jacobian in (Re, Im))."""
        return _SplitGELU.backward(ctx, z_t)[0]

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        (z,) = ctx.saved_tensors
        if ctx.approximate == "none" and _native.usable_backward(z, kernel="cgelu"):
            return _native.backward("cgelu", z, grad)[0], None
        real = torch.ops.aten.gelu_backward(
            torch.view_as_real(grad.resolve_conj()),
            torch.view_as_real(z),
            approximate=ctx.approximate,
        )
        return torch.view_as_complex(real), None


class _ZReLU(Function):
    """z times the first-quadrant mask; the backward recomputes the mask from z."""

    @staticmethod
    def forward(z: Tensor) -> Tensor:
        if _native.usable(z):
            return _native.forward("zrelu", z)
        if _compiled.usable(z):
            out: Tensor = _compiled.pointwise(_first_quadrant_times, z, grad=z)
            return out
        return z * _first_quadrant(z)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Tensor) -> None:
        ctx.save_for_backward(inputs[0])
        ctx.save_for_forward(inputs[0])

    @staticmethod
    def tangent(ctx: Any, z_t: Tensor) -> Tensor:
        """The tangent times the mask, as the backward."""
        return _ZReLU.backward(ctx, z_t)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        (z,) = ctx.saved_tensors
        if _native.usable_backward(z):
            return _native.backward("zrelu", z, grad)[0]
        if _compiled.usable_backward(z):
            grad_z: Tensor = _compiled.pointwise(_first_quadrant_times, z, grad=grad)
            return grad_z
        return grad * _first_quadrant(z)


def _first_quadrant(z: Tensor) -> Tensor:
    return (z.real > 0) & (z.imag > 0)


def _first_quadrant_times(t: Tensor, v: Tensor) -> Tensor:
    """``v`` times the first-quadrant mask of ``t`` (both (Re, Im) pairs), as the complex
    product ``v * mask`` gives it: +0 off the quadrant, NaN in both parts there where either
    part of ``v`` is NaN or infinite."""
    inside = ((t[..., 0] > 0) & (t[..., 1] > 0)).unsqueeze(-1)
    x, y = v[..., 0], v[..., 1]
    zero = ((x - x) + (y - y)).unsqueeze(-1)  # Inductor folds x * 0 to 0, NaN or not
    return torch.where(inside, v, zero)


def _slopes_view(weight: Tensor, z: Tensor) -> Tensor:
    """Slopes (2,) as they are, or per channel (C, 2) shaped (C, 1, ..., 1, 2) to broadcast
    against the real view (N, C, *, 2) of ``z``."""
    return weight if weight.dim() == 1 else weight.view(-1, *([1] * (z.dim() - 2)), 2)


def _slopes_kernel_args(z: Tensor, weight: Tensor) -> tuple[Tensor, Tensor, int, int] | None:
    """The cprelu kernels' slopes as two planes (Re's, Im's) and their (channels, inner) layout
    in ``z``'s memory (as :func:`cvlayers._modulus._bias_layout`'s), where the kernels apply;
    else None."""
    if z.numel() == 0 or not _native.usable(z, weight):
        return None
    if weight.dim() == 1:  # shared: views of its two elements, no copy
        return weight[:1], weight[1:], 1, z.numel()
    planes = weight.t().contiguous()  # (2, C), per channel on dim 1 of z
    layout = _bias_layout(z, planes[0].view(-1, *([1] * (z.dim() - 2))))
    return None if layout is None else (planes[0], planes[1], *layout)


class _SplitPReLU(Function):
    """PReLU on the real view with slopes (w_re, w_im), shared (2,) or per channel (C, 2),
    saving only the input: prelu(t) = max(t, 0) + w min(t, 0). (On CPU, F.prelu with the
    (Re, Im) axis as channels and torch.where are both ~10x slower than these clamps.)"""

    @staticmethod
    def forward(z: Tensor, weight: Tensor) -> Tensor:
        args = _slopes_kernel_args(z, weight)
        if args is not None:
            return _native.forward("cprelu", z, *args)
        if _compiled.usable(z, weight):
            slopes, channels = _slopes_by_channel(weight, z)
            out: Tensor | None = _compiled.pointwise(_prelu, z, slopes, channels=channels)
            if out is not None:  # None: no channel layout (the torch ops then raise)
                return out
        return as_complex(_prelu(torch.view_as_real(z), _slopes_view(weight, z)))

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Tensor) -> None:
        ctx.save_for_backward(*inputs)
        ctx.save_for_forward(*inputs)

    @staticmethod
    def tangent(ctx: Any, z_t: Tensor | None, weight_t: Tensor | None) -> Tensor:
        """prelu'(t) times Re, Im of the input's tangent (the backward's map), plus min(t, 0)
        times the slopes' tangent."""
        z = ctx.saved_tensors[0]
        t = torch.view_as_real(z)
        if z_t is None:
            out = torch.zeros_like(t)
        else:
            out = torch.view_as_real(_SplitPReLU.backward(ctx, z_t)[0])
        if weight_t is not None:
            out = out + torch.clamp_max(t, 0) * _slopes_view(weight_t, z)
        return as_complex(out)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, Tensor]:
        z, weight = ctx.saved_tensors
        args = None if torch.is_grad_enabled() else _slopes_kernel_args(z, weight)
        if args is not None:
            channels = args[2]
            grad_z, sums = _native.backward("cprelu", z, grad, *args, partial=2 * channels)
            assert sums is not None  # Re's channels, then Im's
            grad_w = sums if channels == 1 else sums.view(2, channels).t()
            return grad_z, grad_w.to(weight.dtype)
        if _compiled.usable_backward(z, weight):
            slopes, by_channel = _slopes_by_channel(weight, z)
            grads = _compiled.pointwise(_prelu_backward, z, slopes, grad=grad, channels=by_channel)
            if grads is not None:
                return grads[0], grads[1].reshape(weight.shape)
        t, g = torch.view_as_real(z), torch.view_as_real(grad.resolve_conj())
        grad_t, grad_w = _prelu_backward(t, g, _slopes_view(weight, z))
        return torch.view_as_complex(grad_t.contiguous()), grad_w.reshape(weight.shape)


def _prelu(t: Tensor, slopes: Tensor) -> Tensor:
    """max(t, 0) + w min(t, 0) on (Re, Im) pairs ``t``, with slopes (w_re, w_im) that
    broadcast against them."""
    return torch.clamp_min(t, 0).add_(torch.clamp_max(t, 0) * slopes)


def _prelu_backward(t: Tensor, g: Tensor, slopes: Tensor) -> tuple[Tensor, Tensor]:
    """The gradients of :func:`_prelu` for ``t`` and the ``slopes`` (in their shape)."""
    negative_part = torch.clamp_max(t, 0)
    # d/dt = 1 for t >= 0 and w for t < 0: g + (w - 1) g [t < 0]
    grad_t = g + (slopes - 1) * (g * (negative_part < 0))
    return grad_t, reduce_to(g * negative_part, slopes.shape)


def _slopes_by_channel(weight: Tensor, z: Tensor) -> tuple[Tensor, Tensor | None]:
    """The slopes as :func:`cvlayers._compiled.pointwise`'s blocks (outer, channels, inner, 2)
    take them, shared (2,) or per channel (C, 1, 2), and a tensor whose channels are dim 1 of
    ``z`` (None where shared)."""
    if weight.dim() == 1:
        return weight, None
    return weight.view(-1, 1, 2), weight[:, 0].view(-1, *([1] * (z.dim() - 2)))
