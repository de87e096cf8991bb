"""Convolutions, normalisation, pooling, dropout and initialisation."""

from __future__ import annotations

import contextlib
import inspect
import math
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

import cvlayers
from cvlayers import _native, init
from cvlayers import functional as CF
from cvlayers._checks import REAL_DTYPE

# -- convolutions ---------------------------------------------------------------------------

CONVS: list[tuple[Any, Any, dict[str, Any], tuple[int, ...]]] = [
    (cvlayers.Conv1d, F.conv1d, {"padding": "same", "padding_mode": "reflect"}, (2, 3, 16)),
    (cvlayers.Conv2d, F.conv2d, {"stride": 2, "padding": 1, "dilation": 1}, (2, 4, 9, 9)),
    (
        cvlayers.Conv2d,
        F.conv2d,
        {"groups": 2, "padding": "same", "padding_mode": "circular"},
        (2, 4, 8, 8),
    ),
    (cvlayers.Conv3d, F.conv3d, {"padding": 1}, (1, 4, 5, 5, 5)),
    (cvlayers.ConvTranspose1d, F.conv_transpose1d, {"stride": 2}, (2, 4, 7)),
    (
        cvlayers.ConvTranspose2d,
        F.conv_transpose2d,
        {"stride": 2, "output_padding": 1},
        (1, 4, 5, 5),
    ),
    (
        cvlayers.ConvTranspose3d,
        F.conv_transpose3d,
        {"stride": (1, 2, 2), "padding": 1, "dilation": 2},
        (1, 4, 3, 4, 4),
    ),
]


def _real_decomposition(conv: Any, fn: Any, z: Tensor) -> Tensor:
    """(Wr*xr - Wi*xi) + i(Wr*xi + Wi*xr) with torch.nn.functional on real tensors."""
    w, b = conv.weight, conv.bias
    kw = {"stride": conv.stride, "dilation": conv.dilation, "groups": conv.groups}
    if "transpose" in fn.__name__:
        kw["padding"], kw["output_padding"] = conv.padding, conv.output_padding
    x = z
    if conv.padding_mode != "zeros" and "transpose" not in fn.__name__:
        x = F.pad(z, conv._reversed_padding_repeated_twice, mode=conv.padding_mode)
        kw["padding"] = 0
    elif "transpose" not in fn.__name__:
        kw["padding"] = conv.padding
    real = fn(x.real, w.real, None, **kw) - fn(x.imag, w.imag, None, **kw)
    imag = fn(x.imag, w.real, None, **kw) + fn(x.real, w.imag, None, **kw)
    out = torch.complex(real, imag)
    return out if b is None else out + b.view(1, -1, *([1] * (out.dim() - 2)))


@pytest.mark.parametrize(("cls", "fn", "kwargs", "shape"), CONVS)
def test_conv_matches_real_decomposition(
    cls: Any,
    fn: Any,
    kwargs: dict[str, Any],
    shape: tuple[int, ...],
    device: torch.device,
    dtype: torch.dtype,
) -> None:
    conv = cls(shape[1], 4, 3, device=device, dtype=dtype, **kwargs)
    with torch.no_grad():
        conv.bias.copy_(torch.randn(4, dtype=dtype))
    z = torch.randn(shape, dtype=dtype, device=device)
    tol = {"rtol": 1e-4, "atol": 1e-5} if dtype == torch.complex64 else {}
    torch.testing.assert_close(conv(z), _real_decomposition(conv, fn, z), **tol)


@pytest.mark.parametrize(("cls", "fn", "kwargs", "shape"), CONVS[:2])
def test_conv_gradcheck_and_errors(
    cls: Any, fn: Any, kwargs: dict[str, Any], shape: tuple[int, ...]
) -> None:
    conv = cls(shape[1], 2, 3, dtype=torch.complex128, **kwargs)
    z = torch.randn(shape, dtype=torch.complex128, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda x, w, b: conv._conv_forward(x, w, b), (z, conv.weight, conv.bias)
    )
    with pytest.raises(TypeError, match="complex tensor"):
        conv(torch.randn(shape, dtype=torch.float64))
    with pytest.raises(ValueError, match="must be a complex dtype"):
        cls(2, 2, 3, dtype=torch.float32)


@pytest.mark.parametrize(
    "name", ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"]
)
def test_conv_shows_torch_nn_signature(name: str) -> None:
    ours = inspect.signature(getattr(cvlayers, name)).parameters
    theirs = dict(inspect.signature(getattr(torch.nn, name)).parameters)
    theirs["dtype"] = theirs["dtype"].replace(default=torch.complex64)
    assert list(ours.values()) == list(theirs.values())
    forward = inspect.signature(getattr(cvlayers, name).forward).parameters
    assert list(forward) == list(inspect.signature(getattr(torch.nn, name).forward).parameters)


@pytest.mark.parametrize(
    ("name", "shape", "size"),
    [("1d", (1, 2, 4), [12]), ("2d", (1, 2, 4, 4), [11, 12]), ("3d", (1, 2, 2, 4, 4), [5, 11, 12])],
)
def test_conv_transpose_takes_output_size_as_torch_nn(
    name: str, shape: tuple[int, ...], size: list[int]
) -> None:
    """``forward(input, output_size=...)``, by keyword as by position, picks among the output
    sizes a stride allows, as torch.nn's does (the keyword raised TypeError)."""
    ours = getattr(cvlayers, f"ConvTranspose{name}")(2, 3, 3, stride=3, padding=1)
    theirs = getattr(torch.nn, f"ConvTranspose{name}")(
        2, 3, 3, stride=3, padding=1, dtype=torch.complex64
    )
    theirs.load_state_dict(ours.state_dict())
    z = torch.randn(shape, dtype=torch.complex64)
    expected = theirs(z, output_size=size)
    assert list(expected.shape[2:]) == size and ours(z).shape != expected.shape
    torch.testing.assert_close(ours(z, output_size=size), expected)
    torch.testing.assert_close(ours(z, size), expected)


def test_conv_keeps_torch_nn_signature_and_repr() -> None:
    conv = cvlayers.Conv2d(3, 8, kernel_size=3, stride=2, padding=1, bias=False)
    assert isinstance(conv, torch.nn.Conv2d)
    assert conv.weight.dtype == torch.complex64
    assert (
        repr(conv) == "Conv2d(3, 8, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), bias=False)"
    )
    fan_in = 3 * 9
    power = cvlayers.Conv2d(64, 64, 3).weight.abs().square().mean().item()
    assert power == pytest.approx(2 / (2 * 64 * 9), rel=0.05)
    assert fan_in == 27


# -- batch norm -----------------------------------------------------------------------------


def _improper(n: int, channels: int, gen: torch.Generator) -> Tensor:
    """Strongly correlated, non-circular data with a non-zero mean per channel."""
    a = torch.randn(n, channels, 6, generator=gen, dtype=torch.float64)
    b = torch.randn(n, channels, 6, generator=gen, dtype=torch.float64)
    return torch.complex(3 * a + 2, 0.9 * 3 * a + 0.3 * b - 1) * torch.arange(1, channels + 1).view(
        1, -1, 1
    )


