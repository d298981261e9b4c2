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
import torch.nn.functional as F
from pydantic import AfterValidator, NonNegativeFloat, PositiveFloat, PositiveInt
from torch import Tensor

from vosvfi_core.registry import Registry
from vosvfi_core.vos.memory import Memory
from vosvfi_core.vos.pixel_affinity import PixelAffinityPropagator
from vosvfi_core.weights import resolve_weights

__all__ = [
    "STCN_INCLUDE_LAST",
    "STCN_MEMORY_EVERY",
    "TEACHERS",
    "Teacher",
    "aggregate_objects",
    "pixel_affinity_teacher",
    "propagate_video",
    "propagate_video_objects",
    "stcn_teacher",
]

# STCN's evaluation memory (eval_davis.py: --mem_every 5, --include_last off; top-k 20 is the teachers' default).
STCN_MEMORY_EVERY = 5
STCN_INCLUDE_LAST = False


@runtime_checkable
class Teacher(Protocol):
    """Propagates masks from memory frames onto a query frame.

    Frames are RGB in [0, 1]; masks and the result are object probabilities in [0, 1].
    ``propagate`` is ``segment(memorize(...), query)``; the two halves let a video be propagated
    without encoding every memory frame again for every query. ``propagate_logits`` gives the
    logits of the same probability (``sigmoid(propagate_logits(...)) == propagate(...)`` wherever
    the probability is not clamped), for losses that must not saturate.
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

    def propagate_logits(self, memory_frames: Tensor, memory_masks: Tensor, query: Tensor) -> Tensor:
        """As :meth:`propagate`, the logits ``[B, 1, H, W]`` of the probability."""
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
def propagate_video(
    teacher: Teacher, frames: Sequence[Tensor], first_mask: Tensor, *, memory_every: int = STCN_MEMORY_EVERY, include_last: bool = STCN_INCLUDE_LAST
) -> list[Tensor]:
    """Segment a whole video from its first frame's mask: one ``[H, W]`` bool mask per frame.

    The memory, as in STCN's evaluation: the first frame with ``first_mask``; every frame whose
    index is a multiple of ``memory_every``, with its predicted probability; and, with
    ``include_last``, the frame just before the query (STCN's ``--include_last``, off by default in
    its scripts, and here). A mask is the probability above 0.5 (STCN's argmax over background and object).
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


def aggregate_objects(probabilities: Tensor) -> Tensor:
    """STCN's ``aggregate``: objects' probabilities ``[K, 1, H, W]`` → ``[K + 1, 1, H, W]``, background first.

    The background is ``prod(1 − p)``; all K + 1 are clamped to [1e-7, 1 − 1e-7] and soft-aggregated
    by a softmax over their logits.
    """
    stacked = torch.cat([torch.prod(1 - probabilities, dim=0, keepdim=True), probabilities], dim=0).clamp(1e-7, 1 - 1e-7)
    return F.softmax(torch.log(stacked / (1 - stacked)), dim=0)


def _object_probabilities(teacher: Teacher, memory: Memory, query: Tensor) -> Tensor:
    """Each object's own probability ``[K, 1, H, W]`` before aggregation: STCN's decoder sigmoid, else the teacher's probability."""
    raw = getattr(teacher, "object_probability", None)
    return raw(memory, query) if raw is not None else teacher.segment(memory, query)


def _memorize_objects(teacher: Teacher, frame: Tensor, probabilities: Tensor) -> Memory:
    """Memory of one frame for K objects ``[K, 1, H, W]`` (a batch of K); STCN also reads the other objects' sum."""
    count = probabilities.shape[0]
    frames = frame[None, None].expand(count, 1, *frame.shape)
    if getattr(teacher, "reads_other_objects", False):
        others = probabilities.sum(dim=0, keepdim=True) - probabilities  # [K, 1, H, W]
        return teacher.memorize(frames, probabilities[:, None], other_objects=others[:, None])  # type: ignore[call-arg]
    return teacher.memorize(frames, probabilities[:, None])


@torch.no_grad()
def propagate_video_objects(
    teacher: Teacher,
    frames: Sequence[Tensor],
    first_labels: Tensor,
    object_ids: Sequence[int],
    *,
    memory_every: int = STCN_MEMORY_EVERY,
    include_last: bool = STCN_INCLUDE_LAST,
) -> list[Tensor]:
    """Segment several objects through a video as STCN's multi-object evaluation does: one ``[H, W]`` int64 label map per frame.

    Each object is propagated with its own memory (a batch of ``len(object_ids)``), the memory
    frames chosen as in :func:`propagate_video`. Per query frame the objects' probabilities are
    aggregated with the background (:func:`aggregate_objects`); a pixel takes the most probable of
    background (0) and the objects (their ids), and each object's aggregated probability is what
    a memory frame stores. The first frame's label map is returned as given.
    """
    if memory_every < 1:
        raise ValueError(f"memory_every must be at least 1, got {memory_every}")
    if not frames:
        return []
    height, width = frames[0].shape[-2:]
    if first_labels.shape != (height, width):
        raise ValueError(f"first_labels must be [H, W] = {(height, width)}, got {tuple(first_labels.shape)}")
    ids = torch.tensor([0, *object_ids], dtype=torch.int64)
    device, dtype = frames[0].device, frames[0].dtype
    first = first_labels.to(device)
    if not object_ids:
        return [torch.zeros(height, width, dtype=torch.int64, device=device) for _ in frames]
    one_hot = torch.stack([first == k for k in object_ids]).to(dtype)[:, None]  # [K, 1, H, W]
    permanent = _memorize_objects(teacher, frames[0], one_hot)
    recent: Memory | None = None
    labels = [first.to(torch.int64)]
    for index in range(1, len(frames)):
        memory = Memory.cat([permanent, recent]) if recent is not None else permanent
        query = frames[index][None].expand(len(object_ids), *frames[index].shape)
        aggregated = aggregate_objects(_object_probabilities(teacher, memory, query))  # [K + 1, 1, H, W]
        labels.append(ids.to(device)[aggregated[:, 0].argmax(dim=0)])
        if index == len(frames) - 1:
            break
        is_memory_frame = index % memory_every == 0
        if is_memory_frame or include_last:
            encoded = _memorize_objects(teacher, frames[index], aggregated[1:])
            if is_memory_frame:
                permanent, recent = Memory.cat([permanent, encoded]), None
            else:
                recent = encoded
    return labels
