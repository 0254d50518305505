"""Training on several processes or machines with PyTorch's own engine, ``torch.distributed``.

``torchrun --nproc-per-node=N -m multigen train ...`` starts N copies of the ordinary CLI; torchrun sets
``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE`` and the rendezvous address in their environment.
``process_group`` reads them, joins the group with the backend that fits the device (``nccl`` on CUDA,
``gloo`` on the CPU) and leaves it on exit. The trainer wraps each trained network in
``DistributedDataParallel``, so gradients are averaged across processes after every backward pass.

How the work is split (``Shard``): ``--batch-size`` is the *global* batch. Every process walks the same
seeded epoch order (the ``set_epoch`` of ``DistributedSampler``: a new permutation from (seed, epoch)),
cuts each global batch into N equal slices and trains on its own slice; the noise a model draws is
likewise the process's slice of the noise one process would draw for the whole batch. The gradients
averaged by DDP are then those of the whole batch, so a run on N processes follows the path of a run on
one (up to float rounding), the learning rate needs no rescaling, and ``--resume`` works with any N.
Two exceptions: BatchNorm statistics are per process on the CPU (``SyncBatchNorm`` needs CUDA; on CUDA the
networks are converted to it), and dropout masks are drawn per process.

Only rank 0 draws samples, measures, logs and writes checkpoints; every process reads the checkpoint it
resumes from, so on several machines it must be at the same path on each (a shared folder).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist

from multigen.device import resolve_device
from multigen.errors import MultigenError

# How long a process waits in a collective for the others (e.g. while rank 0 measures an epoch's FID)
# before giving up; torchrun stops the rest of the group when one process fails.
TIMEOUT = timedelta(minutes=30)


@dataclass(frozen=True)
class Shard:
    """This process's place in the group: it trains rows ``[rank * n, (rank + 1) * n)`` of every global batch."""

    rank: int = 0  # 0 .. world_size - 1; rank 0 logs and saves
    world_size: int = 1  # number of processes
    local_rank: int = 0  # rank on this machine: which GPU it uses
    backend: str = ""  # gloo or nccl; "" for a single process

    @property
    def is_main(self) -> bool:
        """True for the process that logs, samples and writes checkpoints."""
        return self.rank == 0

    def check_batch(self, batch_size: int) -> int:
        """Rows per process of a global batch; a one-line error when it does not split evenly."""
        if batch_size % self.world_size:
            raise MultigenError(
                f"The batch size {batch_size} does not split evenly over {self.world_size} processes: "
                f"use a multiple of {self.world_size} (it is the global batch, shared by all processes)."
            )
        return batch_size // self.world_size

    def rows(self, batch: torch.Tensor) -> torch.Tensor:
        """This process's slice of a global batch (of row indices or of anything else)."""
        n = batch.shape[0] // self.world_size
        return batch[self.rank * n : (self.rank + 1) * n]

    def randn(self, n: int, dim: int, *, generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
        """Standard normal noise for this process's ``n`` rows: its slice of the global batch's noise.

        Every process draws the noise of the whole batch from the same seeded generator and keeps its
        slice, so the run does not depend on the number of processes (and the generators stay in step).
        """
        noise = torch.randn((n * self.world_size, dim), generator=generator, device=device)
        return self.rows(noise)

    def rand(self, n: int, dim: int, *, generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
        """Uniform [0, 1) numbers for this process's ``n`` rows, drawn like ``randn``."""
        return self.rows(torch.rand((n * self.world_size, dim), generator=generator, device=device))


SINGLE_PROCESS = Shard()


def world_size_from_environment() -> int:
    """The number of processes torchrun started (1 when it did not)."""
    try:
        return int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        raise MultigenError(f"WORLD_SIZE={os.environ['WORLD_SIZE']!r} is not a number: launch with torchrun.") from None


def process_device(device: str | torch.device, shard: Shard) -> torch.device:
    """The device this process trains on: with several processes on CUDA, the GPU of its local rank."""
    resolved = resolve_device(device)
    if shard.world_size > 1 and resolved.type == "cuda" and resolved.index is None:
        count = torch.cuda.device_count()
        if shard.local_rank >= count:
            raise MultigenError(
                f"Process {shard.local_rank} of this machine has no GPU of its own ({count} here): "
                f"start at most {count} processes per machine (--nproc-per-node={count})."
            )
        return torch.device("cuda", shard.local_rank)
    return resolved


@contextmanager
def process_group(device: str | torch.device = "auto") -> Iterator[Shard]:
    """Join the process group torchrun described in the environment, yield this process's ``Shard``, leave it.

    Without torchrun (``WORLD_SIZE`` unset or 1) it yields ``SINGLE_PROCESS`` and does nothing else.
    """
    world_size = world_size_from_environment()
    if world_size <= 1:
        yield SINGLE_PROCESS
        return
    if dist.is_initialized():  # joined already (e.g. by a caller that set the group up itself)
        yield Shard(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")), dist.get_backend())
        return
    resolved = resolve_device(device)
    if resolved.type == "mps":
        raise MultigenError("Apple MPS has no torch.distributed backend: train on several processes with --device cpu.")
    backend = "nccl" if resolved.type == "cuda" else "gloo"
    try:
        shard = Shard(int(os.environ["RANK"]), world_size, int(os.environ.get("LOCAL_RANK", "0")), backend)
        if backend == "nccl":
            torch.cuda.set_device(process_device(resolved, shard))
        dist.init_process_group(backend, timeout=TIMEOUT)
    except (KeyError, ValueError, RuntimeError) as error:
        reason = f"{error} is not set" if isinstance(error, KeyError) else str(error).splitlines()[0][:160]
        raise MultigenError(
            f"Could not join the group of {world_size} processes ({reason}): start them with torchrun, "
            "e.g. `torchrun --nproc-per-node=2 -m multigen train ...`, or unset WORLD_SIZE for one process."
        ) from None
    try:
        yield shard
    finally:
        dist.destroy_process_group()


def wrap(network: torch.nn.Module, shard: Shard, device: torch.device) -> torch.nn.Module:
    """``network`` inside ``DistributedDataParallel`` (itself for one process); parameters stay shared."""
    if shard.world_size <= 1:
        return network
    if device.type == "cuda":
        # Batch statistics over the whole global batch, as on one process.
        network = torch.nn.SyncBatchNorm.convert_sync_batchnorm(network)
        return torch.nn.parallel.DistributedDataParallel(network, device_ids=[device])
    return torch.nn.parallel.DistributedDataParallel(network)


def lost_peer(error: BaseException) -> bool:
    """True for the error a collective raises in one process when another process of the group died."""
    if isinstance(error, dist.DistNetworkError):
        return True
    text = str(error)
    return isinstance(error, RuntimeError) and any(
        sign in text for sign in ("Connection closed by peer", "Connection reset by peer", "Broken pipe", "timed out")
    )


def average(values: torch.Tensor, shard: Shard) -> torch.Tensor:
    """The mean of ``values`` over all processes (``values`` itself for one process)."""
    if shard.world_size <= 1:
        return values
    values = values.clone()
    dist.all_reduce(values)
    return values / shard.world_size


def broadcast(values: torch.Tensor, shard: Shard) -> torch.Tensor:
    """Rank 0's ``values`` in every process (``values`` itself for one process)."""
    if shard.world_size > 1:
        dist.broadcast(values, src=0)
    return values


def share_buffers(module: torch.nn.Module, shard: Shard) -> None:
    """Copy rank 0's buffers (BatchNorm running statistics) to every process.

    DDP averages gradients, so parameters agree everywhere, but running statistics are updated from each
    process's own slice; DDP sends rank 0's at the start of every forward pass. Sharing them before a
    save leaves every process with exactly the weights rank 0 writes.
    """
    if shard.world_size <= 1:
        return
    for buffer in module.buffers():
        dist.broadcast(buffer, src=0)