def _cov(z: Tensor) -> Tensor:
    x = torch.view_as_real(z).transpose(0, 1).reshape(z.shape[1], -1, 2)  # (C, samples, 2)
    x = x - x.mean(1, keepdim=True)
    return x.transpose(1, 2) @ x / x.shape[1]


def test_batchnorm_whitens_improper_input(device: torch.device) -> None:
    gen = torch.Generator().manual_seed(0)
    z = _improper(256, 3, gen).to(device)
    bn = cvlayers.BatchNorm1d(3, dtype=torch.complex128, device=device)
    out = bn(z)
    assert out.mean(dim=(0, 2)).abs().max() < 1e-10
    eye_half = torch.eye(2, dtype=torch.float64, device=device).expand(3, 2, 2) / 2
    torch.testing.assert_close(_cov(out), eye_half, atol=1e-4, rtol=0)  # E|y|^2 = 1
    plain = cvlayers.BatchNorm1d(3, affine=False, dtype=torch.complex128, device=device)
    torch.testing.assert_close(_cov(plain(z)), eye_half, atol=1e-4, rtol=0)
    assert _cov(z)[0, 0, 1].abs() > 1  # the input was far from white


def test_batchnorm_running_stats_and_eval() -> None:
    gen = torch.Generator().manual_seed(1)
    bn = cvlayers.BatchNorm1d(2, momentum=None, dtype=torch.complex128)
    batches = [_improper(64, 2, gen) for _ in range(3)]
    for b in batches:
        bn(b)
    assert bn.num_batches_tracked is not None and bn.num_batches_tracked.item() == 3
    everything = torch.cat(batches)
    # momentum=None: cumulative average of the batch means / unbiased covariances.
    means = torch.stack([b.mean(dim=(0, 2)) for b in batches]).mean(0)
    torch.testing.assert_close(bn.running_mean, means)
    bn.eval()
    out = bn(everything)
    fresh = cvlayers.BatchNorm1d(2, dtype=torch.complex128).eval()
    assert not torch.allclose(out, fresh(everything))  # eval uses the running statistics
    torch.testing.assert_close(
        _cov(out), torch.eye(2, dtype=torch.float64).expand(2, 2, 2) / 2, atol=0.05, rtol=0
    )


def test_batchnorm_constant_channel_is_finite_and_maps_to_bias() -> None:
    bn = cvlayers.BatchNorm2d(2, dtype=torch.complex128)
    with torch.no_grad():
        bn.bias.copy_(torch.tensor([1 + 1j, -2j]))
    z = torch.randn(4, 2, 3, 3, dtype=torch.complex128)
    z[:, 0] = 5 - 3j
    z.requires_grad_(True)
    out = bn(z)
    out.abs().sum().backward()
    assert torch.isfinite(torch.view_as_real(out)).all()
    assert z.grad is not None and torch.isfinite(torch.view_as_real(z.grad)).all()
    torch.testing.assert_close(out[:, 0], torch.full_like(out[:, 0], 1 + 1j))


def test_batchnorm_state_dict_and_gradcheck() -> None:
    a = cvlayers.BatchNorm2d(3)
    a(torch.randn(8, 3, 4, 4, dtype=torch.complex64))
    b = cvlayers.BatchNorm2d(3)
    b.load_state_dict(a.state_dict())
    a.eval(), b.eval()
    z = torch.randn(2, 3, 4, 4, dtype=torch.complex64)
    assert torch.equal(a(z), b(z))
    assert set(a.state_dict()) == {
        "weight",
        "bias",
        "running_mean",
        "running_covar",
        "num_batches_tracked",
    }
    bn = cvlayers.BatchNorm1d(2, dtype=torch.complex128)
    x = torch.randn(6, 2, 3, dtype=torch.complex128, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda t: CF.batch_norm(t, None, None, bn.weight, bn.bias, training=True), (x,)
    )


def test_batchnorm_errors() -> None:
    with pytest.raises(ValueError, match="expected 3 channels"):
        cvlayers.BatchNorm2d(3)(torch.randn(2, 4, 5, 5, dtype=torch.complex64))
    with pytest.raises(ValueError, match="expects 4D"):
        cvlayers.BatchNorm2d(3)(torch.randn(2, 3, dtype=torch.complex64))
    with pytest.raises(TypeError, match="complex tensor"):
        cvlayers.BatchNorm1d(3)(torch.randn(4, 3))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        cvlayers.BatchNorm1d(3)(torch.randn(1, 3, dtype=torch.complex64))


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_checks_its_statistics_and_parameters(training: bool) -> None:
    """The functional form refuses statistics and parameters for another channel count: the
    kernels read one coefficient set per channel of the input, and running statistics for 3
    channels whitened 4 in eval mode without a word (reading past their end)."""
    x = torch.randn(8, 4, 5, dtype=torch.complex64)
    mean, covar = torch.zeros(4, dtype=torch.complex64), torch.ones(4, 3)
    bad = {
        "running_mean": (torch.zeros(3, dtype=torch.complex64), covar, None, None),
        "running_covar": (mean, torch.ones(4, 2), None, None),
        "weight": (mean, covar, torch.ones(4), None),
        "bias": (mean, covar, None, torch.zeros(3, dtype=torch.complex64)),
    }
    for name, (m, c, w, b) in bad.items():
        with pytest.raises(ValueError, match=f"expected {name} of shape"):
            CF.batch_norm(x, m, c, w, b, training=training)


# -- instance norm ---------------------------------------------------------------------------


def test_instance_norm_whitens_each_sample_and_channel(device: torch.device) -> None:
    """Each (n, c) instance comes out with mean 0 and (Re, Im) covariance I/2 over its
    positions, and equals BatchNorm of that sample alone with the same parameters."""
    gen = torch.Generator().manual_seed(3)
    z = _improper(4, 3, gen).view(4, 3, 2, 3).repeat(1, 1, 4, 4).to(device)
    z = z + 0.1 * torch.randn(z.shape, dtype=z.dtype, generator=gen).to(device)
    ours = cvlayers.InstanceNorm2d(3, affine=True, dtype=torch.complex128, device=device)
    with torch.no_grad():
        ours.weight.copy_(torch.tensor([[0.9, 0.2, 0.5], [1.0, 0.0, 1.0], [0.4, -0.1, 0.7]]))
        ours.bias.copy_(torch.tensor([1 + 1j, -2j, 0.5]))
    out = ours(z)
    bn = cvlayers.BatchNorm2d(3, dtype=torch.complex128, device=device)
    bn.load_state_dict(ours.state_dict(), strict=False)
    for n in range(4):
        torch.testing.assert_close(out[n : n + 1], bn(z[n : n + 1]))
    plain = cvlayers.InstanceNorm2d(3, eps=1e-12, dtype=torch.complex128, device=device)(z)
    per_instance = torch.view_as_real(plain).flatten(2, 3)  # (N, C, positions, 2)
    centred = per_instance - per_instance.mean(2, keepdim=True)
    cov = centred.transpose(-1, -2) @ centred / centred.shape[2]
    eye_half = torch.eye(2, dtype=torch.float64, device=device) / 2
    torch.testing.assert_close(cov, eye_half.expand_as(cov), atol=1e-8, rtol=0)
    assert plain.mean(dim=(2, 3)).abs().max() < 1e-10


