r"""Independent oracles for tests of complex gradients (shipped so users can test their code).

:func:`check_module` runs the checks cvlayers' own layers pass on a user's complex layer.
:func:`finite_difference_wirtinger` differentiates by central differences on the real and
imaginary parts separately, in float64, with no autograd involved:

.. math::
    \partial_x f \approx \frac{f(z+h) - f(z-h)}{2h}, \quad
    \partial_y f \approx \frac{f(z+ih) - f(z-ih)}{2h}, \quad
    \frac{\partial f}{\partial \bar z} = \tfrac12(\partial_x f + i\,\partial_y f), \quad
    \frac{\partial f}{\partial z} = \tfrac12(\partial_x f - i\,\partial_y f).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

__all__ = ["check_module", "finite_difference_wirtinger", "torch_grad_from_wirtinger"]


def finite_difference_wirtinger(
    fn: Callable[..., Tensor], inputs: Sequence[Tensor], eps: float = 1e-6
) -> tuple[tuple[Tensor, ...], tuple[Tensor, ...]]:
    r"""``(df/dz, df/dz*)`` of a scalar ``fn(*inputs)`` by float64 central differences:
    :math:`\partial f/\partial z = \tfrac12(\partial_x f - i\,\partial_y f)` and
    :math:`\partial f/\partial \bar z = \tfrac12(\partial_x f + i\,\partial_y f)`, each
    partial :math:`(f(\cdot + h) - f(\cdot - h))/2h` (see the module doc).

    ``inputs`` are complex tensors (they are promoted to complex128); ``fn`` may return a real
    or complex scalar. Cost: four calls of ``fn`` per input element.

    Example:
        >>> z = torch.tensor([1 + 2j], dtype=torch.complex128)
        >>> d_dz, d_dzc = finite_difference_wirtinger(lambda z: (z * z).sum(), [z])
        >>> torch.allclose(d_dz[0], 2 * z), d_dzc[0].abs().max().item() < 1e-8
        (True, True)
    """
    points = [t.detach().to(torch.complex128).clone() for t in inputs]
    d_dz: list[Tensor] = []
    d_dzconj: list[Tensor] = []

    def value() -> Tensor:
        with torch.no_grad():
            return fn(*points).to(torch.complex128).reshape(())

    for z in points:
        dz = torch.zeros_like(z)
        dzc = torch.zeros_like(z)
        flat, flat_dz, flat_dzc = z.view(-1), dz.view(-1), dzc.view(-1)
        for i in range(flat.numel()):
            partials = []
            for step in (eps, 1j * eps):
                original = flat[i].clone()
                flat[i] = original + step
                plus = value()
                flat[i] = original - step
                minus = value()
                flat[i] = original
                partials.append((plus - minus) / (2 * eps))
            f_x, f_y = partials
            flat_dzc[i] = (f_x + 1j * f_y) / 2
            flat_dz[i] = (f_x - 1j * f_y) / 2
        d_dz.append(dz)
        d_dzconj.append(dzc)
    return tuple(d_dz), tuple(d_dzconj)


def torch_grad_from_wirtinger(d_dzconj: Tensor) -> Tensor:
    r"""What PyTorch stores in ``.grad`` for a real loss:
    :math:`\partial L/\partial x + i\,\partial L/\partial y = 2\,\partial L/\partial \bar z`.

    Example:
        >>> torch_grad_from_wirtinger(torch.tensor([1 - 2j]))
        tensor([2.-4.j])
    """
    return 2 * d_dzconj


def check_module(module: nn.Module, input: Tensor, *, at_zero: bool = True) -> None:
    r"""Check a complex layer as cvlayers checks its own; raise ``AssertionError`` naming the
    first property that fails.

    1. Forward and backward on ``input`` (with a random upstream gradient) give a finite
       output and finite gradients for the input and every parameter.
    2. With ``at_zero``, so do they on ``z = 0``, where :math:`|z|` and :math:`z/|z|` formulas
       give NaN unless their limit is taken.
    3. A copy whose state was overwritten, then loaded from
       :meth:`~torch.nn.Module.state_dict`, gives the same output.
    4. ``torch.autograd.gradcheck`` in double precision (complex128, real tensors float64),
       with respect to the input and the parameters: PyTorch's gradient
       :math:`\partial L/\partial x + i\,\partial L/\partial y = 2\,\partial L/\partial \bar z`
       against finite differences.

    Each call of ``module`` starts from the same random seed (a dropout mask repeats); the
    caller's random state is restored after. Copies run every check, so ``module`` is not
    changed. The gradient check costs a few forward passes per input and parameter
    element: pass a small ``input``.

    Example:
        >>> import cvlayers
        >>> check_module(cvlayers.ModReLU(bias=-0.5), torch.randn(3, 4, dtype=torch.complex64))
        >>> class Phase(torch.nn.Module):
        ...     def forward(self, z):
        ...         return z / z.abs()
        >>> check_module(Phase(), torch.randn(3, dtype=torch.complex64))
        Traceback (most recent call last):
        ...
        AssertionError: the output is not finite at z = 0
    """
    if not input.is_complex():
        raise TypeError(f"input must be a complex tensor, got {input.dtype}")
    devices = [input.device] if input.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):  # (the caller's random state is kept)
        _check_finite(module, input, "")
        if at_zero:
            _check_finite(module, torch.zeros_like(input), " at z = 0")
        _check_state_dict(module, input)
        _check_gradients(module, input)


def _check_state_dict(module: nn.Module, input: Tensor) -> None:
    """A copy whose state was overwritten, then loaded from ``module.state_dict()``, gives
    ``module``'s output."""
    rebuilt = copy.deepcopy(module)
    with torch.no_grad():
        for t in rebuilt.state_dict().values():
            if t.is_floating_point() or t.is_complex():
                t.add_(1)
    rebuilt.load_state_dict(module.state_dict())
    if not torch.equal(_seeded(copy.deepcopy(module), input), _seeded(rebuilt, input)):
        raise AssertionError("a copy loaded from state_dict() gives another output")


