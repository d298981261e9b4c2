"""What to segment: lists of frames relative to a data set's folder, and i/n shards of them.

The training set needs a mask for each of the three frames of every triplet; an evaluation set
needs one for its ground-truth middle frames. A :class:`FrameRef` names the frame's file (its path
relative to the data set root, with ``/`` separators) and where it belongs (sample, index in the
triplet), which is what a manifest row records.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar

from torch.utils.data import Dataset

from vosvfi_core.data.datasets import DavisX2, FolderTriplets, MiddleburyOther, SnuFilm, UCF101Triplets, VimeoTriplets
from vosvfi_core.errors import VosvfiError

__all__ = ["VIMEO_SEQUENCES", "FrameRef", "frames_for_evaluation", "frames_for_training", "frames_for_vimeo", "parse_shard", "shard"]

T = TypeVar("T")
MIDDLE = 1  # the ground-truth frame of a triplet (frame0, frame1, frame2)
VIMEO_SEQUENCES = "vimeo_triplet/sequences"  # a Vimeo-style tree's frames, relative to its root


@dataclass(frozen=True, order=True)
class FrameRef:
    """One frame to segment: ``path`` relative to the data set root; ``frame`` is 0, 1 or 2 within ``sample``'s triplet."""

    sample: str
    frame: int
    path: str


def _relative(path: Path, root: Path) -> str:
    try:
        return path.absolute().relative_to(root.absolute()).as_posix()
    except ValueError:
        raise VosvfiError(f"frame {path} lies outside the data set folder {root}") from None


def frames_for_vimeo(root: Path, split: Literal["train", "test"]) -> list[FrameRef]:
    """A Vimeo-style tree's frames: all three of every training triplet, or the middle frame of every test triplet."""
    triplets = VimeoTriplets(Path(root), split, crop=None)
    frames = (0, 1, 2) if split == "train" else (MIDDLE,)
    return [FrameRef(name, k, f"{VIMEO_SEQUENCES}/{name}/im{k + 1}.png") for name in triplets.names for k in frames]


def frames_for_training(root: Path) -> list[FrameRef]:
    """All three frames of every triplet in ``root/vimeo_triplet/tri_trainlist.txt``."""
    return frames_for_vimeo(root, "train")


def frames_for_evaluation(dataset: Dataset, root: Path) -> list[FrameRef]:
    """The ground-truth middle frames of an evaluation set opened from ``root`` (any of the triplet classes)."""
    root = Path(root)
    if isinstance(dataset, VimeoTriplets):
        return [FrameRef(name, MIDDLE, _relative(dataset.sequences_dir / name / "im2.png", root)) for name in dataset.names]
    if isinstance(dataset, DavisX2):
        refs = []
        for s, middle in dataset.triplets:
            sequence = dataset.sequences[s]
            path = sequence.frame_paths[middle]
            refs.append(FrameRef(f"{sequence.name}/{path.stem}", MIDDLE, _relative(path, root)))
        return refs
    if isinstance(dataset, MiddleburyOther | UCF101Triplets | FolderTriplets):
        return [FrameRef(name, MIDDLE, _relative(paths[MIDDLE], root)) for name, paths in zip(dataset.names, dataset.paths, strict=True)]
    if isinstance(dataset, SnuFilm):
        return [FrameRef(name, MIDDLE, _relative(paths[MIDDLE], root)) for name, paths in zip(dataset.names, dataset.triplets, strict=True)]
    raise VosvfiError(f"cannot list the evaluation frames of a {type(dataset).__name__}")


def shard(items: Sequence[T], index: int, count: int) -> list[T]:
    """Shard ``index`` of ``count`` (0-based): consecutive slices that together cover ``items`` once, sizes differing by at most one."""
    if count < 1 or not 0 <= index < count:
        raise VosvfiError(f"shard {index} of {count}: need 0 <= index < count")
    total = len(items)
    return list(items[total * index // count : total * (index + 1) // count])


def parse_shard(text: str, *, option: str = "--shard") -> tuple[int, int]:
    """``"i/n"`` with 1 <= i <= n (as people count shards) → the 0-based ``(index, count)`` that :func:`shard` takes."""
    found = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not found:
        raise VosvfiError(f"{option} {text}: expected i/n, e.g. 1/4")
    number, count = int(found[1]), int(found[2])
    if count < 1 or not 1 <= number <= count:
        raise VosvfiError(f"{option} {text}: need 1 <= i <= n")
    return number - 1, count
