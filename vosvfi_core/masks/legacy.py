"""The previous mask stage (one triplet per forward, masks in ``vimeo_triplet/masks``), kept only while
``tasks/masks.py`` and ``flows/stages.py`` still call it: delete this module when they move to
:func:`vosvfi_core.masks.precompute.precompute_masks`.

Layout (the real Vimeo90K's and the synthetic generator's): frames at
``vimeo_triplet/sequences/<sample>/im{1,2,3}.png``, masks at ``vimeo_triplet/masks/<sample>/im{1,2,3}.png``,
sample lists in ``vimeo_triplet/tri_{train,test}list.txt`` (``VimeoTriplets(...).names``).

Segmenter ``deeplabv3`` predicts and (re)writes the masks; ``ground_truth`` takes the masks that
are already there (the synthetic generator's exact ones) and checks them. Both return one
manifest row per mask.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from vosvfi_core.data.datasets.vimeo import MASKS_SUBDIR
from vosvfi_core.errors import VosvfiError
from vosvfi_core.io.images import image_size, read_image
from vosvfi_core.masks.deeplabv3 import foreground
from vosvfi_core.masks.files import read_mask, write_mask

__all__ = ["frame_relpath", "mask_relpath", "shard_samples", "precompute_shard"]

FRAMES = (0, 1, 2)


@dataclass(frozen=True)
class _LegacyRow:
    dataset: str
    sample: str
    frame: int
    mask_path: str  # relative to the data set's folder
    foreground_fraction: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def frame_relpath(sample: str, frame: int) -> str:
    return f"vimeo_triplet/sequences/{sample}/im{frame + 1}.png"


def mask_relpath(sample: str, frame: int) -> str:
    return f"{MASKS_SUBDIR}/{sample}/im{frame + 1}.png"


def shard_samples(samples: Sequence[str], size: int) -> list[tuple[str, ...]]:
    """Consecutive groups of ``size`` samples (the last one may be shorter)."""
    if size < 1:
        raise ValueError(f"shard size must be >= 1, got {size}")
    return [tuple(samples[i : i + size]) for i in range(0, len(samples), size)]


def _checked_mask(root: Path, sample: str, frame: int) -> torch.Tensor:
    mask = read_mask(root / mask_relpath(sample, frame))
    height, width = image_size(root / frame_relpath(sample, frame))
    if tuple(mask.shape) != (height, width):
        raise VosvfiError(f"{root / mask_relpath(sample, frame)} is {mask.shape[1]}x{mask.shape[0]} but its frame is {width}x{height}")
    return mask


def precompute_shard(
    root: Path,
    samples: Sequence[str],
    *,
    dataset: str,
    segmenter: Literal["ground_truth", "deeplabv3"],
    model: nn.Module | None = None,
) -> list[dict[str, Any]]:
    """Masks of the three frames of each sample; returns masks_manifest rows (without run_id)."""
    root = Path(root)
    if segmenter == "deeplabv3" and model is None:
        raise ValueError("segmenter deeplabv3 needs the loaded model")
    rows: list[dict[str, Any]] = []
    for sample in samples:
        if segmenter == "deeplabv3":
            frames = torch.stack([read_image(root / frame_relpath(sample, f)) for f in FRAMES])  # [3, 3, H, W]
            masks = list(foreground(model, frames))
            for f, mask in zip(FRAMES, masks):
                write_mask(root / mask_relpath(sample, f), mask)
        elif segmenter == "ground_truth":
            masks = [_checked_mask(root, sample, f) for f in FRAMES]
        else:
            raise VosvfiError(f"unknown segmenter {segmenter!r}; use ground_truth or deeplabv3")
        for f, mask in zip(FRAMES, masks):
            rows.append(_LegacyRow(dataset, sample, f, mask_relpath(sample, f), float(mask.float().mean())).as_dict())
    return rows