def _check_gradients(module: nn.Module, input: Tensor) -> None:
    """torch.autograd.gradcheck of a complex128 copy, input and parameters."""
    double: nn.Module = copy.deepcopy(module)._apply(_in_double)  # type: ignore[no-untyped-call]
    trained = [(name, p) for name, p in double.named_parameters() if p.requires_grad]
    names = [name for name, _ in trained]
    params = [p.detach().requires_grad_(True) for _, p in trained]
    z = input.detach().to(torch.complex128).requires_grad_(True)

    def call(z: Tensor, *values: Tensor) -> Tensor:
        torch.manual_seed(0)
        state = dict(zip(names, values, strict=True))
        out: Tensor = torch.func.functional_call(double, state, (z,))
        return out

    if not torch.autograd.gradcheck(call, (z, *params), raise_exception=False):
        raise AssertionError(
            "gradcheck failed: the gradient does not match finite differences in complex128"
        )


def _seeded(module: nn.Module, input: Tensor) -> Tensor:
    torch.manual_seed(0)
    with torch.no_grad():
        out: Tensor = module(input)
    return out


def _check_finite(module: nn.Module, input: Tensor, where: str) -> None:
    """Forward and backward of ``module`` on ``input``: finite output and gradients."""
    work = copy.deepcopy(module)
    z = input.detach().clone().requires_grad_(True)
    torch.manual_seed(0)
    out = work(z)
    if not isinstance(out, Tensor):
        raise TypeError(f"module must return one tensor, got {type(out).__name__}")
    if not _finite(out):
        raise AssertionError(f"the output is not finite{where}")
    torch.autograd.backward(out, torch.randn_like(out))
    if z.grad is None or not _finite(z.grad):
        raise AssertionError(f"the input gradient is not finite{where}")
    for name, p in work.named_parameters():
        if p.grad is not None and not _finite(p.grad):
            raise AssertionError(f"the gradient of {name} is not finite{where}")


def _finite(t: Tensor) -> bool:
    t = t.resolve_conj().resolve_neg()
    return bool(torch.isfinite(torch.view_as_real(t) if t.is_complex() else t).all())


def _in_double(t: Tensor) -> Tensor:
    """A complex tensor in complex128, a real floating one in float64, others as they are."""
    if t.is_complex():
        return t.to(torch.complex128)
    return t.double() if t.is_floating_point() else t
