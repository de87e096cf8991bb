"""What autocast does with complex parameters, and a clear error for complex32 (chalf)."""

from __future__ import annotations

import pytest
import torch

import cvlayers


def test_autocast_leaves_complex_layers_in_full_precision() -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(cvlayers.Linear(4, 8), cvlayers.ModReLU(), cvlayers.Linear(8, 2))
    head = torch.nn.Linear(4, 2)  # a real layer in the same autocast region
    x = torch.randn(3, 4, dtype=torch.complex64)
    reference = model(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(x)
        real_out = head(torch.randn(3, 4))
    assert out.dtype == torch.complex64
    assert torch.equal(out, reference)  # autocast does not touch complex ops
    assert real_out.dtype == torch.bfloat16  # ... while real ones are cast as usual


@pytest.mark.parametrize(
    "make",
    [
        lambda: cvlayers.Linear(2, 2, dtype=torch.complex32),
        lambda: cvlayers.Conv2d(1, 1, 3, dtype=torch.complex32),
        lambda: cvlayers.BatchNorm1d(2, dtype=torch.complex32),
    ],
)
def test_complex32_is_refused_clearly(make: object) -> None:
    with pytest.raises(ValueError, match=r"complex32 \(chalf\) is not supported"):
        make()  # type: ignore[operator]


def test_complex32_input_is_a_dtype_error() -> None:
    with pytest.raises(TypeError, match=r"complex32 but this layer is torch\.complex64"):
        cvlayers.Linear(2, 2)(torch.zeros(1, 2, dtype=torch.complex32))
