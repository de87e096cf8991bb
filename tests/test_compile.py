"""torch.compile on a small complex CNN built only from cvlayers modules."""

from __future__ import annotations

import pytest
import torch
import torch._dynamo

import cvlayers


def _cnn() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        cvlayers.Conv2d(1, 4, 3, padding=1),
        cvlayers.BatchNorm2d(4),
        cvlayers.CReLU(),
        cvlayers.MaxPool2d(2),
        cvlayers.Conv2d(4, 4, 3, padding=1),
        cvlayers.ModReLU(num_features=4, bias=-0.1),
        cvlayers.AvgPool2d(2),
        torch.nn.Flatten(),
        cvlayers.Linear(16, 3),
        cvlayers.Cardioid(),
    )


@pytest.mark.filterwarnings("ignore:Torchinductor does not support code generation for complex")
def test_compiled_cnn_matches_eager_forward_and_backward() -> None:
    x = torch.randn(8, 1, 8, 8, dtype=torch.complex64)
    eager, compiled = _cnn(), _cnn()
    compiled.load_state_dict(eager.state_dict())
    run = torch.compile(compiled)  # default backend (inductor)
    out_eager, out_compiled = eager(x), run(x)
    torch.testing.assert_close(out_compiled, out_eager, rtol=1e-5, atol=1e-6)
    out_eager.abs().sum().backward()
    out_compiled.abs().sum().backward()
    for a, b in zip(eager.parameters(), compiled.parameters(), strict=True):
        assert a.grad is not None and b.grad is not None
        torch.testing.assert_close(b.grad, a.grad, rtol=1e-4, atol=1e-5)


def test_cnn_has_no_graph_breaks() -> None:
    torch._dynamo.reset()
    explanation = torch._dynamo.explain(_cnn())(torch.randn(2, 1, 8, 8, dtype=torch.complex64))
    assert explanation.graph_break_count == 0, explanation.break_reasons
    assert explanation.graph_count == 1
