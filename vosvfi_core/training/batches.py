"""Which samples each optimiser step reads, and with which random augmentation: a function of the step alone.

The global batch of step ``s`` is a slice of a permutation seeded by ``(seed, epoch)``; each item's
random crop, flips and reversal are seeded by ``(seed, step, slot)``, its position in the global
batch. So a run resumed at step ``s`` reads exactly what an uninterrupted run reads from ``s`` on,
and under ``torchrun`` rank ``r`` of ``n`` takes slots ``[r·b, (r+1)·b)`` of a global batch of
``n·b``: the ranks read disjoint samples, augmented as a one-process run with batch ``n·b`` would.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import Dataset

from vosvfi_core.training.determinism import seed_from, seeded_rngs

__all__ = ["Address", "SeededItems", "batch_addresses"]

Address = tuple[int, int, int]  # (step, slot in the global batch, sample index)


class SeededItems(Dataset):
    """Items addressed as ``(step, slot, index)``; the global RNGs the augmentation draws from are seeded from the address."""

    def __init__(self, dataset: Dataset, seed: int) -> None:
        self.dataset = dataset
        self.seed = seed

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, address: Address) -> dict[str, Any]:
        step, slot, index = address
        # Under the process-wide RNG lock: a variant training in another thread cannot reseed or draw in between.
        with seeded_rngs(seed_from(self.seed, step, slot)):
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
