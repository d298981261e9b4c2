"""Keyed, resumable mask precomputation: one 0/255 PNG per frame, one manifest row per mask.

Layout: ``<masks root>/<segmenter key>/<frame path>.png`` where the masks root defaults to
``<data set root>/masks`` and the key names the segmenter and its weights
(``deeplabv3_resnet101-<sha256[:12]>``, ``ground_truth``). A frame
``vimeo_triplet/sequences/00001/0001/im1.png`` thus gets
``masks/deeplabv3_resnet101-<12 hex digits>/vimeo_triplet/sequences/00001/0001/im1.png``.

Resuming: a mask that exists and decodes whole at its frame's size is kept; a missing, truncated
or wrongly sized one is recomputed. Each mask is written under a temporary name and renamed, and
the temporaries a killed run left behind for the masks being recomputed are removed, so a run
killed half-way and rerun ends with exactly the files of an uninterrupted one.
"""

from __future__ import annotations

import os
import re
import time
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from vosvfi_core.errors import VosvfiError
from vosvfi_core.io.images import image_size
from vosvfi_core.masks.files import mask_array, valid_mask, write_mask
from vosvfi_core.masks.frames import VIMEO_SEQUENCES, FrameRef
from vosvfi_core.masks.segmenters import Segmenter

__all__ = ["MASKS_FOLDER", "MaskRow", "keyed_mask_path", "mask_subpath", "masks_folder", "precompute_masks", "vimeo_masks_dir"]

MASKS_FOLDER = "masks"  # under the data set root, unless a masks root is given
# atomic_path's temporaries: ".<stem>.<random>.tmp<suffix>" beside the target.
_TEMPORARY = re.compile(r"^\.(?P<stem>.+)\.[^.]+\.tmp(?P<suffix>\.[^.]+)$")

Progress = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class MaskRow:
    """One row of the masks manifest (the pipeline adds ``run_id``)."""

    dataset: str
    sample: str
    frame: int  # 0, 1, 2 within the sample's triplet
    frame_path: str  # relative to the data set root
    mask_path: str  # relative to the data set root (absolute when the masks root lies elsewhere)
    foreground_fraction: float
    segmenter: str
    weights_sha256: str | None  # the full sha256 of the weights file; None for ground truth
    seconds: float  # spent on this mask in this run (its share of a batch, and the write); 0.0 for a kept mask

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def masks_folder(root: Path, key: str, masks_root: Path | None = None) -> Path:
    """Where the masks of the segmenter with ``key`` go: ``<masks_root or root/masks>/<key>``."""
    return (Path(masks_root) if masks_root is not None else Path(root) / MASKS_FOLDER) / key


def mask_subpath(frame_path: str) -> str:
    """A frame's mask file inside a masks folder: the frame's relative path with a ``.png`` suffix."""
    return PurePosixPath(frame_path).with_suffix(".png").as_posix()


def keyed_mask_path(root: Path, key: str, frame_path: str, masks_root: Path | None = None) -> Path:
    """The mask file of the frame at ``frame_path`` (relative to ``root``) made by the segmenter with ``key``."""
    return masks_folder(root, key, masks_root) / mask_subpath(frame_path)


def vimeo_masks_dir(root: Path, key: str, masks_root: Path | None = None) -> Path:
    """The folder ``VimeoTriplets(root, masks_dir=...)`` reads ``<sample>/im{1,2,3}.png`` from, for masks made with ``key``."""
    return masks_folder(root, key, masks_root) / VIMEO_SEQUENCES