def test_instance_norm_running_statistics_eval_and_gradcheck() -> None:
    """Tracked statistics move towards the instances' own, averaged over the batch; eval
    mode whitens with them; complex128 gradcheck of the functional form."""
    z = torch.randn(5, 2, 7, dtype=torch.complex128) * (2 - 1j) + (1 + 3j)
    norm = cvlayers.InstanceNorm1d(
        2, momentum=1.0, track_running_stats=True, dtype=torch.complex128
    )
    norm(z)
    torch.testing.assert_close(norm.running_mean, z.mean(2).mean(0))
    parts = torch.view_as_real(z - z.mean(2, keepdim=True))  # (N, C, L, 2)
    unbiased = (parts.transpose(-1, -2) @ parts / (z.shape[2] - 1)).mean(0)
    torch.testing.assert_close(norm.running_covar, unbiased.flatten(1)[:, [0, 1, 3]])
    norm.eval()
    expected = CF.batch_norm(
        z.transpose(0, 1).reshape(1, 2, -1), norm.running_mean, norm.running_covar
    )
    torch.testing.assert_close(norm(z), expected.view(2, 5, 7).transpose(0, 1))
    x = torch.randn(2, 2, 4, dtype=torch.complex128, requires_grad=True)
    weight = torch.tensor([[0.9, 0.2, 0.5], [1.0, 0.1, 0.8]], dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda t: CF.instance_norm(t, weight=weight), (x,))


@pytest.mark.parametrize("name", ["InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d"])
def test_instance_norm_has_torch_nn_arguments_repr_and_errors(name: str) -> None:
    ours, theirs = getattr(cvlayers, name), getattr(torch.nn, name)
    for kwargs in (
        {},
        {"affine": True, "track_running_stats": True},
        {"affine": True, "bias": False},
    ):
        assert repr(ours(3, **kwargs)) == repr(theirs(3, **kwargs))
    names = list(inspect.signature(theirs).parameters)
    assert list(inspect.signature(ours).parameters) == names
    spatial = int(name[-2])
    with pytest.raises(TypeError, match="complex tensor"):
        ours(3)(torch.randn(2, 3, *([4] * spatial)))
    with pytest.raises(ValueError, match="expected 3 channels"):
        ours(3)(torch.randn(2, 4, *([4] * spatial), dtype=torch.complex64))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        ours(3)(torch.randn(2, 3, *([1] * spatial), dtype=torch.complex64))
    unbatched = torch.randn(3, *([4] * spatial), dtype=torch.complex64)
    torch.testing.assert_close(ours(3)(unbatched), ours(3)(unbatched[None])[0])
    empty = torch.randn(0, 3, *([4] * spatial), dtype=torch.complex64)  # raised ZeroDivisionError
    assert ours(3, track_running_stats=True)(empty).shape == empty.shape


# -- layer norm and group norm ---------------------------------------------------------------


def test_batch_norm_keeps_running_statistics_in_their_own_precision() -> None:
    """complex128 running statistics of complex64 input update in training (the mean raised
    torch's dtype error, the covariance was cast) by the batch's statistics, and eval mode
    promotes to them, as with a weight or bias of another precision."""
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(32, 3, 5, dtype=torch.complex64, generator=gen) * (2 + 1j) + 1
    stats = (torch.zeros(3, dtype=torch.complex128), torch.ones(3, 3, dtype=torch.float64))
    out = CF.batch_norm(x, *stats, training=True, momentum=1.0)
    assert out.dtype == torch.complex64
    wide = x.to(torch.complex128).transpose(0, 1).reshape(3, -1)
    torch.testing.assert_close(stats[0], wide.mean(1), rtol=1e-6, atol=1e-6)
    centred = torch.view_as_real(wide - wide.mean(1, keepdim=True))
    variance = centred.square().sum(1) / (wide.shape[1] - 1)  # (3, 2): V_rr, V_ii, unbiased
    torch.testing.assert_close(stats[1][:, ::2], variance, rtol=1e-5, atol=1e-6)
    assert CF.batch_norm(x, *stats, training=False).dtype == torch.complex128


def test_layernorm_is_per_sample_and_unit_power() -> None:
    z = torch.randn(5, 4, 8, dtype=torch.complex128) * 3 + (1 - 2j)
    ln = cvlayers.LayerNorm((4, 8), dtype=torch.complex128)
    out = ln(z)
    torch.testing.assert_close(out[1:2], ln(z[1:2]))  # no statistics across the batch
    torch.testing.assert_close(
        out.abs().square().mean(dim=(1, 2)), torch.ones(5, dtype=torch.float64), rtol=1e-4, atol=0
    )
    assert out.mean(dim=(1, 2)).abs().max() < 1e-12
    x = torch.randn(3, 4, dtype=torch.complex128, requires_grad=True)
    ln2 = cvlayers.LayerNorm(4, dtype=torch.complex128)
    assert torch.autograd.gradcheck(ln2, (x,))


def test_torchcvnn_layernorm_mixes_the_batch() -> None:
    tnn = pytest.importorskip("torchcvnn.nn")
    z = torch.randn(5, 8, dtype=torch.complex64) * torch.arange(1, 6).view(-1, 1)
    theirs = tnn.LayerNorm(8)
    ours = cvlayers.LayerNorm(8)
    # ours: a sample's output does not depend on the other samples; theirs does.
    torch.testing.assert_close(ours(z)[:1], ours(z[:1]))
    assert not torch.allclose(theirs(z)[:1], theirs(z[:1]), atol=1e-3)


def _rms_oracle(z: Tensor, dims: int, eps: float) -> Tensor:
    """z / sqrt(mean |z|^2 + eps) over the last ``dims`` dimensions, in complex128."""
    w = z.to(torch.complex128)
    power = (w.real.square() + w.imag.square()).mean(dim=tuple(range(-dims, 0)), keepdim=True)
    return w / torch.sqrt(power + eps)


def test_rms_norm_scales_each_sample_to_unit_power(
    device: torch.device, dtype: torch.dtype
) -> None:
    """Each sample divided by its root mean |z|^2, its phases kept, then times gamma; real data
    (Im z = 0) gives torch's rms_norm; eps=None is the real dtype's machine epsilon."""
    z = torch.randn(5, 4, 8, dtype=dtype, device=device) * torch.arange(1, 6, device=device).view(
        -1, 1, 1
    ) + (1 - 2j)
    norm = cvlayers.RMSNorm((4, 8), eps=1e-3, device=device, dtype=dtype)
    with torch.no_grad():
        norm.weight.copy_(torch.randn(4, 8, dtype=dtype, device=device))
    out = norm(z)
    tol = {"rtol": 1e-5, "atol": 1e-6} if dtype == torch.complex64 else {}
    expected = _rms_oracle(z, 2, 1e-3) * norm.weight.detach().to(torch.complex128)
    torch.testing.assert_close(out, expected.to(dtype), **tol)
    torch.testing.assert_close(out[1:2], norm(z[1:2]))  # no statistics across the batch
    plain = CF.rms_norm(z, (4, 8), eps=0.0)
    power = plain.abs().square().mean(dim=(1, 2))
    torch.testing.assert_close(power, torch.ones_like(power), **tol)
    ratio = plain / z  # a positive real per sample: the phases are kept
    assert ratio.imag.abs().max() < 1e-5 and ratio.real.min() > 0
    x = torch.randn(3, 6, dtype=REAL_DTYPE[dtype], device=device) * 4
    real = CF.rms_norm(torch.complex(x, torch.zeros_like(x)), (6,))
    torch.testing.assert_close(real.real, F.rms_norm(x, (6,)), **tol)
    eps = torch.finfo(REAL_DTYPE[dtype]).eps
    torch.testing.assert_close(CF.rms_norm(z, 8), _rms_oracle(z, 1, eps).to(dtype), **tol)


