"""The ``ground_truth`` segmenter: masks a data set ships, converted to 0/255 PNGs in the keyed masks folder.

Where a frame's shipped mask lies:

- Vimeo-style trees (the synthetic generator's exact masks): ``vimeo_triplet/sequences/<s>/imK.png``
  → ``vimeo_triplet/masks/<s>/imK.png``;
- DAVIS: ``DAVIS/JPEGImages/<res>/<seq>/<n>.jpg`` → ``DAVIS/Annotations/<res>/<seq>/<n>.png``
  (palette indices; any object is foreground).

Foreground is any non-zero label (0/255 grey masks read as 0/1), so a 0/255 source is reproduced
pixel for pixel.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from pathlib import Path, PurePosixPath

import numpy as np
import torch

from vosvfi_core.data.datasets._images import read_labels
from vosvfi_core.errors import VosvfiError
from vosvfi_core.masks.frames import FrameRef
from vosvfi_core.masks.segmenters import SEGMENTERS, MaskResult

__all__ = ["GroundTruthSegmenter", "ground_truth", "shipped_mask_path"]

# (folder of the frames, folder of their masks), each as consecutive path parts.
_LAYOUTS = ((("vimeo_triplet", "sequences"), ("vimeo_triplet", "masks")), (("DAVIS", "JPEGImages"), ("DAVIS", "Annotations")))


def shipped_mask_path(frame_path: str) -> str:
    """The relative path of the mask shipped with the frame at ``frame_path`` (relative to the data set root)."""
    parts = PurePosixPath(frame_path).parts
    for frames, masks in _LAYOUTS:
        for at in range(len(parts) - len(frames)):
            if parts[at : at + len(frames)] == frames:
                mask = PurePosixPath(*parts[:at], *masks, *parts[at + len(frames) :])
                return mask.with_suffix(".png").as_posix()
    raise VosvfiError(f"ground_truth: no shipped masks are known for {frame_path} (only Vimeo-style vimeo_triplet/masks and DAVIS Annotations)")


class GroundTruthSegmenter:
    name = "ground_truth"
    weights_sha256: str | None = None

    @property
    def key(self) -> str:
        return self.name

    def check(self, root: Path, frames: Sequence[FrameRef]) -> None:
        for frame in frames:
            source = Path(root) / shipped_mask_path(frame.path)
            if not source.is_file():
                raise VosvfiError(f"ground_truth: the data set ships no mask for {frame.path}: missing file {source}")

    def segment(self, root: Path, frames: Sequence[FrameRef], sizes: Sequence[tuple[int, int]], wanted: Sequence[bool]) -> Iterator[MaskResult]:
        for index, frame in enumerate(frames):
            if not wanted[index]:
                continue
            start = time.perf_counter()
            labels = read_labels(Path(root) / shipped_mask_path(frame.path))
            yield index, np.where(labels > 0, 255, 0).astype(np.uint8), time.perf_counter() - start


@SEGMENTERS.register("ground_truth")
def ground_truth(device: torch.device | str = "cpu") -> GroundTruthSegmenter:
    """The masks the data set ships (the synthetic set's exact masks, DAVIS annotations)."""
    return GroundTruthSegmenter()
