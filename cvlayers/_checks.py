"""Input validation shared by every module: clear errors instead of silent wrong answers."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["REAL_DTYPE", "check_complex", "complex_dtype", "parameter_dtype", "real_for"]

# The dtype of the real and imaginary parts of each supported complex dtype.
REAL_DTYPE = {torch.complex64: torch.float32, torch.complex128: torch.float64}


def complex_dtype(dtype: torch.dtype | None, name: str = "dtype") -> torch.dtype:
    """``dtype`` if it is complex (``None`` means complex64), else a ``ValueError``."""
    if dtype is None:
        return torch.complex64
    if not dtype.is_complex:
        raise ValueError(
            f"{name} must be a complex dtype (torch.complex64 or torch.complex128), got {dtype}"
        )
    if dtype == torch.complex32:
        raise ValueError(
            f"{name}=torch.complex32 (chalf) is not supported: most complex kernels lack it; "
            "use torch.complex64"
        )
    return dtype


def parameter_dtype(dtype: torch.dtype | None, name: str = "dtype") -> torch.dtype | None:
    """The dtype of a real parameter (ModReLU's bias, CPReLU's slopes) asked for as ``dtype``:
    a real floating dtype as is, a complex one as the dtype of its parts (the precision of the
    inputs the layer will take, as for the other layers' ``dtype``), ``None`` as is (torch's
    default); anything else a ``ValueError``."""
    if dtype is None or dtype in REAL_DTYPE.values():
        return dtype
    if dtype.is_complex:
        return REAL_DTYPE[complex_dtype(dtype, name)]
    raise ValueError(
        f"{name} must be torch.float32/float64 (the parameter's) or torch.complex64/complex128 "
        f"(the input's), got {dtype}"
    )


def check_complex(x: Tensor, name: str = "input", dtype: torch.dtype | None = None) -> None:
    """Raise ``TypeError`` unless ``x`` is complex (and of ``dtype`` when given)."""
    expected = dtype if dtype is not None else torch.complex64
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_complex():
        raise TypeError(
            f"{name} must be a complex tensor ({expected}), got {x.dtype}; convert it with "
            f"{name}.to({expected}) or cvlayers.RealToComplex()"
        )
    if dtype is not None and x.dtype != dtype:
        raise TypeError(f"{name} has dtype {x.dtype} but this layer is {dtype}; use .to({dtype})")


def real_for(t: Tensor, z: Tensor) -> Tensor:
    """Real parameter ``t`` in the dtype of the parts of complex ``z``: ``t`` itself where it
    already is (or where ``z`` is not complex, which the caller's check then reports)."""
    dtype = REAL_DTYPE.get(z.dtype)
    return t if dtype is None or t.dtype == dtype else t.to(dtype)