def test_rms_norm_gradients_and_zero_input(device: torch.device) -> None:
    z = torch.randn(3, 4, dtype=torch.complex128, device=device, requires_grad=True)
    w = torch.randn(4, dtype=torch.complex128, device=device, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: CF.rms_norm(a, (4,), b, 1e-3), (z, w))
    assert torch.autograd.gradgradcheck(lambda a, b: CF.rms_norm(a, (4,), b, 1e-3), (z, w))
    # a zero sample: output 0, input gradient G / sqrt(eps) (the mean square's term vanishes)
    zero = torch.zeros(2, 4, dtype=torch.complex64, device=device, requires_grad=True)
    out = CF.rms_norm(zero, (4,), eps=1e-4)
    grad = torch.randn_like(out)
    out.backward(grad)
    assert out.abs().max() == 0
    assert zero.grad is not None
    torch.testing.assert_close(zero.grad, grad / 1e-2)


def test_rms_norm_has_torch_nn_arguments_repr_and_errors() -> None:
    for args, kwargs in [((4,), {}), (([3, 4],), {"eps": 1e-3, "elementwise_affine": False})]:
        ours, theirs = cvlayers.RMSNorm(*args, **kwargs), torch.nn.RMSNorm(*args, **kwargs)
        assert repr(ours) == repr(theirs)
        assert list(ours.state_dict()) == list(theirs.state_dict())
    assert cvlayers.RMSNorm(4, dtype=torch.complex128).weight.dtype == torch.complex128
    assert list(inspect.signature(CF.rms_norm).parameters) == list(
        inspect.signature(F.rms_norm).parameters
    )
    z = torch.randn(2, 4, dtype=torch.complex64)
    with pytest.raises(ValueError, match=r"expected input of shape \(\*, 5\), got \(2, 4\)"):
        CF.rms_norm(z, (5,))
    with pytest.raises(ValueError, match=r"expected weight of shape \(4,\), got \(2,\)"):
        CF.rms_norm(z, (4,), torch.ones(2, dtype=torch.complex64))
    with pytest.raises(ValueError, match="eps must be a number >= 0, got -1"):
        CF.rms_norm(z, (4,), eps=-1)
    # as torch's: the kernels took each value as a row and the torch ops the whole tensor
    for norm in (CF.rms_norm, CF.layer_norm):
        with pytest.raises(ValueError, match=r"normalized_shape must have at least one dim"):
            norm(z, ())
    with pytest.raises(TypeError, match="input"):
        CF.rms_norm(z.real, (4,))


def test_torchcvnn_rms_norm_mixes_the_batch() -> None:
    """torchcvnn's RMSNorm takes our constructor arguments, but whitens each feature over the
    batch: a sample's output depends on the others."""
    tnn = pytest.importorskip("torchcvnn.nn")
    z = torch.randn(5, 8, dtype=torch.complex64) * torch.arange(1, 6).view(-1, 1)
    theirs, ours = tnn.RMSNorm(8, eps=1e-5), cvlayers.RMSNorm(8, eps=1e-5)
    torch.testing.assert_close(ours(z)[:1], ours(z[:1]))
    torch.testing.assert_close(ours(z), CF.rms_norm(z, 8, eps=1e-5))
    assert not torch.allclose(theirs(z)[:1], theirs(z[:1]), atol=1e-3)


LAZY_CONJ_NORMS: dict[str, tuple[Any, tuple[int, ...]]] = {
    "LayerNorm": (lambda: cvlayers.LayerNorm(4), (3, 4)),
    "RMSNorm": (lambda: cvlayers.RMSNorm(4), (3, 4)),
    "GroupNorm": (lambda: cvlayers.GroupNorm(2, 4), (3, 4, 5)),
    "BatchNorm1d": (lambda: cvlayers.BatchNorm1d(4), (6, 4, 5)),
    "BatchNorm1d eval": (lambda: cvlayers.BatchNorm1d(4).eval(), (6, 4, 5)),
    "InstanceNorm1d": (lambda: cvlayers.InstanceNorm1d(4, affine=True), (3, 4, 5)),
}


@pytest.mark.parametrize("native", [True, False], ids=["kernels", "eager"])
@pytest.mark.parametrize("name", list(LAZY_CONJ_NORMS))
def test_norms_on_a_lazily_conjugated_input(name: str, native: bool) -> None:
    """norm(x.conj()) is the norm of the resolved conjugate, with the same gradient (the
    eager RMS norm took view_as_real of the lazy conjugate and raised)."""
    make, shape = LAZY_CONJ_NORMS[name]
    x = torch.randn(shape, dtype=torch.complex64)
    lazy, resolved = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    grad = torch.randn(shape, dtype=torch.complex64)
    with contextlib.nullcontext() if native else _native.eager():
        out = make()(lazy.conj())
        expected = make()(resolved.conj().resolve_conj())
        out.backward(grad)
        expected.backward(grad)
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(lazy.grad, resolved.grad)


def test_groupnorm() -> None:
    z = torch.randn(2, 6, 5, dtype=torch.complex128)
    gn = cvlayers.GroupNorm(3, 6, dtype=torch.complex128)
    out = gn(z)
    groups = out.reshape(2, 3, -1)
    torch.testing.assert_close(
        groups.abs().square().mean(-1), torch.ones(2, 3, dtype=torch.float64), rtol=1e-4, atol=0
    )
    with pytest.raises(ValueError, match="divisible"):
        cvlayers.GroupNorm(4, 6)
    x = torch.randn(2, 4, 3, dtype=torch.complex128, requires_grad=True)
    assert torch.autograd.gradcheck(cvlayers.GroupNorm(2, 4, dtype=torch.complex128), (x,))


NORMS: list[tuple[str, tuple[Any, ...], tuple[int, ...]]] = [
    ("BatchNorm1d", (4,), (8, 4, 5)),
    ("BatchNorm2d", (4,), (8, 4, 3, 3)),
    ("BatchNorm3d", (4,), (8, 4, 2, 2, 2)),
    ("GroupNorm", (2, 4), (8, 4, 5)),
    ("LayerNorm", ((3, 5),), (8, 4, 3, 5)),
]


