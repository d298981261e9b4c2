"""VOS teachers: the interface the VOS loss terms use, their registry, and whole-video propagation.

A teacher propagates the masks of memory frames onto a query frame and returns the object's
probability, differentiably with respect to the query and never training itself. Config blocks:
``{type: stcn, weights: path/to/stcn.pth}`` or ``{type: pixel_affinity, stride: 2, ...}``; the
torch device is the factory's first (run-time) argument::

    teacher = TEACHERS.build(config.train.teacher, device)
    probs = teacher.propagate(frames0[:, None], masks0[:, None], interpolated)  # [B, 1, H, W]
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Protocol, runtime_checkable

import torch
from pydantic import AfterValidator, NonNegativeFloat, PositiveFloat, PositiveInt
from torch import Tensor

from vosvfi_core.registry import Registry
from vosvfi_core.vos.memory import Memory
from vosvfi_core.vos.pixel_affinity import PixelAffinityPropagator
from vosvfi_core.weights import resolve_weights

__all__ = ["TEACHERS", "Teacher", "pixel_affinity_teacher", "propagate_video", "stcn_teacher"]


@runtime_checkable
class Teacher(Protocol):
    """Propagates masks from memory frames onto a query frame.

    Frames are RGB in [0, 1]; masks and the result are object probabilities in [0, 1].
    ``propagate`` is ``segment(memorize(...), query)``; the two halves let a video be propagated
    without encoding every memory frame again for every query.
    """

    name: str

    def memorize(self, frames: Tensor, masks: Tensor) -> Memory:
        """Encode memory frames ``[B, T, 3, H, W]`` with their masks ``[B, T, 1, H, W]``."""
        ...

    def segment(self, memory: Memory, query: Tensor) -> Tensor:
        """The object's probability ``[B, 1, H, W]`` in ``query [B, 3, H, W]``."""
        ...

    def propagate(self, memory_frames: Tensor, memory_masks: Tensor, query: Tensor) -> Tensor:
        """``[B, T, 3, H, W]``, ``[B, T, 1, H, W]``, ``[B, 3, H, W]`` → probabilities ``[B, 1, H, W]``."""
        ...


TEACHERS: Registry[Teacher] = Registry("teacher", builtins=("vosvfi_core.vos.teachers",))


def _odd(value: int) -> int:
    if value % 2 == 0:
        raise ValueError(f"must be odd (a patch centred on its pixel), got {value}")
    return value


@TEACHERS.register("stcn")
def stcn_teacher(device: torch.device | str, *, weights: Path | None = None, top_k: PositiveInt = 20) -> Teacher:
    """STCN, frozen, with the published weights (``weights``, else the weights folder, else a download)."""
    # Imported here: the network pulls in torchvision, which config validation does not need.
    from vosvfi_core.vos import stcn as stcn_module

    path = resolve_weights(stcn_module.STCN_WEIGHTS, weights, config_field="train.teacher.weights")
    return stcn_module.stcn(weights=path, top_k=top_k).to(device)


@TEACHERS.register("pixel_affinity")
def pixel_affinity_teacher(
    device: torch.device | str,
    *,
    patch_size: Annotated[PositiveInt, AfterValidator(_odd)] = 3,
    position_weight: NonNegativeFloat = 0.25,
    top_k: PositiveInt = 20,
    temperature: PositiveFloat = 0.001,
    stride: PositiveInt = 2,
) -> Teacher:
    """Weight-free: STCN's memory read on colour patches and positions (no weights to fetch).

    It holds no tensors, so ``device`` is unused: it works on whatever device its inputs are on.
    """
    del device
    return PixelAffinityPropagator(patch_size=patch_size, position_weight=position_weight, top_k=top_k, temperature=temperature, stride=stride)


@torch.no_grad()
def propagate_video(teacher: Teacher, frames: Sequence[Tensor], first_mask: Tensor, *, memory_every: int = 5, include_last: bool = True) -> list[Tensor]:
    """Segment a whole video from its first frame's mask: one ``[H, W]`` bool mask per frame.

    The memory, as in STCN's evaluation: the first frame with ``first_mask``; every frame whose
    index is a multiple of ``memory_every``, with its predicted probability; and, with
    ``include_last``, the frame just before the query (STCN's ``--include_last``, off by default in
    its scripts). A mask is the probability above 0.5 (STCN's argmax over background and object).
    """
    if memory_every < 1:
        raise ValueError(f"memory_every must be at least 1, got {memory_every}")
    if not frames:
        return []
    height, width = frames[0].shape[-2:]
    if first_mask.shape != (height, width):
        raise ValueError(f"first_mask must be [H, W] = {(height, width)}, got {tuple(first_mask.shape)}")
    device = frames[0].device
    permanent = teacher.memorize(frames[0][None, None], first_mask.to(device=device, dtype=frames[0].dtype)[None, None, None])
    recent: Memory | None = None
    masks = [first_mask.to(device=device, dtype=torch.bool)]
    for index in range(1, len(frames)):
        memory = Memory.cat([permanent, recent]) if recent is not None else permanent
        probability = teacher.segment(memory, frames[index][None])  # [1, 1, H, W]
        masks.append(probability[0, 0] > 0.5)
        if index == len(frames) - 1:
            break
        is_memory_frame = index % memory_every == 0
        if is_memory_frame or include_last:
            encoded = teacher.memorize(frames[index][None, None], probability[:, None])
            if is_memory_frame:
                permanent, recent = Memory.cat([permanent, encoded]), None
            else:
                recent = encoded
    return masks
