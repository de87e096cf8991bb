"""Forward + backward of Linear, Conv2d and each activation against native torch complex ops,
torchcvnn and complextorch (where installed), all in one process."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch
from torch import nn

import cvlayers
from cvlayers import _compiled as compiled_path

from ._fwdbwd import fwd_bwd, runs, third_party
from ._harness import Case, stream_bandwidth, time_case

ACTIVATIONS = [
    "CReLU",
    "CPReLU",
    "CELU",
    "CCELU",
    "CGELU",
    "CSigmoid",
    "CTanh",
    "ZReLU",
    "ModReLU",
    "ModTanh",
    "ModSigmoid",
    "Cardioid",
    "Mod",
]
# Same concept under another name elsewhere.
ALIASES = {"ZReLU": ["zReLU"], "ModReLU": ["modReLU"], "Cardioid": ["Cardioid", "CVCardiod"]}


def _sizes(quick: bool, device: torch.device) -> tuple[tuple[int, int], tuple[int, int, int], int]:
    """(batch, width) of Linear, (n, c, hw) of Conv2d, and the activations' numel. A GPU gets
    larger shapes: at the CPU's, an H100 step is bound by kernel launches, not by the maths."""
    if quick:
        return (64, 64), (2, 8, 16), 1 << 14
    if device.type == "cuda":
        return (8192, 1024), (32, 32, 128), 1 << 24
    return (1024, 512), (16, 16, 64), 1 << 21


def run(quick: bool = False, device: torch.device | str = "cpu") -> list[Case]:
    device = torch.device(device)
    warnings.filterwarnings("ignore", message="Complex modules are a new feature")
    min_run_time = 0.05 if quick else 0.4
    cases: list[Case] = []
    dtype = torch.complex64
    (batch, width), (n, c, hw), numel = _sizes(quick, device)

    # Linear: cvlayers vs torch.nn.Linear in complex64 (native complex matmul).
    x = torch.randn(batch, width, dtype=dtype, device=device)
    ours = cvlayers.Linear(width, width, device=device)
    native = nn.Linear(width, width, dtype=dtype, device=device)
    cases.append(
        time_case(
            "layers",
            f"Linear {width}->{width}, batch {batch}",
            "torch.nn.Linear(complex64)",
            fwd_bwd(ours, x),
            fwd_bwd(native, x),
            device=device,
            min_run_time=min_run_time,
        )
    )
    other = third_party("complextorch.nn", ["Linear"], width, width)
    if other is not None:
        cases.append(
            time_case(
                "layers",
                f"Linear {width}->{width}, batch {batch}",
                "complextorch Linear",
                fwd_bwd(ours, x),
                fwd_bwd(other.to(device), x),
                device=device,
                min_run_time=min_run_time,
            )
        )

    # Conv2d 3x3.
    img = torch.randn(n, c, hw, hw, dtype=dtype, device=device)
    conv = cvlayers.Conv2d(c, c, 3, padding=1, device=device)
    native_conv = nn.Conv2d(c, c, 3, padding=1, dtype=dtype, device=device)
    shape = f"Conv2d {c}->{c} 3x3 on {n}x{hw}x{hw}"
    cases.append(
        time_case(
            "layers",
            shape,
            "torch.nn.Conv2d(complex64)",
            fwd_bwd(conv, img),
            fwd_bwd(native_conv, img),
            device=device,
            min_run_time=min_run_time,
        )
    )
    other = third_party("complextorch.nn", ["Conv2d"], c, c, 3, padding=1)
    if other is not None:
        cases.append(
            time_case(
                "layers",
                shape,
                "complextorch Conv2d",
                fwd_bwd(conv, img),
                fwd_bwd(other.to(device), img),
                device=device,
                min_run_time=min_run_time,
            )
        )

    # Activations on a flat tensor, against a memory-bound reference and the peers.
    z = torch.randn(numel, dtype=dtype, device=device)
    reference = fwd_bwd(lambda t: t * 2.0, z)
    bandwidth = stream_bandwidth(numel * z.element_size(), device)
    for name in ACTIVATIONS:
        ours_act = getattr(cvlayers, name)().to(device)
        run_ours = fwd_bwd(ours_act, z)
        cases.append(_against_memory_bound(name, run_ours, reference, z, bandwidth, min_run_time))
        for package in ("torchcvnn.nn", "complextorch.nn"):
            peer = third_party(package, ALIASES.get(name, [name]))
            label = f"{package.split('.')[0]} {type(peer).__name__}"
            if peer is None:
                continue
            peer_run = fwd_bwd(peer.to(device), z)
            if runs(peer_run, label):
                case_name = f"{name} fwd+bwd, {numel} elements"
                cases.append(
                    time_case(
                        "layers",
                        case_name,
                        label,
                        run_ours,
                        peer_run,
                        device=device,
                        min_run_time=min_run_time,
                    )
                )
    if not quick and device.type == "cpu":
        cases += _beyond_cache(min_run_time)
    if device.type != "cpu":
        cases += _compiled_against_eager(z, min_run_time)
    cases += _layouts(z, reference, device, min_run_time)
    cases += _compiled(z, device, min_run_time)
    cases += _norms(numel, device, min_run_time)
    return cases


