"""Data-parallel training under ``torchrun``: the process group from the environment, and the DDP wrapper.

``torchrun --nproc_per_node N -m flows.cli train --profile P`` (any script calling :func:`train`) sets ``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``; :func:`setup` joins the
group with NCCL on CUDA and gloo on the CPU. A process started without ``WORLD_SIZE > 1`` trains
alone and nothing here does any communication. Rank 0 alone writes checkpoints, history and the
inference file; every rank reads the same ``last.pth`` on resume, so the checkpoint folder must be
on a file system all ranks see.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from vosvfi_core.errors import VosvfiError

__all__ = ["Distributed", "TrainingForward", "distributed", "wrap_for_training"]


@dataclass(frozen=True)
class Distributed:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def device(self, device: torch.device) -> torch.device:
        """One GPU per process on a node (``LOCAL_RANK``); the CPU is shared."""
        return torch.device("cuda", self.local_rank) if device.type == "cuda" and self.enabled else device

    def mean(self, values: dict[str, float], device: torch.device) -> dict[str, float]:
        """Each value averaged over the ranks (every rank must call this at the same step)."""
        if not self.enabled or not values:
            return values
        stacked = torch.tensor(list(values.values()), dtype=torch.float64, device=device)
        dist.all_reduce(stacked)
        return dict(zip(values, (stacked / self.world_size).tolist()))

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise VosvfiError(f"environment variable {name} must be an integer, got {raw!r}") from None


@contextlib.contextmanager
def distributed(device: torch.device) -> Iterator[Distributed]:
    """The process's place in the group; joins (and finally leaves) it when ``WORLD_SIZE > 1`` and it is not joined yet."""
    world_size = _env_int("WORLD_SIZE", 1)
    if world_size <= 1:
        yield Distributed()
        return
    rank, local_rank = _env_int("RANK", 0), _env_int("LOCAL_RANK", 0)
    joined_here = not dist.is_initialized()
    if joined_here:
        if device.type == "cuda":
            torch.cuda.set_device(local_rank)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", rank=rank, world_size=world_size)
    elif dist.get_world_size() != world_size:
        raise VosvfiError(f"WORLD_SIZE is {world_size} but the process group has {dist.get_world_size()} processes")
    try:
        yield Distributed(rank=rank, world_size=world_size, local_rank=local_rank)
    finally:
        if joined_here:
            dist.destroy_process_group()


class TrainingForward(nn.Module):
    """``forward`` is the network's ``forward_train``: DDP synchronises gradients only through a module's ``forward``."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, frame0: torch.Tensor, frame2: torch.Tensor) -> object:
        return self.network.forward_train(frame0, frame2)


def wrap_for_training(network: nn.Module, place: Distributed, device: torch.device) -> nn.Module:
    """A module whose call runs ``network.forward_train``; under DDP, gradients are averaged over the ranks in ``backward``."""
    forward = TrainingForward(network)
    if not place.enabled:
        return forward
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(forward, device_ids=[device.index] if device.type == "cuda" else None)