def _shown_path(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.absolute().as_posix()


def _remove_stale_temporaries(targets: Sequence[Path]) -> None:
    """Delete temporaries of ``targets`` that a killed run left; other files (another shard's) are left alone.

    Shards are disjoint, so no other process writes these targets now.
    """
    names_by_folder: dict[Path, set[str]] = defaultdict(set)
    for target in targets:
        names_by_folder[target.parent].add(target.name)
    for folder, names in names_by_folder.items():
        try:
            entries = os.listdir(folder)
        except FileNotFoundError:
            continue
        for entry in entries:
            found = _TEMPORARY.match(entry)
            if found and f"{found['stem']}{found['suffix']}" in names:
                (folder / entry).unlink(missing_ok=True)


def _kept_fraction(target: Path, size: tuple[int, int]) -> float | None:
    """The foreground fraction of an existing mask that may be kept, else None."""
    mask = valid_mask(target, size)
    if mask is None:
        return None
    return float(np.count_nonzero(mask)) / mask.size if mask.size else 0.0


def _write(target: Path, mask: np.ndarray) -> tuple[float, float]:
    """Write one mask; its foreground fraction and the seconds the write took."""
    start = time.perf_counter()
    array = mask_array(mask)
    write_mask(target, array)
    return float(np.count_nonzero(array)) / array.size if array.size else 0.0, time.perf_counter() - start


def precompute_masks(
    root: Path,
    frames: Sequence[FrameRef],
    segmenter: Segmenter,
    *,
    dataset: str,
    masks_root: Path | None = None,
    progress: Progress | None = None,
    io_threads: int = 8,
) -> list[dict[str, Any]]:
    """Masks of ``frames`` (paths relative to the data set folder ``root``) by ``segmenter``; one manifest row per frame, in order.

    ``progress`` is called with each row as its mask is kept or written. Frame headers, existing
    masks and new masks are read and written by ``io_threads`` threads, so that PNG work overlaps
    the segmenter's (PIL and zlib release the GIL); at most ``io_threads`` masks wait for their
    write, so a run stopped at the k-th ``progress`` call leaves at most k + ``io_threads`` new files.
    """
    root = Path(root)
    seen: set[str] = set()
    for frame in frames:
        if frame.path in seen:
            raise VosvfiError(f"frame {frame.path} is listed twice; each frame gets one mask")
        seen.add(frame.path)
    segmenter.check(root, frames)
    targets = [keyed_mask_path(root, segmenter.key, frame.path, masks_root) for frame in frames]
    rows: list[dict[str, Any] | None] = [None] * len(frames)

    def finish(index: int, fraction: float, seconds: float) -> None:
        frame = frames[index]
        shown = _shown_path(targets[index], root)
        rows[index] = MaskRow(dataset, frame.sample, frame.frame, frame.path, shown, fraction, segmenter.name, segmenter.weights_sha256, seconds).as_dict()
        if progress is not None:
            progress(rows[index])

    with ThreadPoolExecutor(max_workers=io_threads, thread_name_prefix="masks-io") as pool:
        sizes = list(pool.map(lambda frame: image_size(root / frame.path), frames))
        for index, fraction in enumerate(pool.map(_kept_fraction, targets, sizes)):
            if fraction is not None:
                finish(index, fraction, 0.0)
        wanted = [row is None for row in rows]
        _remove_stale_temporaries(targets)
        writing: deque[tuple[int, Future[tuple[float, float]], float]] = deque()

        def finish_written(block: bool) -> None:
            while writing and (block or writing[0][1].done() or len(writing) > io_threads):
                index, future, seconds = writing.popleft()
                fraction, write_seconds = future.result()
                finish(index, fraction, seconds + write_seconds)

        try:
            for index, mask, seconds in segmenter.segment(root, frames, sizes, wanted):
                if rows[index] is not None or not wanted[index] or any(index == pending for pending, _, _ in writing):
                    raise RuntimeError(f"segmenter {segmenter.name} gave a mask for {frames[index].path} twice or unasked")
                if tuple(mask.shape) != tuple(sizes[index]):
                    (height, width), shape = sizes[index], tuple(mask.shape)
                    raise VosvfiError(f"{segmenter.name}: the mask for {frames[index].path} has shape {shape}, but the frame is {width}x{height}")
                writing.append((index, pool.submit(_write, targets[index], mask), seconds))
                finish_written(block=False)
            finish_written(block=True)
        except BaseException:
            for _, future, _ in writing:
                future.cancel()  # writes already running finish (atomically); the rest never start
            raise
    missing = [frames[index].path for index, row in enumerate(rows) if row is None]
    if missing:
        raise RuntimeError(f"segmenter {segmenter.name} gave no mask for {missing[0]} ({len(missing)} missing)")
    return rows  # type: ignore[return-value]  # every entry is set (checked above)