def _against_memory_bound(
    name: str,
    run_ours: Callable[[], None],
    reference: Callable[[], None],
    z: torch.Tensor,
    bandwidth: float,
    min_run_time: float,
    where: str = "",
) -> Case:
    """Activation ``name`` fwd+bwd on ``z`` against ``z * 2``'s (``reference``)."""
    case = time_case(
        "layers",
        f"{name} fwd+bwd, {z.numel()} elements{where}",
        "z * 2 (memory-bound)",
        run_ours,
        reference,
        device=z.device,
        min_run_time=min_run_time,
    )
    # Tensors read or written: ours 2 forward (z, out) + 3 backward (saved, grad, grad_z),
    # z * 2 two each way; as a fraction of the streaming bandwidth, so that a slow or a fast
    # baseline (the machine's load) shows in the row.
    tensor_bytes = z.numel() * z.element_size()
    for key, tensors, seconds in (
        ("bw_fraction", 5, case.candidate_s),
        ("baseline_bw_fraction", 4, case.baseline_s),
    ):
        case.extra[key] = round(tensors * tensor_bytes / seconds / bandwidth, 2)
    return case


# Activations on 128 MB tensors, 4x a 32 MB L3: at the main rows' 16 MB, z * 2's two tensors
# a pass fit the L3 at times while an activation's backward streams three, so that its ratio
# there swings with the cache (1.2-1.4 in one run, 2.0-2.6 in another); here both stream
# from memory, as the target's "memory-bound elementwise op" does.
_BEYOND_CACHE = 1 << 24


def _beyond_cache(min_run_time: float) -> list[Case]:
    z = torch.randn(_BEYOND_CACHE, dtype=torch.complex64)
    reference = fwd_bwd(lambda t: t * 2.0, z)
    bandwidth = stream_bandwidth(z.numel() * z.element_size())
    return [
        _against_memory_bound(
            name,
            fwd_bwd(getattr(cvlayers, name)(), z),
            reference,
            z,
            bandwidth,
            min_run_time,
            ", beyond the L3",
        )
        for name in ACTIVATIONS
    ]


# Activations whose maths cvlayers._compiled fuses off the CPU (forward, backward or both).
COMPILED = ["CPReLU", "CSigmoid", "CTanh", "ZReLU", "ModReLU", "ModTanh", "ModSigmoid", "Cardioid"]


def _compiled_against_eager(z: torch.Tensor, min_run_time: float) -> list[Case]:
    """Off the CPU: each activation with its compiled kernels against its eager torch-op maths
    (``CVLAYERS_COMPILE=0``), in one process."""
    cases = []
    for name in COMPILED:
        module = getattr(cvlayers, name)().to(z.device)
        run = fwd_bwd(module, z)
        cases.append(
            time_case(
                "layers",
                f"{name} fwd+bwd, {z.numel()} elements",
                "its eager maths (CVLAYERS_COMPILE=0)",
                run,
                _without_compiled(run),
                device=z.device,
                min_run_time=min_run_time,
            )
        )
    return cases


def _without_compiled(run: Callable[[], None]) -> Callable[[], None]:
    def eager() -> None:
        with compiled_path.eager():
            run()

    return eager


