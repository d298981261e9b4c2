"""Which samples each optimiser step reads, and with which random augmentation: a function of the step alone.

The global batch of step ``s`` is a slice of a permutation seeded by ``(seed, epoch)``; each item's
random crop, flips and reversal are seeded by ``(seed, step, slot)``, its position in the global
batch. So a run resumed at step ``s`` reads exactly what an uninterrupted run reads from ``s`` on,
and under ``torchrun`` rank ``r`` of ``n`` takes slots ``[r·b, (r+1)·b)`` of a global batch of
``n·b``: the ranks read disjoint samples, augmented as a one-process run with batch ``n·b`` would.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

__all__ = ["Address", "SeededItems", "batch_addresses", "seed_everything"]

Address = tuple[int, int, int]  # (step, slot in the global batch, sample index)


def seed_everything(*parts: int) -> None:
    seed = hash(parts) & 0x7FFFFFFF  # tuple-of-int hashing does not depend on PYTHONHASHSEED
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class SeededItems(Dataset):
    """Items addressed as ``(step, slot, index)``; the augmentation RNGs are seeded from the address."""

    def __init__(self, dataset: Dataset, seed: int) -> None:
        self.dataset = dataset
        self.seed = seed

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, address: Address) -> dict[str, Any]:
        step, slot, index = address
        seed_everything(self.seed, step, slot)
        return self.dataset[index]


def batch_addresses(
    seed: int, samples: int, batch: int, per_epoch: int, start: int, total: int, *, rank: int = 0, world_size: int = 1
) -> Iterator[list[Address]]:
    """Rank ``rank``'s addresses for steps ``start .. total - 1``: ``batch`` of the ``batch · world_size`` per step."""
    global_batch = batch * world_size
    order: torch.Tensor | None = None
    for step in range(start, total):
        epoch, position = divmod(step, per_epoch)
        if order is None or position == 0:
            order = torch.randperm(samples, generator=torch.Generator().manual_seed(hash((seed, epoch)) & 0x7FFFFFFF))
        indices = order[position * global_batch : (position + 1) * global_batch].tolist()
        yield [(step, slot, index) for slot, index in enumerate(indices)][rank * batch : (rank + 1) * batch]
