"""Launched by tests/test_distributed.py with torchrun (2 gloo processes): trains a small
cvlayers model under DDP or FSDP2 with every optimizer configuration and saves the final
full parameters from rank 0. Not collected by pytest (no test_ prefix)."""

from __future__ import annotations

import argparse
import datetime
import os
import sys

import torch
import torch.distributed as dist

import cvlayers
from cvlayers.losses import ComplexMSELoss
from cvlayers.optim import SGD, Adam

CONFIGS: list[tuple[str, dict[str, object]]] = [
    *[
        ("sgd", {"momentum": 0.9, "conjugate": c, "half": h})
        for c in (True, False)
        for h in (True, False)
    ],
    ("adam", {"moment": "componentwise"}),
    ("adam", {"moment": "modulus", "conjugate": False}),
]
STEPS = 3


def make_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        cvlayers.Linear(4, 8, dtype=torch.complex128),
        cvlayers.ModReLU(num_features=8, bias=-0.1, dtype=torch.float64),
        cvlayers.Linear(8, 2, dtype=torch.complex128),
    )


def data() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(16, 4, dtype=torch.complex128, generator=gen)
    y = torch.randn(16, 2, dtype=torch.complex128, generator=gen)
    return x, y


def make_optimizer(name: str, params: object, options: dict[str, object]) -> torch.optim.Optimizer:
    cls = SGD if name == "sgd" else Adam
    return cls(params, lr=0.05, **options)  # type: ignore[arg-type]


def train(
    model: torch.nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor
) -> None:
    for _ in range(STEPS):
        opt.zero_grad()
        ComplexMSELoss()(model(x), y).backward()
        opt.step()


def full(t: torch.Tensor) -> torch.Tensor:
    return t.full_tensor() if hasattr(t, "full_tensor") else t.detach()


def main() -> torch.nn.Module:
    """Train every config; returns the last wrapped model, which holds the gloo group."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["ddp", "fsdp"], required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=30))
    rank, world = dist.get_rank(), dist.get_world_size()
    assert world == 2, f"launch with --nproc_per_node=2, got world size {world}"
    x, y = data()
    xs, ys = x.chunk(world)[rank], y.chunk(world)[rank]
    results = []
    for name, options in CONFIGS:
        model = make_model()
        if args.mode == "ddp":
            wrapped: torch.nn.Module = torch.nn.parallel.DistributedDataParallel(model)
        else:
            from torch.distributed.device_mesh import init_device_mesh
            from torch.distributed.fsdp import fully_shard

            mesh = init_device_mesh("cpu", (world,))
            for layer in model:
                if isinstance(layer, cvlayers.Linear):
                    fully_shard(layer, mesh=mesh)
            wrapped = fully_shard(model, mesh=mesh)
            # Otherwise the comparison with one process would hold trivially.
            for p in model.parameters():
                assert hasattr(p, "to_local"), f"{name}: parameter not sharded by fully_shard"
                assert p.to_local().numel() < p.numel(), f"{name}: shard is the whole tensor"
        opt = make_optimizer(name, wrapped.parameters(), options)
        train(wrapped, opt, xs, ys)
        results.append([full(p) for p in model.parameters()])
    if rank == 0:
        torch.save(results, args.out)
    dist.barrier()  # both ranks finish their collectives before either tears the group down
    dist.destroy_process_group()
    return wrapped


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    # Kept until os._exit: freeing it after destroy_process_group can deadlock in the gloo
    # group's destructor (see the end of examples/train_ddp.py).
    wrapped = main()
    # Without the interpreter's teardown, where a gloo worker thread that drops a work from a
    # backward can abort the rank (see the end of examples/train_ddp.py).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