@pytest.mark.parametrize(("name", "args", "shape"), NORMS)
def test_norms_take_torch_bias_keyword_and_repr(
    name: str, args: tuple[Any, ...], shape: tuple[int, ...]
) -> None:
    ours, theirs = getattr(cvlayers, name), getattr(torch.nn, name)
    for kwargs in ({}, {"bias": False}):
        assert repr(ours(*args, eps=1e-3, **kwargs)) == repr(theirs(*args, eps=1e-3, **kwargs))
    with_bias = ours(*args, dtype=torch.complex128)
    no_bias = ours(*args, dtype=torch.complex128, bias=False)
    assert no_bias.bias is None and "bias" not in no_bias.state_dict()
    assert no_bias.weight is not None
    z = torch.randn(shape, dtype=torch.complex128)
    with torch.no_grad():
        with_bias.weight.mul_(1.5)
        no_bias.weight.mul_(1.5)
        with_bias.bias.fill_(0.5 - 2j)
    torch.testing.assert_close(with_bias(z), no_bias(z) + (0.5 - 2j))
    z.requires_grad_(True)
    assert torch.autograd.gradcheck(no_bias, (z,))


def test_layer_and_group_norm_functionals() -> None:
    """On real data (Im = 0) they are torch's layer_norm and group_norm (variance E|z - mu|^2);
    the modules are these functions with their parameters."""
    x = torch.randn(4, 6, 5, dtype=torch.float64) * 3 + 1
    z = torch.complex(x, torch.zeros_like(x))
    torch.testing.assert_close(CF.layer_norm(z, (6, 5)).real, F.layer_norm(x, (6, 5)))
    torch.testing.assert_close(CF.group_norm(z, 3).real, F.group_norm(x, 3))
    w = torch.randn(6, 5, dtype=torch.complex128)
    b = torch.randn(6, 5, dtype=torch.complex128)
    z = torch.randn(4, 6, 5, dtype=torch.complex128)
    ln = cvlayers.LayerNorm((6, 5), eps=1e-3, dtype=torch.complex128)
    gn = cvlayers.GroupNorm(3, 6, eps=1e-3, dtype=torch.complex128)
    with torch.no_grad():
        ln.weight.copy_(w)
        ln.bias.copy_(b)
        gn.weight.copy_(w[:, 0])
        gn.bias.copy_(b[:, 0])
    torch.testing.assert_close(ln(z), CF.layer_norm(z, [6, 5], w, b, 1e-3))
    torch.testing.assert_close(gn(z), CF.group_norm(z, 3, w[:, 0], b[:, 0], 1e-3))
    with pytest.raises(ValueError, match=r"expected input of shape \(\*, 5, 6\), got \(4, 6, 5\)"):
        CF.layer_norm(z, (5, 6))
    with pytest.raises(ValueError, match="divisible by num_groups"):
        CF.group_norm(z, 4)
    # gamma and beta of another shape, as torch's norms refuse them (the kernels' path and the
    # torch ops' would disagree: a flat weight of the right size against broadcasting)
    with pytest.raises(ValueError, match=r"expected weight of shape \(6, 5\), got \(30,\)"):
        CF.layer_norm(z, (6, 5), w.reshape(-1))
    with pytest.raises(ValueError, match=r"expected bias of shape \(6, 5\), got \(5,\)"):
        CF.layer_norm(z, (6, 5), w, b[0])
    with pytest.raises(ValueError, match=r"expected weight of shape \(6,\), got \(3, 2\)"):
        CF.group_norm(z, 3, w[:, 0].reshape(3, 2))
    with pytest.raises(ValueError, match=r"expected bias of shape \(6,\), got \(5,\)"):
        CF.group_norm(z, 3, None, b[0])
    for norm in (cvlayers.LayerNorm((6, 5), eps=-1e-3), cvlayers.GroupNorm(3, 6, eps=-1e-3)):
        with pytest.raises(ValueError, match=r"eps must be a number >= 0, got -0\.001"):
            norm(z.to(torch.complex64))


# -- pooling ---------------------------------------------------------------------------------


def test_maxpool_picks_largest_modulus_per_plane(device: torch.device) -> None:
    z = torch.randn(3, 4, 6, 6, dtype=torch.complex128, device=device)
    out = cvlayers.MaxPool2d(2)(z)
    windows = z.unfold(2, 2, 2).unfold(3, 2, 2).reshape(3, 4, 3, 3, 4)
    best = windows.gather(-1, windows.abs().argmax(-1, keepdim=True)).squeeze(-1)
    assert torch.equal(out, best)
    one_plane = cvlayers.MaxPool2d(2)(z[1:2, 2:3])
    assert torch.equal(one_plane, out[1:2, 2:3])  # planes never mix


def test_maxpool1d_adaptive_and_indices() -> None:
    z = torch.tensor([[[1 + 0j, -3j, 2 + 0j, 1 + 1j]]])
    out, idx = CF.max_pool1d(z, 2, return_indices=True)
    assert torch.equal(out, torch.tensor([[[-3j, 2 + 0j]]]))
    assert idx.tolist() == [[[1, 2]]]
    z2 = torch.randn(2, 3, 8, 8, dtype=torch.complex64)
    assert torch.equal(cvlayers.AdaptiveMaxPool2d(4)(z2), cvlayers.MaxPool2d(2)(z2))


MAX_POOLS: list[tuple[int, dict[str, Any]]] = [
    (1, {"kernel_size": 2}),
    (1, {"kernel_size": [2], "stride": []}),  # torch's [] is the default stride
    (1, {"kernel_size": (3,), "stride": (2,), "padding": (1,), "dilation": 1, "ceil_mode": True}),
    (2, {"kernel_size": 2}),
    (2, {"kernel_size": 3, "stride": 1, "padding": 1}),
    (2, {"kernel_size": (2, 3), "stride": (1, 2), "dilation": (2, 1), "ceil_mode": True}),
]


@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize(("dims", "kwargs"), MAX_POOLS)
def test_maxpool_indices_are_torchs_on_the_modulus(
    dims: int, kwargs: dict[str, Any], batched: bool, device: torch.device
) -> None:
    """The indices (and so the entries) are torch's max pooling's on |z| in z's own layout,
    ties (the first in window order wins) and a NaN (it wins) included, though on the CPU they
    come from a channels-last copy, and 1-D pooling from 2-D pooling of (1, L) planes."""
    shape = (3, 5, *([9] * dims)) if batched else (5, *([9] * dims))
    gen = torch.Generator().manual_seed(0)
    # exact moduli 0, 1 and 5 with several values each: many ties, which any rounding in |z|
    # would break
    values = torch.tensor([0, 1, 1j, 5, -5j, 3 + 4j, 4 - 3j, -3 - 4j], dtype=torch.complex128)
    z = values[torch.randint(0, len(values), shape, generator=gen)].to(device)
    z.view(-1)[17] = complex("nan")
    pool = CF.max_pool1d if dims == 1 else CF.max_pool2d
    real_pool = F.max_pool1d if dims == 1 else F.max_pool2d
    out, idx = pool(z, return_indices=True, **kwargs)
    _, expected = real_pool(z.abs(), return_indices=True, **kwargs)
    assert torch.equal(idx, expected)
    assert idx.is_contiguous() and out.is_contiguous()
    plane = z.flatten(-dims)
    picked = plane.gather(-1, idx.flatten(-dims))
    torch.testing.assert_close(out.flatten(-dims), picked, rtol=0, atol=0, equal_nan=True)


