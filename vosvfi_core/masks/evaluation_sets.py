"""Masks for evaluation sets that ship no annotations: where they live, and triplets that carry them.

The object-aware metrics (foreground and boundary-band PSNR) read the middle frame's mask
``mask1``. Sets with annotations (the synthetic sets, DAVIS) give it themselves; for the others
(Vimeo-90K test, UCF101, Middlebury, SNU-FILM, a folder of triplets) the masks stage segments the
ground-truth middle frames and evaluation reads the masks back through :class:`MaskedTriplets`.

These masks are kept under the data root, never inside the data set's folder (a local copy is the
user's, and may be read-only): ``<data root>/masks/<store>/<segmenter key>/<frame path>.png``,
where the store names the catalog entry and the folder (:func:`evaluation_masks_root`), so that
two copies of a data set in two places never share masks.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from torch.utils.data import Dataset

from vosvfi_core.data.sets import data_set
from vosvfi_core.errors import VosvfiError
from vosvfi_core.masks.files import read_mask
from vosvfi_core.masks.frames import FrameRef, frames_for_evaluation
from vosvfi_core.masks.precompute import MASKS_FOLDER, mask_subpath

__all__ = ["MaskedTriplets", "evaluation_masks_root", "evaluation_set_frames", "unmade_masks_reason"]


def evaluation_masks_root(data_root: Path, catalog: str, folder: Path) -> Path:
    """``<data_root>/masks/<catalog>-<first 8 hex digits of sha256(folder's absolute path)>``: the keyed masks folders of one copy of a set."""
    digest = hashlib.sha256(str(Path(folder).absolute()).encode()).hexdigest()[:8]
    return Path(data_root) / MASKS_FOLDER / f"{re.sub(r'[^A-Za-z0-9._-]+', '_', catalog)}-{digest}"


def evaluation_set_frames(name: str, folder: Path, data_root: Path) -> tuple[list[FrameRef], Path]:
    """The middle frames of the evaluation set ``name`` in ``folder`` (what its masks are made of), and its masks root."""
    spec = data_set(name)
    return frames_for_evaluation(spec.open_triplets(folder), folder), evaluation_masks_root(data_root, spec.catalog, folder)


def unmade_masks_reason(error: BaseException) -> str | None:
    """Why an evaluation set's masks could not be made, when evaluation goes on without them; None when the run must end.

    A :class:`VosvfiError` states its reason in one line (the segmenter's weights are not in place
    offline, a frame it cannot read): evaluation then scores the set, its object-aware values
    null with that reason as their note. Anything else is a bug, and ends the run. Training sets
    never get here: training cannot go on without its masks.
    """
    return str(error) if isinstance(error, VosvfiError) else None


class MaskedTriplets(Dataset):
    """A data set of triplets whose items also carry ``mask1``, read from a keyed masks folder.

    ``frames[i]`` is the middle frame of item ``i`` (as :func:`~vosvfi_core.masks.frames_for_evaluation`
    lists them); its mask is ``masks_dir / <frame path>.png``. A missing or wrongly sized mask is
    a one-line error naming the file: the masks stage makes them all before evaluation starts.
    """

    def __init__(self, triplets: Dataset, frames: Sequence[FrameRef], masks_dir: Path) -> None:
        if len(frames) != len(triplets):  # type: ignore[arg-type]
            raise VosvfiError(f"{masks_dir}: {len(frames)} masks listed for {len(triplets)} triplets")  # type: ignore[arg-type]
        self.triplets, self.frames, self.masks_dir = triplets, list(frames), Path(masks_dir)

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, index: int) -> dict[str, Any]:
        item = dict(self.triplets[index])
        path = self.masks_dir / mask_subpath(self.frames[index].path)
        if not path.is_file():
            raise VosvfiError(f"no mask for the middle frame of {item['name']}: missing file {path} (the masks stage makes it)")
        mask = read_mask(path)
        if tuple(mask.shape) != tuple(item["frame1"].shape[-2:]):
            raise VosvfiError(f"{path}: mask is {mask.shape[1]}x{mask.shape[0]}, but the frame is {item['frame1'].shape[-1]}x{item['frame1'].shape[-2]}")
        item["mask1"] = mask
        return item
