"""Complex activation modules; each calls its functional form in cvlayers.functional."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from . import _activation_functional as AF
from ._checks import parameter_dtype, real_for
from ._conversion import KeepsKind

__all__ = [
    "CCELU",
    "CELU",
    "CGELU",
    "CPReLU",
    "CReLU",
    "CSigmoid",
    "CTanh",
    "Cardioid",
    "ComplexToReal",
    "Mod",
    "ModReLU",
    "ModSigmoid",
    "ModTanh",
    "RealToComplex",
    "ZReLU",
]


class CReLU(nn.Module):
    r"""ReLU on the real and imaginary parts separately (one kernel on the real view), with
    ``torch.nn.ReLU``'s argument ``inplace``.

    .. math::
        f(z) = \max(\mathrm{Re}\,z, 0) + i \max(\mathrm{Im}\,z, 0)

    Example:
        >>> CReLU()(torch.tensor([1 - 2j, -1 + 3j]))
        tensor([1.+0.j, 0.+3.j])
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return AF.crelu(input, self.inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class _AlphaInplace(nn.Module):
    """The arguments ``alpha`` and ``inplace`` of torch's ELU and CELU, and their repr."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, inplace=True" if self.inplace else f"alpha={self.alpha}"


class CELU(_AlphaInplace):
    r"""ELU on the real and imaginary parts separately (torchcvnn's ``CELU``), with
    ``torch.nn.ELU``'s arguments ``alpha`` and ``inplace``.

    .. math::
        f(z) = \mathrm{ELU}(\mathrm{Re}\,z) + i\,\mathrm{ELU}(\mathrm{Im}\,z)

        \mathrm{ELU}(t) = t \ (t > 0), \qquad \alpha (e^t - 1) \ (t \le 0)

    Example:
        >>> CELU()(torch.tensor([1 + 0j]))
        tensor([1.+0.j])
    """

    def forward(self, input: Tensor) -> Tensor:
        return AF.celu(input, self.alpha, self.inplace)


class CCELU(_AlphaInplace):
    r"""torch's CELU on the real and imaginary parts separately (torchcvnn's ``CCELU``), with
    ``torch.nn.CELU``'s arguments ``alpha`` and ``inplace``:

    .. math::
        \mathrm{CELU}(t) = \max(0, t) + \min\bigl(0, \alpha (e^{t/\alpha} - 1)\bigr).

    With ``alpha=1`` it is :class:`CELU` (ELU on the parts).

    Example:
        >>> CCELU(alpha=2.0)(torch.tensor([-1 + 2j]))
        tensor([-0.7869+2.j])
    """

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        AF._check_celu_alpha(alpha)
        super().__init__(alpha, inplace)

    def forward(self, input: Tensor) -> Tensor:
        return AF.ccelu(input, self.alpha, self.inplace)


class CGELU(nn.Module):
    r"""GELU on the real and imaginary parts separately:

    .. math::
        \mathrm{GELU}(t) = t\,\Phi(t) = \tfrac{t}{2}\bigl(1 + \mathrm{erf}(t/\sqrt2)\bigr),

    or torch's tanh form with ``approximate="tanh"``. In complex64 on CPU the exact form runs a
    fused kernel that takes :math:`\Phi` from a rational function (as accurate as torch's
    float ``gelu``, to a few eps) and its backward from that rational's exact derivative.

    Example:
        >>> CGELU()(torch.tensor([0j]))
        tensor([0.+0.j])
    """

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, input: Tensor) -> Tensor:
        return AF.cgelu(input, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class CSigmoid(nn.Module):
    r"""Sigmoid on the real and imaginary parts separately; :math:`(1+i)/2` at 0.

    Example:
        >>> CSigmoid()(torch.tensor([0j]))
        tensor([0.5000+0.5000j])
    """

    def forward(self, input: Tensor) -> Tensor:
        return AF.csigmoid(input)


class CTanh(nn.Module):
    r"""Tanh on the real and imaginary parts separately.

    .. math::
        f(z) = \tanh(\mathrm{Re}\,z) + i \tanh(\mathrm{Im}\,z)

    Example:
        >>> CTanh()(torch.tensor([0j]))
        tensor([0.+0.j])
    """

    def forward(self, input: Tensor) -> Tensor:
        return AF.ctanh(input)


class CPReLU(KeepsKind):
    r"""PReLU on the real and imaginary parts with learnable slopes, one for each part,
    :math:`\max(t, 0) + a \min(t, 0)` for :math:`t = \mathrm{Re}\,z, \mathrm{Im}\,z`.

    The arguments of ``torch.nn.PReLU``: ``num_parameters`` is 1 (slopes shared by every
    channel, as torchcvnn's ``CPReLU``) or the number of channels (dim 1 of the input), and
    the slopes start at ``init``. ``weight`` has shape ``(num_parameters, 2)``: the slopes of
    the real and imaginary parts. It is real: ``dtype`` is its own (float32 or float64) or
    that of the inputs (complex64 or complex128, which gives float32 or float64 slopes).

    Example:
        >>> CPReLU()(torch.tensor([-4 - 8j])).detach()
        tensor([-1.-2.j])
        >>> CPReLU(3, init=0.5)(torch.full((2, 3, 4), -2 - 2j)).flatten()[0].detach()
        tensor(-1.-1.j)
    """

    def __init__(
        self,
        num_parameters: int = 1,
        init: float = 0.25,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(num_parameters, int) or isinstance(num_parameters, bool):
            raise TypeError(
                f"num_parameters must be an int (1 or the number of channels), got "
                f"{num_parameters!r}; the starting slope is the keyword init="
            )
        if num_parameters < 1:
            raise ValueError(f"num_parameters must be at least 1, got {num_parameters}")
        self.num_parameters, self.init = num_parameters, init
        dtype = parameter_dtype(dtype)
        self.weight = nn.Parameter(torch.empty((num_parameters, 2), device=device, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every slope at ``init``, as after construction (``torch.nn.PReLU``'s)."""
        nn.init.constant_(self.weight, self.init)

    def forward(self, input: Tensor) -> Tensor:
        return AF.cprelu(input, real_for(self.weight, input))

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"

    # Version 2: weight (num_parameters, 2); version 1 (and None) stored the shared slopes as
    # (2,), which a state_dict of then still loads as (1, 2).
    _version = 2

    def _load_from_state_dict(
        self, state_dict: dict[str, Any], prefix: str, local_metadata: dict[str, Any], *args: Any
    ) -> None:
        key = prefix + "weight"
        old = local_metadata.get("version", 1) < 2
        if old and key in state_dict and tuple(state_dict[key].shape) == (2,):
            state_dict[key] = state_dict[key].reshape(1, 2)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, *args)


class ZReLU(nn.Module):
    r"""Pass :math:`z` only in the open first quadrant (:math:`\mathrm{Re}, \mathrm{Im} > 0`).

    Example:
        >>> ZReLU()(torch.tensor([1 + 1j, 1 - 1j, 0j]))
        tensor([1.+1.j, 0.+0.j, 0.+0.j])
    """

    def forward(self, input: Tensor) -> Tensor:
        return AF.zrelu(input)


class ModReLU(KeepsKind):
    r""":math:`\mathrm{ReLU}(|z| + b)\,e^{i\angle z}` with a learnable real bias :math:`b`.

    ``ModReLU()`` has one shared bias initialised at 0, as torchcvnn's ``modReLU``;
    ``ModReLU(num_features=C)`` learns one bias per channel (dimension 1 of the input). The
    output is 0 at :math:`z = 0`, where the phase is undefined (torchcvnn returns
    :math:`\mathrm{ReLU}(b)` there); the gradient is finite everywhere. The bias is real:
    ``dtype`` is its own (float32 or float64) or that of the inputs (complex64 or complex128,
    which gives a float32 or float64 bias).

    Example:
        >>> m = ModReLU(bias=-1.0)
        >>> m(torch.tensor([3 + 4j, 0.5j]))
        tensor([2.4000+3.2000j, 0.0000+0.0000j], grad_fn=<_ModulusScaleBackward>)
    """

    def __init__(
        self,
        num_features: int | None = None,
        bias: float = 0.0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if num_features is not None and num_features <= 0:
            raise ValueError(f"num_features must be a positive int or None, got {num_features}")
        self.num_features, self.init = num_features, bias
        shape = () if num_features is None else (num_features,)
        dtype = parameter_dtype(dtype)
        self.bias = nn.Parameter(torch.empty(shape, device=device, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """The bias at its starting value (``bias``), as after construction."""
        nn.init.constant_(self.bias, self.init)

    def forward(self, input: Tensor) -> Tensor:
        bias = real_for(self.bias, input)
        if self.num_features is not None:
            if input.dim() < 2 or input.shape[1] != self.num_features:
                raise ValueError(
                    f"ModReLU(num_features={self.num_features}) expects input of shape "
                    f"(N, {self.num_features}, ...), got {tuple(input.shape)}"
                )
            bias = bias.view(-1, *([1] * (input.dim() - 2)))
        return AF.modrelu(input, bias)

    def extra_repr(self) -> str:
        return f"num_features={self.num_features}"


class ModTanh(nn.Module):
    r""":math:`\tanh(|z|)\,e^{i\angle z}`: squash the modulus, keep the phase.

    Example:
        >>> ModTanh()(torch.tensor([0j]))
        tensor([0.+0.j])
    """

    def forward(self, input: Tensor) -> Tensor:
        return AF.mod_tanh(input)


class ModSigmoid(nn.Module):
    r""":math:`\sigma(|z|)\,e^{i\angle z}`: squash the modulus, keep the phase; 0 at 0.

    Example:
        >>> ModSigmoid()(torch.tensor([0j]))
        tensor([0.+0.j])
    """

    def forward(self, input: Tensor) -> Tensor:
        return AF.mod_sigmoid(input)


class Cardioid(nn.Module):
    r""":math:`\tfrac12(1 + \cos\angle z)\,z` (Virtue et al., 2017): ReLU on the real line.

    Example:
        >>> Cardioid()(torch.tensor([2 + 0j, 1j]))
        tensor([2.+0.0000j, 0.+0.5000j])
    """

    def forward(self, input: Tensor) -> Tensor:
        return AF.cardioid(input)


class Mod(nn.Module):
    r"""The modulus :math:`|z|` as a real tensor (gradient 0 at :math:`z = 0`).

    Example:
        >>> Mod()(torch.tensor([3 + 4j]))
        tensor([5.])
    """

    def forward(self, input: Tensor) -> Tensor:
        return AF.mod(input)


class ComplexToReal(nn.Module):
    r"""Complex to real features: ``mode`` in ``"real"``, ``"imag"``, ``"abs"``, ``"angle"``,
    ``"cat"`` (Re and Im concatenated along ``dim``).

    .. math::
        \mathrm{Re}\,z, \quad \mathrm{Im}\,z, \quad |z|, \quad \arg z \ (0 \text{ at } 0),
        \quad [\mathrm{Re}\,z, \mathrm{Im}\,z]

    Example:
        >>> ComplexToReal("cat", dim=-1)(torch.tensor([[1 + 2j]]))
        tensor([[1., 2.]])
    """

    def __init__(self, mode: str = "real", dim: int = 1) -> None:
        super().__init__()
        if mode not in (*AF.CONVERSIONS, "cat"):
            raise ValueError(f"mode must be one of {(*AF.CONVERSIONS, 'cat')}, got {mode!r}")
        self.mode = mode
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return AF.complex_to_real(input, self.mode, self.dim)

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}" + (f", dim={self.dim}" if self.mode == "cat" else "")


class RealToComplex(nn.Module):
    r"""Real to complex: :math:`x + 0i`, or split ``dim`` into (Re, Im) halves.

    Example:
        >>> RealToComplex(dim=-1)(torch.tensor([[1.0, 2.0]]))
        tensor([[1.+2.j]])
    """

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return AF.real_to_complex(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
