"""Space-time memory read: affinity between memory and query keys, top-k softmax, readout of memory values.

Shared by STCN and the weight-free pixel-affinity propagator. Shapes follow STCN: memory keys
``[B, Ck, N]`` and values ``[B, Cv, N]`` over N memory positions (all memory frames, frame-major),
query keys ``[B, Ck, M]`` over M query positions; the affinity is query-major, ``[B, M, N]``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["Memory", "affinity", "check_clip", "frame_major", "memory_read", "readout", "select_topk", "topk_weights"]


@dataclass(frozen=True)
class Memory:
    """Encoded memory frames: ``keys [B, Ck, N]`` and ``values [B, Cv, N]``."""

    keys: Tensor
    values: Tensor

    def __post_init__(self) -> None:
        if self.keys.dim() != 3 or self.values.dim() != 3 or self.keys.shape[0] != self.values.shape[0] or self.keys.shape[2] != self.values.shape[2]:
            raise ValueError(f"memory keys [B, Ck, N] and values [B, Cv, N] do not match: {tuple(self.keys.shape)} vs {tuple(self.values.shape)}")

    @property
    def size(self) -> int:
        """N, the number of memory positions."""
        return self.keys.shape[2]

    @staticmethod
    def cat(memories: Sequence[Memory]) -> Memory:
        """One memory holding the positions of all ``memories`` (same batch and channels), in order."""
        return Memory(torch.cat([m.keys for m in memories], dim=2), torch.cat([m.values for m in memories], dim=2))


def check_clip(frames: Tensor, masks: Tensor) -> None:
    """Refuse memory frames that are not ``[B, T, 3, H, W]`` with masks ``[B, T, 1, H, W]``."""
    if frames.dim() != 5 or frames.shape[2] != 3:
        raise ValueError(f"memory frames must be [B, T, 3, H, W], got {tuple(frames.shape)}")
    expected = (*frames.shape[:2], 1, *frames.shape[3:])
    if tuple(masks.shape) != expected:
        raise ValueError(f"memory masks must be [B, T, 1, H, W] = {expected}, got {tuple(masks.shape)}")


def frame_major(features: Tensor, batch: int, time: int) -> Tensor:
    """Per-frame features ``[B·T, C, …]`` as memory positions ``[B, C, T·…]`` (frame-major)."""
    channels = features.shape[1]
    return features.reshape(batch, time, channels, -1).transpose(1, 2).reshape(batch, channels, -1)


def _default_scale(channels: int, scale: float | None) -> float:
    return 1.0 / math.sqrt(channels) if scale is None else scale


def affinity(memory_keys: Tensor, query_keys: Tensor, *, scale: float | None = None) -> Tensor:
    """``[B, M, N]`` = ``scale · (2 qkᵀmk − |mk|²)``, with ``scale = 1/√Ck`` unless given.

    This is ``−scale·|mk − qk|²`` plus ``scale·|qk|²``, a term constant over the memory positions of
    one query, so a softmax over N equals that of the scaled negative squared L2 distance; STCN
    leaves the term out because it changes nothing. Query-major (STCN stores the transpose): the
    top-k then runs along contiguous memory, about three times faster on the CPU.
    """
    if memory_keys.dim() != 3 or query_keys.dim() != 3 or memory_keys.shape[:2] != query_keys.shape[:2]:
        raise ValueError(f"keys must be [B, Ck, N] and [B, Ck, M] with the same B and Ck, got {tuple(memory_keys.shape)} and {tuple(query_keys.shape)}")
    scale = _default_scale(memory_keys.shape[1], scale)
    squared_norms = memory_keys.pow(2).sum(dim=1, keepdim=True)  # [B, 1, N]
    # One matrix product and no elementwise pass over the [B, M, N] result: [qk; 1]ᵀ [2·scale·mk; −scale·|mk|²].
    memory_side = torch.cat([memory_keys * (2 * scale), squared_norms * -scale], dim=1)  # [B, Ck + 1, N]
    query_side = torch.cat([query_keys, torch.ones_like(query_keys[:, :1])], dim=1)  # [B, Ck + 1, M]
    return query_side.transpose(1, 2) @ memory_side


def _rows(x: Tensor, indices: Tensor) -> Tensor:
    """``x [B, C, N]`` at ``indices [B, M, k]`` → ``[B, M, k, C]`` (the backward adds into ``[B·N, C]``)."""
    batch, channels, positions = x.shape
    offsets = torch.arange(batch, device=indices.device).view(batch, 1, 1) * positions
    return x.transpose(1, 2).reshape(batch * positions, channels)[indices + offsets]


def select_topk(memory_keys: Tensor, query_keys: Tensor, top_k: int, *, scale: float | None = None) -> Tensor:
    """Indices ``[B, M, k]`` of each query's ``k = min(top_k, N)`` highest-affinity memory positions (no gradient)."""
    if top_k < 1:
        raise ValueError(f"top_k must be at least 1, got {top_k}")
    with torch.no_grad():
        scores = affinity(memory_keys.detach(), query_keys.detach(), scale=scale)
        return scores.topk(min(top_k, scores.shape[-1]), dim=-1).indices


def topk_weights(memory_keys: Tensor, query_keys: Tensor, indices: Tensor, *, scale: float | None = None) -> Tensor:
    """Softmax weights ``[B, M, k]`` over the selected memory positions, differentiable in both keys.

    The scores of the k selected positions are computed again from the gathered keys: the same
    values as the affinity's, but the backward pass then touches ``[B, M, k]`` entries instead of a
    dense ``[B, M, N]`` gradient (what differentiating through ``torch.topk`` would allocate).
    """
    scale = _default_scale(memory_keys.shape[1], scale)
    selected = _rows(memory_keys, indices)  # [B, M, k, Ck]
    scores = 2 * torch.einsum("bcm,bmkc->bmk", query_keys, selected) - selected.pow(2).sum(-1)
    return torch.softmax(scores * scale, dim=-1)


def readout(memory_values: Tensor, weights: Tensor, indices: Tensor) -> Tensor:
    """``[B, Cv, M]``: each query position's weighted sum of the memory values at ``indices``."""
    return torch.einsum("bmk,bmkc->bcm", weights, _rows(memory_values, indices))


def memory_read(memory: Memory, query_keys: Tensor, *, top_k: int, scale: float | None = None) -> Tensor:
    """Read ``memory`` at ``query_keys [B, Ck, M]``: ``[B, Cv, M]``.

    Each query position takes the softmax, over its ``top_k`` highest-affinity memory positions, of
    the affinity, and sums their values with those weights (every other position weighs 0). With
    ``top_k >= N`` that is a full softmax, computed densely.
    """
    if query_keys.shape[0] != memory.keys.shape[0]:
        raise ValueError(f"query batch {query_keys.shape[0]} does not match memory batch {memory.keys.shape[0]}")
    if top_k < 1:
        raise ValueError(f"top_k must be at least 1, got {top_k}")
    if top_k >= memory.size:
        weights = torch.softmax(affinity(memory.keys, query_keys, scale=scale), dim=-1)  # [B, M, N]
        return memory.values @ weights.transpose(1, 2)
    indices = select_topk(memory.keys, query_keys, top_k, scale=scale)
    return readout(memory.values, topk_weights(memory.keys, query_keys, indices, scale=scale), indices)