def _norms(numel: int, device: torch.device, min_run_time: float) -> list[Case]:
    """Normalisation layers, fwd+bwd (eval: forward only, no grad), against torch's real layer
    with twice the channels on a float32 tensor of the same bytes: the same passes over memory
    (complex whitening and power norms do a little more arithmetic per value)."""
    width = 512
    rows = max(numel // width, 2)
    image = (max(numel // (16 * 32 * 32), 2), 16, 32, 32)
    cases = []

    def row(
        name: str,
        ours: nn.Module,
        real: nn.Module,
        shape: tuple[int, ...],
        eval_mode: bool = False,
        channels_last: bool = False,
    ) -> None:
        z = torch.randn(shape, dtype=torch.complex64, device=device) * (2 + 1j) + 1
        x = torch.randn(shape[0], 2 * shape[1], *shape[2:], device=device)
        if channels_last:
            z = z.contiguous(memory_format=torch.channels_last)
            x = x.contiguous(memory_format=torch.channels_last)
        ours, real = ours.to(device), real.to(device)
        if eval_mode:
            ours.eval(), real.eval()
        run_ours = _no_grad(ours, z) if eval_mode else fwd_bwd(ours, z)
        run_real = _no_grad(real, x) if eval_mode else fwd_bwd(real, x)
        what = "forward, eval" if eval_mode else "fwd+bwd"
        cases.append(
            time_case(
                "layers",
                f"{name} {what} on {tuple(shape)}",
                f"torch.nn.{type(real).__name__}, same bytes",
                run_ours,
                run_real,
                device=device,
                min_run_time=min_run_time,
            )
        )

    row("BatchNorm1d", cvlayers.BatchNorm1d(width), nn.BatchNorm1d(2 * width), (rows, width))
    # A small batch (an MLP's): the per-step overhead, not the passes over memory, shows.
    row("BatchNorm1d", cvlayers.BatchNorm1d(256), nn.BatchNorm1d(512), (64, 256))
    row("BatchNorm2d", cvlayers.BatchNorm2d(16), nn.BatchNorm2d(32), image)
    bn2d = cvlayers.BatchNorm2d(16)
    row("BatchNorm2d channels last", bn2d, nn.BatchNorm2d(32), image, channels_last=True)
    row("BatchNorm2d", cvlayers.BatchNorm2d(16), nn.BatchNorm2d(32), image, eval_mode=True)
    row("LayerNorm(512)", cvlayers.LayerNorm(width), nn.LayerNorm(2 * width), (rows, width))
    row("GroupNorm(4, 16)", cvlayers.GroupNorm(4, 16), nn.GroupNorm(4, 32), image)
    row("RMSNorm(512)", cvlayers.RMSNorm(width), nn.RMSNorm(2 * width), (rows, width))
    return cases


def _no_grad(module: nn.Module, x: torch.Tensor) -> Callable[[], None]:
    def run() -> None:
        with torch.no_grad():
            module(x)

    return run


def _layouts(
    z: torch.Tensor, reference: Callable[[], None], device: torch.device, min_run_time: float
) -> list[Case]:
    """Activations as a model meets them, on ``z``'s numel: a bias per feature after Linear
    (on the fastest dimension), against z * 2; channels last after a conv, against the same
    module on the contiguous input."""
    width = 512
    features = z.reshape(-1, width)
    per_feature = cvlayers.ModReLU(num_features=width, bias=-0.1).to(device)
    cases = [
        time_case(
            "layers",
            f"ModReLU(num_features={width}) fwd+bwd on {tuple(features.shape)}",
            "z * 2 (memory-bound)",
            fwd_bwd(per_feature, features),
            reference,
            device=device,
            min_run_time=min_run_time,
        )
    ]
    image = z.reshape(-1, 16, 16, 16)
    channels_last = image.contiguous(memory_format=torch.channels_last)
    for module in (cvlayers.CReLU(), cvlayers.ModReLU(num_features=16), cvlayers.Cardioid()):
        module = module.to(device)
        cases.append(
            time_case(
                "layers",
                f"{type(module).__name__} fwd+bwd, channels last {tuple(image.shape)}",
                "the same, contiguous",
                fwd_bwd(module, channels_last),
                fwd_bwd(module, image),
                device=device,
                min_run_time=min_run_time,
            )
        )
    return cases


def _compiled(z: torch.Tensor, device: torch.device, min_run_time: float) -> list[Case]:
    """Activations in a ``torch.compile``d graph against the same modules in eager mode: on CPU
    the graph calls the fused kernels as custom ops (Inductor has no complex code of its own)."""
    cases = []
    for name in ("CReLU", "ModReLU", "Cardioid"):
        module = getattr(cvlayers, name)().to(device)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Torchinductor does not support code generation")
            compiled = fwd_bwd(torch.compile(module), z)
            if not runs(compiled, f"compiled {name}"):  # compiles, then warm
                continue
        cases.append(
            time_case(
                "layers",
                f"{name} fwd+bwd under torch.compile, {z.numel()} elements",
                "the same module, eager",
                compiled,
                fwd_bwd(module, z),
                device=device,
                min_run_time=min_run_time,
            )
        )
    return cases
