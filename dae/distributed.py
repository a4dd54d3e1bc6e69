"""Data-parallel training with torch.distributed: the launch (`train.nproc` processes under torchrun) and what the
training loop asks of it (which rank this is, the model wrapped in DistributedDataParallel, a loss summed over ranks).

Every rank draws the same seeded batch order; in each step rank r takes the r-th slice of `world * batch_size`
images, so `train.batch_size` is per process and one step sees `nproc` times as many images. The learning rate is
used as given. With one process the batches, the gradients and the weights are those of the plain path, bit for bit.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import torch
import torch.distributed as dist
from torch import nn

from dae.errors import DaeError


def launched() -> bool:
    """Whether this process is one of torchrun's workers."""
    return "LOCAL_RANK" in os.environ and "WORLD_SIZE" in os.environ


def launch(nproc: int, module: str, args: list[str]) -> bool:
    """Run `python -m module args` as `nproc` torchrun workers on this machine; False (run in this process) when
    nproc is 0 or this already is a worker. A failed worker raises one line naming its rank and its own error line,
    or its exit code or signal.

    For several machines, start `torchrun --nnodes N --rdzv-endpoint HOST:PORT ... -m <module> <args>` on each
    yourself: the workers read the same environment variables.
    """
    if nproc == 0 or launched():
        return False
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}", "-m", module]
    proc = subprocess.run([*cmd, *args], capture_output=True, text=True)
    sys.stdout.write(proc.stdout)
    if proc.returncode != 0:
        raise DaeError(f"training with {nproc} torchrun processes failed: {_failure(proc.stderr, proc.returncode)}")
    sys.stderr.write(proc.stderr)
    return True


def _failure(log: str, code: int) -> str:
    """The failed rank from torchrun's summary ("rank : 1 ... exitcode : -9") with its signal, or with the worker's
    own error line when it stopped on one (exit code 2: a DaeError says what to change), else with its exit code.
    A rank that exited 2 is named before torchrun's root cause: the other rank may have failed first only because it
    lost its connection to that one."""
    errors = [line.removeprefix("error: ") for line in log.splitlines() if line.startswith("error: ")]
    summary = log[max(log.rfind("Failures:"), 0) :]  # not the workers' own output above it
    others, named, root = summary.partition("Root Cause")
    if not named:  # no root cause in the summary: each of its entries stands as one
        others, root = "", others
    failed = r"rank\s*:\s*(\d+)[^\n]*\n(?:[^\n]*\n){0,3}?[^\n]*exitcode\s*:\s*(-?\d+)"
    # pipeline._stage.run exits 2 after its one `error:` line; a traceback exits 1. (A rank SIGTERMed by torchrun
    # after its line reads -15, and the root cause is named then.)
    at_root = re.findall(failed, root)
    stopped = [rank for rank, exitcode in at_root + re.findall(failed, others) if exitcode == "2"]
    if stopped and errors:
        return f"rank {stopped[0]}: {errors[-1]}"
    if not at_root:
        return errors[-1] if errors else f"torchrun exited with code {code}"
    rank, exitcode = at_root[0][0], int(at_root[0][1])
    how = f"killed by signal {-exitcode}" if exitcode < 0 else f"exited with code {exitcode}"
    return f"rank {rank} {how}; no output was written, rerun the stage"


def setup(device: torch.device) -> torch.device:
    """Join the process group when launched by torchrun (gloo on the CPU, NCCL on CUDA); each CUDA rank gets the
    GPU of its local rank. Returns the device this rank trains on."""
    if not launched() or dist.is_initialized():
        return device
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return device


def rank_and_world() -> tuple[int, int]:
    return (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)


def is_main() -> bool:
    """Rank 0, the one process that writes outputs (every process, without torchrun)."""
    return rank_and_world()[0] == 0


class _Logits(nn.Module):
    """The model's training forward (logits) as `forward`, which is what DistributedDataParallel wraps."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.logits(x)


def wrap(model: nn.Module, device: torch.device) -> nn.Module:
    """The logits forward under DistributedDataParallel, which averages the gradients of all ranks in backward."""
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(_Logits(model), device_ids=ids)


def sum_over_ranks(value: torch.Tensor) -> torch.Tensor:
    if dist.is_initialized():
        dist.all_reduce(value)
    return value


def teardown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()
