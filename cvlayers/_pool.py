"""Pooling for complex tensors: max by modulus (returning the complex value), its inverse
(unpooling), averages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ._checks import check_complex
from ._function import transforms_active
from ._modulus import modulus

__all__ = [
    "AdaptiveAvgPool1d",
    "AdaptiveAvgPool2d",
    "AdaptiveAvgPool3d",
    "AdaptiveMaxPool1d",
    "AdaptiveMaxPool2d",
    "AdaptiveMaxPool3d",
    "AvgPool1d",
    "AvgPool2d",
    "AvgPool3d",
    "MaxPool1d",
    "MaxPool2d",
    "MaxPool3d",
    "MaxUnpool1d",
    "MaxUnpool2d",
    "MaxUnpool3d",
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_avg_pool3d",
    "adaptive_max_pool1d",
    "adaptive_max_pool2d",
    "adaptive_max_pool3d",
    "avg_pool1d",
    "avg_pool2d",
    "avg_pool3d",
    "max_pool1d",
    "max_pool2d",
    "max_pool3d",
    "max_unpool1d",
    "max_unpool2d",
    "max_unpool3d",
]


_Size = int | tuple[int, ...]
_OutputSize = int | None | tuple[int | None, ...]


def _check_spatial(input: Tensor, spatial: int) -> None:
    """Raise unless ``input`` is complex with ``spatial`` dimensions after (N, C) or (C)."""
    check_complex(input, "input", None)
    if input.dim() not in (spatial + 1, spatial + 2):
        raise ValueError(
            f"expected a complex input with {spatial + 1} (unbatched) or {spatial + 2} "
            f"dimensions, got shape {tuple(input.shape)}"
        )


def _by_modulus(
    input: Tensor, spatial: int, indices_of: Callable[[Tensor], Tensor], return_indices: bool
) -> Any:
    """The entries of ``input`` at the indices that ``indices_of`` (torch's max pooling with
    ``return_indices=True``) gives for its modulus: the complex entry of largest modulus per
    window, through which the gradient flows (and the indices, if ``return_indices``)."""
    _check_spatial(input, spatial)
    with torch.no_grad():
        idx = indices_of(modulus(input.detach()))
    # Indices address each (batch, channel) plane separately: gather plane by plane.
    out = input.flatten(-spatial).gather(-1, idx.flatten(-spatial)).view(idx.shape)
    return (out, idx) if return_indices else out


def _channels_last_indices(r: Tensor, indices_of: Callable[[Tensor], Tensor]) -> Tensor:
    """``indices_of(r)`` for torch's 2-D max pooling of the real ``(N, C, H, W)`` or ``(C, H, W)``
    ``r``, on the CPU taken in the channels-last layout: torch's CPU max pooling vectorises over
    the channels there and not on contiguous input (2x2 windows on (32, 16, 32, 32) float32:
    2.8 ms contiguous, 0.26 ms channels last, plus 0.55 ms for the copy; 3x3, stride 1: 12.5
    against 1.5 ms). The indices are the same: both scan each window in order and keep its
    first maximum, a NaN winning."""
    if r.device.type != "cpu" or r.dim() not in (3, 4) or transforms_active():
        return indices_of(r)  # (vmap cannot query a memory format)
    batched = r if r.dim() == 4 else r.unsqueeze(0)
    if batched.is_contiguous(memory_format=torch.channels_last):
        return indices_of(r)  # already laid out so
    idx = indices_of(batched.contiguous(memory_format=torch.channels_last)).contiguous()
    return idx if r.dim() == 4 else idx.squeeze(0)


def _as_2d(size: _Size, fill: int) -> tuple[int, int]:
    """A 1-D pooling size (an int or a 1-tuple) as the 2-D one of a (1, L) plane."""
    return fill, size if isinstance(size, int) else size[0]


def _by_parts(input: Tensor, real_pool: Callable[[Tensor], Tensor]) -> Tensor:
    """``real_pool`` of the real and imaginary parts, in one call on the two stacked."""
    check_complex(input, "input", None)
    if input.dim() < 2:
        raise ValueError(f"expected a batched or unbatched complex input, got {input.shape}")
    real, imag = real_pool(torch.cat([input.real, input.imag], dim=0)).chunk(2, dim=0)
    return torch.complex(real, imag)


def max_pool1d(
    input: Tensor,
    kernel_size: _Size,
    stride: _Size | None = None,
    padding: _Size = 0,
    dilation: _Size = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Any:
    r"""Max pooling by modulus of ``(N, C, L)`` or ``(C, L)`` input, with the arguments of
    ``torch.nn.functional.max_pool1d``: each window gives its entry
    :math:`z_{k^*}`, :math:`k^* = \arg\max_{k} |z_k|`, and the gradient flows to it.

    Example:
        >>> max_pool1d(torch.tensor([[[1 + 0j, -3j, 2 + 0j, 1 + 1j]]]), 2)
        tensor([[[-0.-3.j, 2.+0.j]]])
    """
    # 1-D pooling as 2-D pooling of (1, L) planes, which takes the channels-last speed-up.
    kernel, pad, spacing = _as_2d(kernel_size, 1), _as_2d(padding, 0), _as_2d(dilation, 1)
    step = kernel  # the default, which torch's stride [] also means
    if isinstance(stride, int) or (stride is not None and len(stride) > 0):
        step = _as_2d(stride, 1)

    def indices_of(r: Tensor) -> Tensor:
        idx: Tensor = F.max_pool2d(r, kernel, step, pad, spacing, ceil_mode, True)[1]
        return idx

    return _by_modulus(
        input,
        1,
        lambda r: _channels_last_indices(r.unsqueeze(-2), indices_of).squeeze(-2),
        return_indices,
    )


def max_pool2d(
    input: Tensor,
    kernel_size: _Size,
    stride: _Size | None = None,
    padding: _Size = 0,
    dilation: _Size = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Any:
    r"""Max pooling by modulus of ``(N, C, H, W)`` or ``(C, H, W)`` input, with the arguments
    of ``torch.nn.functional.max_pool2d``: each window gives its entry of largest modulus
    :math:`z_{k^*}`, :math:`k^* = \arg\max_k |z_k|`, per batch and channel plane, and the
    gradient flows to it.

    Example:
        >>> max_pool2d(torch.tensor([[[[1, -3j], [2j, 1 + 1j]]]]), 2)
        tensor([[[[-0.-3.j]]]])
    """
    return _by_modulus(
        input,
        2,
        lambda r: _channels_last_indices(
            r, lambda t: F.max_pool2d(t, kernel_size, stride, padding, dilation, ceil_mode, True)[1]
        ),
        return_indices,
    )


def max_pool3d(
    input: Tensor,
    kernel_size: _Size,
    stride: _Size | None = None,
    padding: _Size = 0,
    dilation: _Size = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Any:
    r"""Max pooling by modulus of ``(N, C, D, H, W)`` or ``(C, D, H, W)`` input, with the
    arguments of ``torch.nn.functional.max_pool3d``: each window gives its entry of largest
    modulus :math:`z_{k^*}`, :math:`k^* = \arg\max_k |z_k|`, and the gradient flows to it.

    Example:
        >>> max_pool3d(torch.tensor([[[[[1, -3j], [2j, 1 + 1j]]]]]), (1, 2, 2))
        tensor([[[[[-0.-3.j]]]]])
    """

    def indices_of(r: Tensor) -> Tensor:
        idx: Tensor = F.max_pool3d(r, kernel_size, stride, padding, dilation, ceil_mode, True)[1]
        return idx

    return _by_modulus(input, 3, indices_of, return_indices)


def adaptive_max_pool1d(
    input: Tensor, output_size: int | tuple[int], return_indices: bool = False
) -> Any:
    r"""Adaptive max pooling by modulus (``torch.nn.functional.adaptive_max_pool1d``'s
    arguments): the entry of largest modulus :math:`z_{k^*}` of each adaptive window.

    Example:
        >>> adaptive_max_pool1d(torch.tensor([[[1 + 0j, -3j, 2 + 0j, 1 + 1j]]]), 1)
        tensor([[[-0.-3.j]]])
    """
    return _by_modulus(
        input, 1, lambda r: F.adaptive_max_pool1d(r, output_size, True)[1], return_indices
    )


def adaptive_max_pool3d(
    input: Tensor, output_size: _OutputSize, return_indices: bool = False
) -> Any:
    r"""Adaptive max pooling by modulus (``torch.nn.functional.adaptive_max_pool3d``'s
    arguments): the entry of largest modulus :math:`z_{k^*}` of each adaptive window.

    Example:
        >>> adaptive_max_pool3d(torch.tensor([[[[[1, -3j], [2j, 1 + 1j]]]]]), 1)
        tensor([[[[[-0.-3.j]]]]])
    """
    # (torch accepts None entries in output_size, which its type stubs do not list.)
    return _by_modulus(
        input,
        3,
        lambda r: F.adaptive_max_pool3d(r, output_size, True)[1],  # type: ignore[call-overload]
        return_indices,
    )


def adaptive_max_pool2d(
    input: Tensor, output_size: _OutputSize, return_indices: bool = False
) -> Any:
    r"""Adaptive max pooling by modulus (``torch.nn.functional.adaptive_max_pool2d``'s
    arguments): the entry of largest modulus :math:`z_{k^*}` of each adaptive window.

    Example:
        >>> adaptive_max_pool2d(torch.tensor([[[[1, -3j], [2j, 1 + 1j]]]]), 1)
        tensor([[[[-0.-3.j]]]])
    """
    # (torch accepts None entries in output_size, which its type stubs do not list.)
    return _by_modulus(
        input,
        2,
        lambda r: F.adaptive_max_pool2d(r, output_size, True)[1],  # type: ignore[call-overload]
        return_indices,
    )


def _max_unpool(
    real_unpool: Callable[..., Tensor],
    spatial: int,
    input: Tensor,
    indices: Tensor,
    *sizes: Any,
) -> Tensor:
    """``real_unpool`` (torch's max unpooling in ``spatial`` dimensions, with its ``sizes``
    arguments) of the real and imaginary parts, at the same ``indices``."""
    _check_spatial(input, spatial)
    if indices.shape != input.shape:
        raise ValueError(
            f"expected indices of the input's shape {tuple(input.shape)} (as max pooling with "
            f"return_indices=True gives them), got {tuple(indices.shape)}"
        )
    twice = torch.cat([indices, indices])  # for the parts stacked on dim 0
    return _by_parts(input, lambda parts: real_unpool(parts, twice, *sizes))


def max_unpool1d(
    input: Tensor,
    indices: Tensor,
    kernel_size: _Size,
    stride: _Size | None = None,
    padding: _Size = 0,
    output_size: list[int] | None = None,
) -> Tensor:
    r"""The inverse of :func:`max_pool1d` with ``return_indices=True``, with the arguments of
    ``torch.nn.functional.max_unpool1d``: each pooled entry goes back to the place it came
    from, every other place is 0 (torch's unpooling of the real and imaginary parts).

    .. math::
        y_{i_j} = x_j \text{ at the pooling's indices } i_j, \qquad 0 \text{ elsewhere}

    Example:
        >>> z = torch.tensor([[[1 + 0j, -3j, 2 + 0j, 1 + 1j]]])
        >>> max_unpool1d(*max_pool1d(z, 2, return_indices=True), 2)
        tensor([[[0.+0.j, -0.-3.j, 2.+0.j, 0.+0.j]]])
    """
    sizes = (kernel_size, stride, padding, output_size)
    return _max_unpool(F.max_unpool1d, 1, input, indices, *sizes)


def max_unpool2d(
    input: Tensor,
    indices: Tensor,
    kernel_size: _Size,
    stride: _Size | None = None,
    padding: _Size = 0,
    output_size: list[int] | None = None,
) -> Tensor:
    r"""The inverse of :func:`max_pool2d` with ``return_indices=True``, with the arguments of
    ``torch.nn.functional.max_unpool2d``: each pooled entry goes back to the place it came
    from in its plane, every other place is 0.

    .. math::
        y_{i_j} = x_j \text{ at the pooling's indices } i_j, \qquad 0 \text{ elsewhere}

    Example:
        >>> z = torch.tensor([[[[1, -3j], [2j, 1 + 1j]]]])
        >>> max_unpool2d(*max_pool2d(z, 2, return_indices=True), 2)
        tensor([[[[0.+0.j, -0.-3.j],
                  [0.+0.j, 0.+0.j]]]])
    """
    sizes = (kernel_size, stride, padding, output_size)
    return _max_unpool(F.max_unpool2d, 2, input, indices, *sizes)


def max_unpool3d(
    input: Tensor,
    indices: Tensor,
    kernel_size: _Size,
    stride: _Size | None = None,
    padding: _Size = 0,
    output_size: list[int] | None = None,
) -> Tensor:
    r"""The inverse of :func:`max_pool3d` with ``return_indices=True``, with the arguments of
    ``torch.nn.functional.max_unpool3d``: each pooled entry goes back to the place it came
    from in its volume, every other place is 0.

    .. math::
        y_{i_j} = x_j \text{ at the pooling's indices } i_j, \qquad 0 \text{ elsewhere}

    Example:
        >>> z = torch.tensor([[[[[1, -3j], [2j, 1 + 1j]]]]])
        >>> max_unpool3d(*max_pool3d(z, (1, 2, 2), return_indices=True), (1, 2, 2)).abs()
        tensor([[[[[0., 3.],
                   [0., 0.]]]]])
    """
    sizes = (kernel_size, stride, padding, output_size)
    return _max_unpool(F.max_unpool3d, 3, input, indices, *sizes)


def avg_pool1d(
    input: Tensor,
    kernel_size: _Size,
    stride: _Size | None = None,
    padding: _Size = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> Tensor:
    r"""Average pooling, :math:`\frac{1}{k}\sum_{j} z_j` per window (``torch.nn.functional.
    avg_pool1d`` of the real and imaginary parts, with its arguments).

    Example:
        >>> avg_pool1d(torch.tensor([[[1 + 1j, 3 - 1j]]]), 2)
        tensor([[[2.+0.j]]])
    """
    # (torch's default stride None is not in its type stubs.)
    return _by_parts(
        input,
        lambda t: F.avg_pool1d(
            t,
            kernel_size,
            stride,  # type: ignore[arg-type]
            padding,
            ceil_mode,
            count_include_pad,
        ),
    )


def avg_pool2d(
    input: Tensor,
    kernel_size: _Size,
    stride: _Size | None = None,
    padding: _Size = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:
    r"""Average pooling, :math:`\frac{1}{k}\sum_{j} z_j` per window (``torch.nn.functional.
    avg_pool2d`` of the real and imaginary parts, with its arguments).

    Example:
        >>> avg_pool2d(torch.full((1, 1, 2, 2), 1 + 2j), 2)
        tensor([[[[1.+2.j]]]])
    """
    return _by_parts(
        input,
        lambda t: F.avg_pool2d(
            t, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
        ),
    )


def avg_pool3d(
    input: Tensor,
    kernel_size: _Size,
    stride: _Size | None = None,
    padding: _Size = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:
    r"""Average pooling, :math:`\frac{1}{k}\sum_{j} z_j` per window (``torch.nn.functional.
    avg_pool3d`` of the real and imaginary parts, with its arguments).

    Example:
        >>> avg_pool3d(torch.full((1, 1, 2, 2, 2), 1 + 2j), 2)
        tensor([[[[[1.+2.j]]]]])
    """
    return _by_parts(
        input,
        lambda t: F.avg_pool3d(
            t, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
        ),
    )


def adaptive_avg_pool1d(input: Tensor, output_size: _OutputSize) -> Tensor:
    r"""Adaptive average pooling, :math:`\frac{1}{k}\sum_{j} z_j` per adaptive window, of the
    real and imaginary parts (``torch.nn.functional.adaptive_avg_pool1d``'s arguments).

    Example:
        >>> adaptive_avg_pool1d(torch.tensor([[[1 + 1j, 3 - 1j]]]), 1)
        tensor([[[2.+0.j]]])
    """
    return _by_parts(input, lambda t: F.adaptive_avg_pool1d(t, output_size))  # type: ignore[arg-type]


def adaptive_avg_pool2d(input: Tensor, output_size: _OutputSize) -> Tensor:
    r"""Adaptive average pooling, :math:`\frac{1}{k}\sum_{j} z_j` per adaptive window, of the
    real and imaginary parts (``torch.nn.functional.adaptive_avg_pool2d``'s arguments).

    Example:
        >>> adaptive_avg_pool2d(torch.full((1, 1, 2, 2), 1 + 2j), 1)
        tensor([[[[1.+2.j]]]])
    """
    return _by_parts(input, lambda t: F.adaptive_avg_pool2d(t, output_size))  # type: ignore[arg-type]


def adaptive_avg_pool3d(input: Tensor, output_size: _OutputSize) -> Tensor:
    r"""Adaptive average pooling, :math:`\frac{1}{k}\sum_{j} z_j` per adaptive window, of the
    real and imaginary parts (``torch.nn.functional.adaptive_avg_pool3d``'s arguments).

    Example:
        >>> adaptive_avg_pool3d(torch.full((1, 1, 2, 2, 2), 1 + 2j), 1)
        tensor([[[[[1.+2.j]]]]])
    """
    return _by_parts(input, lambda t: F.adaptive_avg_pool3d(t, output_size))  # type: ignore[arg-type]


# The modules are torch.nn's own classes (arguments, defaults, attributes, repr and argument
# checks at construction), with a forward that calls the complex functional form.


def _max_pool_arguments(m: nn.MaxPool1d | nn.MaxPool2d | nn.MaxPool3d) -> tuple[Any, ...]:
    """A max pooling module's arguments, in the functional form's order after the input."""
    return (m.kernel_size, m.stride, m.padding, m.dilation, m.ceil_mode, m.return_indices)


class MaxPool1d(nn.MaxPool1d):
    r"""Max pooling by modulus with the arguments of ``torch.nn.MaxPool1d``.

    .. math::
        y_W = z_{j^*}, \qquad j^* = \arg\max_{j \in W} |z_j|

    Example:
        >>> MaxPool1d(2)(torch.tensor([[[1 + 0j, -3j, 2 + 0j, 1 + 1j]]]))
        tensor([[[-0.-3.j, 2.+0.j]]])
    """

    def forward(self, input: Tensor) -> Any:
        return max_pool1d(input, *_max_pool_arguments(self))


class MaxPool2d(nn.MaxPool2d):
    r"""Max pooling by modulus with the arguments of ``torch.nn.MaxPool2d``: returns the
    complex entry of largest modulus in each window (per batch and channel plane).

    .. math::
        y_W = z_{j^*}, \qquad j^* = \arg\max_{j \in W} |z_j|

    Example:
        >>> MaxPool2d(2, return_indices=True)(torch.tensor([[[[1, -3j], [2j, 1 + 1j]]]]))[1]
        tensor([[[[1]]]])
    """

    def forward(self, input: Tensor) -> Any:
        return max_pool2d(input, *_max_pool_arguments(self))


class MaxPool3d(nn.MaxPool3d):
    r"""Max pooling by modulus with the arguments of ``torch.nn.MaxPool3d``: the complex entry
    of largest modulus in each window (per batch and channel volume).

    .. math::
        y_W = z_{j^*}, \qquad j^* = \arg\max_{j \in W} |z_j|

    Example:
        >>> MaxPool3d((1, 2, 2))(torch.tensor([[[[[1, -3j], [2j, 1 + 1j]]]]]))
        tensor([[[[[-0.-3.j]]]]])
    """

    def forward(self, input: Tensor) -> Any:
        return max_pool3d(input, *_max_pool_arguments(self))


class AdaptiveMaxPool1d(nn.AdaptiveMaxPool1d):
    r"""Adaptive max pooling by modulus (arguments of ``torch.nn.AdaptiveMaxPool1d``).

    .. math::
        y_W = z_{j^*}, \qquad j^* = \arg\max_{j \in W} |z_j|

    Example:
        >>> AdaptiveMaxPool1d(1)(torch.tensor([[[1 + 0j, -3j, 2 + 0j, 1 + 1j]]]))
        tensor([[[-0.-3.j]]])
    """

    def forward(self, input: Tensor) -> Any:
        return adaptive_max_pool1d(input, self.output_size, return_indices=self.return_indices)


class AdaptiveMaxPool3d(nn.AdaptiveMaxPool3d):
    r"""Adaptive max pooling by modulus (arguments of ``torch.nn.AdaptiveMaxPool3d``).

    .. math::
        y_W = z_{j^*}, \qquad j^* = \arg\max_{j \in W} |z_j|

    Example:
        >>> AdaptiveMaxPool3d(1)(torch.tensor([[[[[1, -3j], [2j, 1 + 1j]]]]]))
        tensor([[[[[-0.-3.j]]]]])
    """

    def forward(self, input: Tensor) -> Any:
        return adaptive_max_pool3d(input, self.output_size, return_indices=self.return_indices)


class AdaptiveMaxPool2d(nn.AdaptiveMaxPool2d):
    r"""Adaptive max pooling by modulus (arguments of ``torch.nn.AdaptiveMaxPool2d``).

    .. math::
        y_W = z_{j^*}, \qquad j^* = \arg\max_{j \in W} |z_j|

    Example:
        >>> AdaptiveMaxPool2d(1)(torch.tensor([[[[1, -3j], [2j, 1 + 1j]]]]))
        tensor([[[[-0.-3.j]]]])
    """

    def forward(self, input: Tensor) -> Any:
        return adaptive_max_pool2d(input, self.output_size, return_indices=self.return_indices)


class MaxUnpool1d(nn.MaxUnpool1d):
    r"""The inverse of :class:`MaxPool1d` with ``return_indices=True`` (arguments of
    ``torch.nn.MaxUnpool1d``): pooled entries back in their places, 0 elsewhere.

    .. math::
        y_{i_j} = x_j \text{ at the pooling's indices } i_j, \qquad 0 \text{ elsewhere}

    Example:
        >>> z = torch.tensor([[[1 + 0j, -3j, 2 + 0j, 1 + 1j]]])
        >>> MaxUnpool1d(2)(*MaxPool1d(2, return_indices=True)(z))
        tensor([[[0.+0.j, -0.-3.j, 2.+0.j, 0.+0.j]]])
    """

    def forward(
        self, input: Tensor, indices: Tensor, output_size: list[int] | None = None
    ) -> Tensor:
        return max_unpool1d(
            input, indices, self.kernel_size, self.stride, self.padding, output_size
        )


class MaxUnpool2d(nn.MaxUnpool2d):
    r"""The inverse of :class:`MaxPool2d` with ``return_indices=True`` (arguments of
    ``torch.nn.MaxUnpool2d``): pooled entries back in their places, 0 elsewhere.

    .. math::
        y_{i_j} = x_j \text{ at the pooling's indices } i_j, \qquad 0 \text{ elsewhere}

    Example:
        >>> z = torch.tensor([[[[1, -3j], [2j, 1 + 1j]]]])
        >>> MaxUnpool2d(2)(*MaxPool2d(2, return_indices=True)(z)).abs()
        tensor([[[[0., 3.],
                  [0., 0.]]]])
    """

    def forward(
        self, input: Tensor, indices: Tensor, output_size: list[int] | None = None
    ) -> Tensor:
        return max_unpool2d(
            input, indices, self.kernel_size, self.stride, self.padding, output_size
        )


class MaxUnpool3d(nn.MaxUnpool3d):
    r"""The inverse of :class:`MaxPool3d` with ``return_indices=True`` (arguments of
    ``torch.nn.MaxUnpool3d``): pooled entries back in their places, 0 elsewhere.

    .. math::
        y_{i_j} = x_j \text{ at the pooling's indices } i_j, \qquad 0 \text{ elsewhere}

    Example:
        >>> z = torch.tensor([[[[[1, -3j], [2j, 1 + 1j]]]]])
        >>> pool = MaxPool3d((1, 2, 2), return_indices=True)
        >>> MaxUnpool3d((1, 2, 2))(*pool(z)).abs()
        tensor([[[[[0., 3.],
                   [0., 0.]]]]])
    """

    def forward(
        self, input: Tensor, indices: Tensor, output_size: list[int] | None = None
    ) -> Tensor:
        return max_unpool3d(
            input, indices, self.kernel_size, self.stride, self.padding, output_size
        )


class AvgPool1d(nn.AvgPool1d):
    r"""Average pooling of the real and imaginary parts (``torch.nn.AvgPool1d`` arguments).

    .. math::
        y_W = \frac{1}{|W|} \sum_{j \in W} z_j

    Example:
        >>> AvgPool1d(2)(torch.tensor([[[1 + 1j, 3 - 1j]]]))
        tensor([[[2.+0.j]]])
    """

    def forward(self, input: Tensor) -> Tensor:
        return avg_pool1d(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
        )


class AvgPool2d(nn.AvgPool2d):
    r"""Average pooling of the real and imaginary parts (``torch.nn.AvgPool2d`` arguments).

    .. math::
        y_W = \frac{1}{|W|} \sum_{j \in W} z_j

    Example:
        >>> AvgPool2d(2)(torch.full((1, 1, 2, 2), 1 + 2j))
        tensor([[[[1.+2.j]]]])
    """

    def forward(self, input: Tensor) -> Tensor:
        return avg_pool2d(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
            self.divisor_override,
        )


class AvgPool3d(nn.AvgPool3d):
    r"""Average pooling of the real and imaginary parts (``torch.nn.AvgPool3d`` arguments).

    .. math::
        y_W = \frac{1}{|W|} \sum_{j \in W} z_j

    Example:
        >>> AvgPool3d(2)(torch.full((1, 1, 2, 2, 2), 1 + 2j))
        tensor([[[[[1.+2.j]]]]])
    """

    def forward(self, input: Tensor) -> Tensor:
        return avg_pool3d(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
            self.divisor_override,
        )


class AdaptiveAvgPool1d(nn.AdaptiveAvgPool1d):
    r"""Adaptive average pooling of the real and imaginary parts.

    .. math::
        y_W = \frac{1}{|W|} \sum_{j \in W} z_j

    Example:
        >>> AdaptiveAvgPool1d(1)(torch.tensor([[[1 + 1j, 3 - 1j]]]))
        tensor([[[2.+0.j]]])
    """

    def forward(self, input: Tensor) -> Tensor:
        return adaptive_avg_pool1d(input, self.output_size)


class AdaptiveAvgPool2d(nn.AdaptiveAvgPool2d):
    r"""Adaptive average pooling of the real and imaginary parts.

    .. math::
        y_W = \frac{1}{|W|} \sum_{j \in W} z_j

    Example:
        >>> AdaptiveAvgPool2d(1)(torch.full((1, 1, 2, 2), 1 + 2j))
        tensor([[[[1.+2.j]]]])
    """

    def forward(self, input: Tensor) -> Tensor:
        return adaptive_avg_pool2d(input, self.output_size)


class AdaptiveAvgPool3d(nn.AdaptiveAvgPool3d):
    r"""Adaptive average pooling of the real and imaginary parts.

    .. math::
        y_W = \frac{1}{|W|} \sum_{j \in W} z_j

    Example:
        >>> AdaptiveAvgPool3d(1)(torch.full((1, 1, 2, 2, 2), 1 + 2j))
        tensor([[[[[1.+2.j]]]]])
    """

    def forward(self, input: Tensor) -> Tensor:
        return adaptive_avg_pool3d(input, self.output_size)
