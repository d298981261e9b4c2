"""The masks stage's units of work: shards of a data set's frames, the files each shard reads, and
the keyed folder a shard's manifest rows point into."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from vosvfi_core.masks.frames import FrameRef, shard
from vosvfi_core.masks.ground_truth import shipped_mask_path
from vosvfi_core.masks.segmenters import segmenter_key

__all__ = ["frame_shards", "manifest_key", "shard_inputs"]


def frame_shards(frames: Sequence[FrameRef], shard_size: int) -> list[tuple[FrameRef, ...]]:
    """``frames`` in consecutive shards of at most ``shard_size`` (sizes differing by one at most); one shard when empty."""
    count = max(1, math.ceil(len(frames) / shard_size))
    return [tuple(shard(frames, index, count)) for index in range(count)]


def shard_inputs(frames: Sequence[FrameRef], segmenter_type: str) -> list[str]:
    """The files a shard reads, relative to the data set root: its frames, and for ``ground_truth`` the masks the data set ships."""
    shipped = [shipped_mask_path(f.path) for f in frames] if segmenter_type == "ground_truth" else []
    return [f.path for f in frames] + shipped


def manifest_key(rows: Sequence[Mapping[str, Any]]) -> str:
    """The segmenter key of a data set's manifest rows (one segmenter made them all): the name of their masks folder."""
    return segmenter_key(rows[0]["segmenter"], rows[0]["weights_sha256"])
