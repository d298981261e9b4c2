"""The segmenter registry and what a segmenter is: frames of a data set in, 0/255 foreground masks out.

A segmenter's factory takes the torch device as its first positional argument and its settings
as keyword arguments (``{type: deeplabv3_resnet101, batch_size: 16}`` in a profile). Its
:attr:`Segmenter.key` names the folder its masks go to, so that masks of two segmenters, or of one
segmenter with two weights files, never overwrite each other.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from vosvfi_core.masks.frames import FrameRef
from vosvfi_core.registry import Registry

__all__ = ["SEGMENTERS", "MaskResult", "Segmenter", "segmenter_key"]

MaskResult = tuple[int, np.ndarray, float]  # (index into the frame list, [H, W] uint8 0/255 mask, seconds spent on it)


def segmenter_key(name: str, weights_sha256: str | None) -> str:
    """``<name>-<first 12 hex digits of the weights' sha256>``, or just the name for a segmenter without weights."""
    return f"{name}-{weights_sha256[:12]}" if weights_sha256 else name


class Segmenter(Protocol):
    name: str  # the registry name
    weights_sha256: str | None  # the full sha256 of the weights file; None when there are no weights

    @property
    def key(self) -> str:
        """The masks folder's name: :func:`segmenter_key` of the name and weights."""
        ...

    def check(self, root: Path, frames: Sequence[FrameRef]) -> None:
        """Raise VosvfiError naming the first frame this segmenter cannot do, before any work starts."""
        ...

    def segment(self, root: Path, frames: Sequence[FrameRef], sizes: Sequence[tuple[int, int]], wanted: Sequence[bool]) -> Iterator[MaskResult]:
        """Masks of the frames whose ``wanted`` flag is set, in any order; ``sizes`` are the frames' (H, W).

        The other frames are context: a batched segmenter groups frames into batches from the
        whole list, so that a frame's mask does not depend on which other masks were missing.
        """
        ...


SEGMENTERS: Registry[Segmenter] = Registry("segmenter", builtins=("vosvfi_core.masks.deeplabv3", "vosvfi_core.masks.ground_truth"))