def test_maxpool_gradient_flows_to_the_selected_entry() -> None:
    z = torch.randn(1, 1, 4, 4, dtype=torch.complex128, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: CF.max_pool2d(t, 2), (z,))


@pytest.mark.parametrize(
    ("spatial", "shape"), [(1, (2, 3, 7)), (2, (2, 3, 5, 7)), (3, (2, 3, 3, 5, 5))]
)
def test_max_unpool_puts_each_pooled_entry_back(
    spatial: int, shape: tuple[int, ...], device: torch.device, dtype: torch.dtype
) -> None:
    """Unpooling what max pooling returned with its indices puts each window's entry of
    largest modulus back in its place and 0 elsewhere (odd sizes through ``output_size``),
    batched or not, module or function; torch's own unpooling has no complex kernel."""
    z = torch.randn(shape, dtype=dtype, device=device)
    out, idx = getattr(cvlayers, f"MaxPool{spatial}d")(2, return_indices=True)(z)
    unpool = getattr(cvlayers, f"MaxUnpool{spatial}d")(2)
    back = unpool(out, idx, output_size=list(shape[2:]))
    flat = torch.zeros_like(z).flatten(2).scatter(-1, idx.flatten(2), out.flatten(2))
    assert torch.equal(back, flat.view_as(z))
    kept = back != 0
    assert torch.equal(back[kept], z[kept]) and kept.sum() == out.numel()
    functional = getattr(CF, f"max_unpool{spatial}d")
    assert torch.equal(functional(out[0], idx[0], 2, output_size=list(shape[2:])), back[0])
    with pytest.raises(RuntimeError, match=r"ComplexFloat|ComplexDouble"):
        getattr(torch.nn, f"MaxUnpool{spatial}d")(2)(out, idx)


def test_max_unpool_gradcheck_errors_and_torch_module() -> None:
    z = torch.randn(1, 2, 4, 4, dtype=torch.complex128)
    out, idx = CF.max_pool2d(z, 2, return_indices=True)
    out.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: CF.max_unpool2d(t, idx, 2), (out,))
    ours, theirs = cvlayers.MaxUnpool2d(3, stride=2, padding=1), torch.nn.MaxUnpool2d(3, 2, 1)
    assert isinstance(ours, torch.nn.MaxUnpool2d) and repr(ours) == repr(theirs)
    params = [inspect.signature(m.forward).parameters.values() for m in (ours, theirs)]
    assert [(p.name, p.default) for p in params[0]] == [(p.name, p.default) for p in params[1]]
    with pytest.raises(TypeError, match="complex tensor"):
        cvlayers.MaxUnpool2d(2)(out.real.detach(), idx)
    with pytest.raises(ValueError, match="expected indices of the input's shape"):
        cvlayers.MaxUnpool2d(2)(out, idx[:, :1])
    with pytest.raises(ValueError, match="dimensions"):
        CF.max_unpool1d(out, idx, 2)


@pytest.mark.parametrize(
    ("fn", "shape"),
    [
        (lambda t: CF.max_pool3d(t, 2), (1, 2, 2, 4, 4)),
        (lambda t: CF.adaptive_max_pool1d(t, 2), (1, 2, 5)),
        (lambda t: CF.adaptive_max_pool3d(t, (1, 2, 2)), (1, 2, 2, 3, 4)),
        (lambda t: CF.avg_pool3d(t, 2, stride=1), (1, 2, 3, 3, 3)),
        (lambda t: CF.adaptive_avg_pool3d(t, (1, 2, 2)), (1, 2, 2, 3, 4)),
    ],
)
def test_3d_and_adaptive_1d_pools_gradcheck(fn: Any, shape: tuple[int, ...]) -> None:
    z = torch.randn(shape, dtype=torch.complex128, requires_grad=True)
    assert torch.autograd.gradcheck(fn, (z,))


def test_average_pools_match_parts() -> None:
    z = torch.randn(2, 3, 8, 8, dtype=torch.complex64)
    for ours, theirs in (
        (cvlayers.AvgPool2d(2), torch.nn.AvgPool2d(2)),
        (cvlayers.AdaptiveAvgPool2d(3), torch.nn.AdaptiveAvgPool2d(3)),
    ):
        torch.testing.assert_close(ours(z), torch.complex(theirs(z.real), theirs(z.imag)))
    z1 = torch.randn(2, 3, 8, dtype=torch.complex64)
    torch.testing.assert_close(
        cvlayers.AvgPool1d(2)(z1), torch.complex(F.avg_pool1d(z1.real, 2), F.avg_pool1d(z1.imag, 2))
    )
    torch.testing.assert_close(cvlayers.AdaptiveAvgPool1d(1)(z1), z1.mean(-1, keepdim=True))
    with pytest.raises(ValueError, match="dimensions"):
        cvlayers.MaxPool2d(2)(torch.randn(8, dtype=torch.complex64))


def test_torchcvnn_maxpool_mixes_planes() -> None:
    tnn = pytest.importorskip("torchcvnn.nn")
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(2, 3, 4, 4, dtype=torch.complex64, generator=gen)
    z[0, 0] *= 100  # one loud plane
    ours = cvlayers.MaxPool2d(2)(z)
    assert torch.equal(ours[1, 2], cvlayers.MaxPool2d(2)(z[1:2, 2:3])[0, 0])
    theirs = tnn.MaxPool2d(2)(z)
    assert not torch.equal(theirs, ours)


POOLS: list[tuple[str, tuple[Any, ...], dict[str, Any], tuple[int, ...]]] = [
    ("MaxPool1d", (3,), {"stride": 2, "padding": 1, "ceil_mode": True}, (2, 3, 9)),
    ("MaxPool2d", ((2, 3),), {"dilation": 2, "return_indices": True}, (2, 3, 9, 9)),
    ("AdaptiveMaxPool2d", ((2, 3),), {"return_indices": True}, (2, 3, 7, 8)),
    ("AvgPool1d", (3,), {"padding": 1, "count_include_pad": False}, (2, 3, 9)),
    ("AvgPool2d", (3,), {"stride": 2, "ceil_mode": True, "divisor_override": 4}, (2, 3, 9, 9)),
    ("AdaptiveAvgPool1d", (4,), {}, (2, 3, 9)),
    ("AdaptiveAvgPool2d", ((2, 3),), {}, (2, 3, 7, 8)),
    (
        "MaxPool3d",
        ((2, 2, 3),),
        {"stride": 2, "padding": 1, "return_indices": True},
        (2, 3, 4, 5, 7),
    ),
    ("AdaptiveMaxPool1d", (3,), {"return_indices": True}, (2, 3, 8)),
    ("AdaptiveMaxPool3d", ((1, 2, 3),), {"return_indices": True}, (2, 3, 3, 5, 7)),
    ("AvgPool3d", (2,), {"stride": 1, "ceil_mode": True, "divisor_override": 3}, (2, 3, 4, 5, 5)),
    ("AdaptiveAvgPool3d", ((1, 2, 3),), {}, (2, 3, 3, 5, 7)),
]


