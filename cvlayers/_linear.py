"""Complex fully connected layer."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from . import functional as CF
from . import init
from ._checks import complex_dtype
from ._conversion import KeepsKind

__all__ = ["Linear"]


class Linear(KeepsKind):
    r"""Complex affine map :math:`y = x W^T + b` with complex :math:`W` and :math:`b`.

    The weight is initialised with complex Glorot (:func:`cvlayers.init.complex_glorot_`):
    Rayleigh modulus and uniform phase with :math:`\mathbb{E}|W|^2 = 2/(\text{in}+\text{out})`,
    so a square layer keeps :math:`\mathbb{E}|y|^2 = \mathbb{E}|x|^2` for circular inputs.
    The bias starts at zero, as in Trabelsi et al. (2018).

    Args:
        in_features: size of each input sample.
        out_features: size of each output sample.
        bias: learn an additive complex bias (default: True).
        device: device of the parameters.
        dtype: complex dtype of the parameters (default: ``torch.complex64``).

    Shape:
        - Input: :math:`(*, H_{in})`, complex, same dtype as the layer.
        - Output: :math:`(*, H_{out})`.

    Example:
        >>> layer = Linear(3, 2)
        >>> layer(torch.randn(5, 3, dtype=torch.complex64)).shape
        torch.Size([5, 2])
    """

    in_features: int
    out_features: int
    weight: nn.Parameter
    bias: nn.Parameter | None

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = torch.complex64,
    ) -> None:
        super().__init__()
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        dtype = complex_dtype(dtype)
        self.in_features = in_features
        self.out_features = out_features
        self.weight = nn.Parameter(
            torch.empty(out_features, in_features, device=device, dtype=dtype)
        )
        if bias:
            self.bias = nn.Parameter(torch.empty(out_features, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Complex Glorot weight, zero bias."""
        init.complex_glorot_(self.weight)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def forward(self, input: Tensor) -> Tensor:
        return CF.linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}, dtype={self.weight.dtype}"
        )
