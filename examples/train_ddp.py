"""Train the equaliser of ``cvlayers.train`` with DistributedDataParallel, with exact resume.

    torchrun --nproc_per_node=2 examples/train_ddp.py --steps 200 --checkpoint ck.pt
    torchrun --nproc_per_node=2 examples/train_ddp.py --steps 400 --checkpoint ck.pt --resume

Without torchrun it runs as a single process. Each step's batch is drawn from a generator
seeded by (seed, step) and split across ranks, so a run resumed from a checkpoint sees the
same batches as an uninterrupted one: on CPU the final parameters are bit-identical.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
from pathlib import Path

import torch
import torch.distributed as dist

from cvlayers.optim import SGD, Adam
from cvlayers.train.tasks import EqualizerTask


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--steps", type=int, default=200, help="total optimizer steps")
    p.add_argument("--batch-size", type=int, default=128, help="global batch size")
    p.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd")
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--conjugate", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--half", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--checkpoint", type=Path, default=None, help="save here every --save-every steps"
    )
    p.add_argument("--save-every", type=int, default=50)
    p.add_argument("--resume", action="store_true", help="continue from --checkpoint")
    p.add_argument("--stop-after", type=int, default=None, help="stop early (to test resume)")
    p.add_argument("--out", type=Path, default=None, help="write the final parameters here")
    args = p.parse_args()
    if args.resume and args.checkpoint is None:
        p.error("--resume needs --checkpoint")
    return args


def init_distributed() -> tuple[int, int]:
    if "RANK" not in os.environ:  # plain `python examples/train_ddp.py`: one process
        os.environ.update(RANK="0", WORLD_SIZE="1")
        os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
        os.environ.setdefault("MASTER_PORT", "29591")
    dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=60))
    return dist.get_rank(), dist.get_world_size()


def main() -> torch.nn.Module:
    """Train; returns the DDP module, which holds the gloo group (see the end of the file)."""
    args = parse()
    rank, world = init_distributed()
    if args.batch_size % world:
        raise SystemExit(f"--batch-size {args.batch_size} must be divisible by {world} ranks")
    task = EqualizerTask(args.seed, torch.device("cpu"))
    torch.manual_seed(args.seed)
    model = task.make_model()
    ddp = torch.nn.parallel.DistributedDataParallel(model)
    opt_cls = SGD if args.optimizer == "sgd" else Adam
    extra = {"momentum": 0.9} if args.optimizer == "sgd" else {}
    opt = opt_cls(ddp.parameters(), lr=args.lr, conjugate=args.conjugate, half=args.half, **extra)
    start = 0
    if args.resume:
        state = torch.load(args.checkpoint, weights_only=True)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        start = int(state["step"])
    n = task.train.inputs.shape[0]
    stop = args.steps if args.stop_after is None else min(args.steps, args.stop_after)
    for step in range(start, stop):
        gen = torch.Generator().manual_seed(args.seed * 1_000_003 + step)
        batch = torch.randint(0, n, (args.batch_size,), generator=gen).chunk(world)[rank]
        opt.zero_grad()
        loss = task.loss(ddp(task.train.inputs[batch]), task.train.targets[batch])
        loss.backward()
        opt.step()
        done = step + 1
        if (
            rank == 0
            and args.checkpoint is not None
            and (done % args.save_every == 0 or done == stop)
        ):
            torch.save(
                {"model": model.state_dict(), "optimizer": opt.state_dict(), "step": done},
                args.checkpoint,
            )
        if rank == 0 and done % 50 == 0:
            print(f"step {done}: loss {loss.item():.5f}", flush=True)
    if rank == 0:
        print(f"held-out: {task.evaluate(model)}")
        if args.out is not None:
            torch.save([p.detach() for p in model.parameters()], args.out)
    dist.barrier()  # no rank tears the group down while another still communicates
    dist.destroy_process_group()
    return ddp


if __name__ == "__main__":
    # Kept until os._exit below: DDP's reducer holds the last reference to the gloo group after
    # destroy_process_group, and freeing it runs the group's destructor, which joins the gloo
    # worker threads with the GIL held while one of them waits for the GIL to drop a work's
    # thread-local state: a deadlock (traced: ~Reducer -> ~ProcessGroupGloo -> thread::join,
    # against ~ThreadLocalState -> take_gil; ~1 run in 3 under load).
    ddp = main()
    # Leave without the interpreter's teardown. DDP keeps the gloo group (and its worker
    # threads) alive past destroy_process_group, and a work launched during backward holds a
    # Python object in its captured thread-local state (autograd stashes a contextvars copy
    # there): a worker that drops the last such work after finalization has begun must take
    # the GIL, which ends the thread inside a noexcept frame, so std::terminate aborts the
    # rank ("terminate called without an active exception"; ~1 run in 10 under load, traced
    # to ~AsyncBarrierWork -> ~ThreadLocalState -> SafePyObject in a gloo runLoop thread).
    # Everything is written and the group is destroyed by now.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