@pytest.mark.parametrize(("name", "args", "kwargs", "shape"), POOLS)
def test_pools_are_torch_modules_with_complex_forward(
    name: str, args: tuple[Any, ...], kwargs: dict[str, Any], shape: tuple[int, ...]
) -> None:
    """torch.nn's signature, attributes and repr; every argument reaches the pooling: the
    result equals the functional form called with the same arguments, and for the averages
    torch's own pooling of Re and Im."""
    ours, theirs = (
        getattr(cvlayers, name)(*args, **kwargs),
        getattr(torch.nn, name)(*args, **kwargs),
    )
    assert isinstance(ours, type(theirs)) and repr(ours) == repr(theirs)
    assert inspect.signature(type(ours)) == inspect.signature(type(theirs))
    z = torch.randn(shape, dtype=torch.complex128)
    out = ours(z)
    if name.startswith(("Avg", "AdaptiveAvg")):
        expected = torch.complex(theirs(z.real), theirs(z.imag))
        torch.testing.assert_close(out, expected)
    else:
        out, idx = out if isinstance(out, tuple) else (out, None)
        _, torch_idx = getattr(F, _snake(name))(
            z.abs(), *args, **{**kwargs, "return_indices": True}
        )
        if idx is not None:
            assert torch.equal(idx, torch_idx)  # the largest modulus of each window
        spatial = int(name[-2])
        picked = z.flatten(-spatial).gather(-1, torch_idx.flatten(-spatial))
        assert torch.equal(out, picked.view(torch_idx.shape))
    with pytest.raises(TypeError):
        getattr(cvlayers, name)(*args, not_an_argument=1)  # at construction, as torch's


def _snake(name: str) -> str:
    """MaxPool2d -> max_pool2d."""
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


# -- upsampling ------------------------------------------------------------------------------

UPSAMPLES: list[tuple[dict[str, Any], tuple[int, ...]]] = [
    ({"scale_factor": 2, "mode": "nearest"}, (2, 3, 5)),
    ({"size": 11, "mode": "linear", "align_corners": True}, (2, 3, 5)),
    ({"scale_factor": (2, 1.5), "mode": "bilinear"}, (2, 3, 4, 6)),
    ({"size": (7, 9), "mode": "bicubic", "align_corners": False}, (2, 3, 4, 6)),
    ({"scale_factor": 0.5, "mode": "area"}, (2, 3, 8, 6)),
    ({"scale_factor": 2, "mode": "trilinear"}, (1, 2, 2, 3, 4)),
    ({"scale_factor": 1.5, "mode": "nearest-exact"}, (1, 2, 2, 3, 4)),
]


@pytest.mark.parametrize(("kwargs", "shape"), UPSAMPLES)
def test_upsample_resamples_the_parts_with_torchs_weights(
    kwargs: dict[str, Any], shape: tuple[int, ...], device: torch.device, dtype: torch.dtype
) -> None:
    """Every mode is a real linear combination of the inputs: torch's interpolation of Re and
    Im (torch's own raises for complex input), module as function, torch.nn's repr."""
    z = torch.randn(shape, dtype=dtype, device=device)
    ours, theirs = cvlayers.Upsample(**kwargs), torch.nn.Upsample(**kwargs)
    assert isinstance(ours, torch.nn.Upsample) and repr(ours) == repr(theirs)
    expected = torch.complex(theirs(z.real), theirs(z.imag))
    torch.testing.assert_close(ours(z), expected)
    torch.testing.assert_close(CF.interpolate(z, **kwargs), expected)
    with pytest.raises(RuntimeError, match="not implemented for 'Complex"):
        theirs(z)


def test_interpolate_gradcheck_and_errors() -> None:
    z = torch.randn(1, 2, 3, 3, dtype=torch.complex128, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda t: CF.interpolate(t, scale_factor=2, mode="bicubic", antialias=False), (z,)
    )
    assert torch.autograd.gradcheck(
        lambda t: CF.interpolate(t, size=(2, 2), mode="bilinear", antialias=True), (z,)
    )
    with pytest.raises(TypeError, match="complex tensor"):
        cvlayers.Upsample(scale_factor=2)(torch.randn(1, 2, 3))


# -- dropout ---------------------------------------------------------------------------------


def test_dropout_shares_the_mask(device: torch.device) -> None:
    z = torch.full((4000,), 1 + 1j, dtype=torch.complex64, device=device)
    out = cvlayers.Dropout(0.3)(z)
    kept = out != 0
    assert torch.equal(out.real != 0, out.imag != 0)
    torch.testing.assert_close(out[kept], torch.full_like(out[kept], (1 + 1j) / 0.7))
    assert abs(kept.float().mean().item() - 0.7) < 0.03
    assert torch.equal(cvlayers.Dropout(0.3).eval()(z), z)


def test_channel_dropout() -> None:
    z = torch.ones(50, 8, 3, 3, dtype=torch.complex64)
    out = cvlayers.Dropout2d(0.5)(z)
    per_channel = out.reshape(50, 8, -1)
    assert torch.all((per_channel == 0).all(-1) | (per_channel == 2).all(-1))
    with pytest.raises(ValueError, match="Dropout2d expects"):
        cvlayers.Dropout2d(0.5)(torch.ones(2, 3, dtype=torch.complex64))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\), got \(50, 8, 3\)"):
        cvlayers.Dropout2d(0.5)(z[:, :, 0])  # torch reads 3-D as (N, C, L) here: ambiguous
    # Unbatched (C, *spatial) where torch takes it: dropout1d and dropout3d.
    for module, shape in ((cvlayers.Dropout1d, (64, 5)), (cvlayers.Dropout3d, (64, 2, 2, 2))):
        out = module(0.5)(torch.ones(shape, dtype=torch.complex64)).reshape(64, -1)
        assert torch.all((out == 0).all(-1) | (out == 2).all(-1))
        assert 0 < (out == 0).all(-1).sum() < 64
    with pytest.raises(ValueError, match=r"\(N, C, L\) or \(C, L\), got \(5,\)"):
        cvlayers.Dropout1d(0.5)(torch.ones(5, dtype=torch.complex64))
    with pytest.raises(ValueError, match="between 0 and 1"):
        cvlayers.Dropout(1.5)
    assert torch.count_nonzero(cvlayers.Dropout(1.0)(z)) == 0


@pytest.mark.parametrize(
    ("module", "functional", "channel_dims"),
    [
        (cvlayers.Dropout, CF.dropout, 0),
        (cvlayers.Dropout1d, CF.dropout1d, 1),
        (cvlayers.Dropout2d, CF.dropout2d, 2),
        (cvlayers.Dropout3d, CF.dropout3d, 3),
    ],
)
def test_dropout_takes_torch_arguments_and_inplace(
    device: torch.device, module: Any, functional: Any, channel_dims: int
) -> None:
    torch_module = getattr(torch.nn, module.__name__)
    assert repr(module(0.25, True)) == repr(torch_module(0.25, True))
    assert repr(module()) == repr(torch_module())
    z = torch.randn(6, 5, *([4] * channel_dims), dtype=torch.complex64, device=device)
    torch.manual_seed(0)
    out = functional(z, 0.4, True, False)
    # The 4th positional argument is torch's `inplace`: same mask, written into the input.
    copy = z.clone()
    torch.manual_seed(0)
    returned = functional(copy, 0.4, True, True)
    assert returned is copy
    assert torch.equal(copy, out)
    assert not torch.equal(copy, z)
    kept = (out != 0).reshape(*out.shape[: 2 if channel_dims else out.dim()], -1)
    assert torch.all(kept.all(-1) | ~kept.any(-1))  # channels (or entries) kept whole
    torch.testing.assert_close(out[out != 0], z[out != 0] / 0.6)
    copy = z.clone()
    torch.manual_seed(0)
    assert module(0.4, inplace=True)(copy) is copy
    assert torch.equal(copy, out)
    assert functional(z, 0.4, False, True) is z  # eval: untouched
    with pytest.raises(ValueError, match="between 0 and 1"):
        functional(z, -0.1)
    leaf = z.clone().requires_grad_(True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        functional(leaf, 0.4, True, True)


# -- initialisation --------------------------------------------------------------------------


def test_unitary_and_he() -> None:
    w = init.unitary_(torch.empty(16, 16, dtype=torch.complex128))
    torch.testing.assert_close(w.conj().T @ w, torch.eye(16, dtype=torch.complex128))
    with pytest.raises(ValueError, match="square"):
        init.unitary_(torch.empty(3, 4, dtype=torch.complex64))
    he = init.complex_he_(torch.empty(500, 400, dtype=torch.complex128))
    assert he.abs().square().mean().item() == pytest.approx(2 / 400, rel=0.02)
    with pytest.raises(TypeError, match="complex"):
        init.complex_glorot_(torch.empty(3, 3))


def test_init_is_usable_from_reset_parameters() -> None:
    class Unitary(cvlayers.Linear):
        def reset_parameters(self) -> None:
            init.unitary_(self.weight)

    layer = Unitary(8, 8, bias=False, dtype=torch.complex128)
    x = torch.randn(5, 8, dtype=torch.complex128)
    torch.testing.assert_close(layer(x).norm(dim=1), x.norm(dim=1))  # norm preserving
    assert math.isclose(layer.weight.abs().square().sum().item(), 8, rel_tol=1e-12)


def test_batchnorm_against_torchcvnn() -> None:
    tnn = pytest.importorskip("torchcvnn.nn")
    gen = torch.Generator().manual_seed(3)
    theirs, ours = (
        tnn.BatchNorm2d(3, cdtype=torch.complex64),
        cvlayers.BatchNorm2d(3, cdtype=torch.complex64),
    )
    batches = [
        torch.randn(8, 3, 4, 4, dtype=torch.complex64, generator=gen) * 2 + 1j for _ in range(3)
    ]
    n = 8 * 4 * 4
    for z in batches:  # training: the unbiased vs biased covariance, an exact scalar factor
        torch.testing.assert_close(
            theirs(z), ours(z) * math.sqrt((n - 1) / n), rtol=1e-4, atol=1e-5
        )
    theirs.eval(), ours.eval()
    torch.testing.assert_close(theirs(batches[0]), ours(batches[0]), rtol=1e-4, atol=1e-5)


# -- meta-device construction ---------------------------------------------------------------

DETERMINISTIC_INIT: dict[str, Any] = {
    "BatchNorm2d": lambda device: cvlayers.BatchNorm2d(3, device=device),
    "LayerNorm": lambda device: cvlayers.LayerNorm(4, device=device),
    "RMSNorm": lambda device: cvlayers.RMSNorm(4, device=device),
    "GroupNorm": lambda device: cvlayers.GroupNorm(1, 3, device=device),
    "ModReLU": lambda device: cvlayers.ModReLU(3, bias=-0.4, device=device),
    "CPReLU": lambda device: cvlayers.CPReLU(3, init=0.1, device=device),
}


@pytest.mark.parametrize("name", list(DETERMINISTIC_INIT))
def test_meta_device_then_reset_parameters(name: str) -> None:
    """Built on the meta device (as for FSDP), moved with to_empty (uninitialised memory) and
    reset: the state of a layer built directly."""
    make = DETERMINISTIC_INIT[name]
    layer = make("meta").to_empty(device="cpu")
    with torch.no_grad():
        for p in layer.parameters():
            p.fill_(float("nan"))  # what to_empty may leave
    layer.reset_parameters()
    state = layer.state_dict()  # BatchNorm's running statistics are reset too, as torch's
    for key, value in make("cpu").state_dict().items():
        torch.testing.assert_close(state[key], value)


@pytest.mark.parametrize("cls", [cvlayers.Linear, cvlayers.Conv1d])
def test_meta_device_random_init(cls: Any) -> None:
    layer = cls(8, 6, *(() if cls is cvlayers.Linear else (3,)), device="meta")
    layer = layer.to_empty(device="cpu")
    layer.reset_parameters()
    assert layer.weight.dtype == torch.complex64
    assert torch.isfinite(torch.view_as_real(layer.weight)).all()
    assert layer.weight.abs().square().mean().item() > 0


# -- empty inputs ------------------------------------------------------------------------------

EMPTY_INPUTS: list[tuple[str, Any, tuple[int, ...]]] = [
    ("BatchNorm2d eval, no rows", lambda: cvlayers.BatchNorm2d(4).eval(), (2, 4, 0, 8)),
    ("BatchNorm2d eval, no samples", lambda: cvlayers.BatchNorm2d(4).eval(), (0, 4, 8, 8)),
    ("BatchNorm1d eval", lambda: cvlayers.BatchNorm1d(4).eval(), (0, 4)),
    ("GroupNorm, no samples", lambda: cvlayers.GroupNorm(2, 4), (0, 4, 8, 8)),
    ("GroupNorm, no values", lambda: cvlayers.GroupNorm(2, 4), (2, 4, 0)),
    ("LayerNorm", lambda: cvlayers.LayerNorm(4), (0, 4)),
    ("RMSNorm", lambda: cvlayers.RMSNorm(4), (0, 4)),
    ("ModReLU per channel", lambda: cvlayers.ModReLU(num_features=4), (2, 4, 0)),
    ("CPReLU per channel", lambda: cvlayers.CPReLU(num_parameters=4), (2, 4, 0)),
    ("CTanh", cvlayers.CTanh, (0, 3)),
    ("MaxPool2d", lambda: cvlayers.MaxPool2d(2), (0, 4, 8, 8)),
]


@pytest.mark.parametrize(
    ("factory", "shape"), [c[1:] for c in EMPTY_INPUTS], ids=[c[0] for c in EMPTY_INPUTS]
)
def test_empty_inputs_pass_through(factory: Any, shape: tuple[int, ...]) -> None:
    """An empty batch (or spatial extent) gives an empty output and gradient, as in torch.nn.
    Eval-mode BatchNorm on (2, 4, 0, 8) took the kernels with runs of 0 values and killed the
    process (an integer division by zero); GroupNorm on an empty batch could not reshape."""
    module = factory()
    z = torch.randn(shape, dtype=torch.complex64, requires_grad=True)
    out = module(z)
    assert out.numel() == 0 and out.shape[: min(2, len(shape))] == shape[: min(2, len(shape))]
    out.abs().sum().backward()
    assert z.grad is not None and z.grad.shape == z.shape
