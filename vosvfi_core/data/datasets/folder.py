"""A user's own folder of triplets (``<root>/<sample>/frame0..2`` or ``im1..3``), read by the data set ``folder:PATH`` (:mod:`vosvfi_core.data.sets`)."""

from __future__ import annotations

import re
from pathlib import Path

from torch import Tensor
from torch.utils.data import Dataset

from vosvfi_core.data.datasets._images import read_triplet, require
from vosvfi_core.errors import VosvfiError
from vosvfi_core.io.images import IMAGE_SUFFIXES, image_size

__all__ = ["FRAME_NAMINGS", "FolderTriplets"]

# The names a sample's first, middle (the truth) and last frame may have, each with a png/jpg suffix.
FRAME_NAMINGS = (("frame0", "frame1", "frame2"), ("im1", "im2", "im3"))


def _natural_key(name: str) -> list[int | str]:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def _frames_by_stem(folder: Path) -> dict[str, list[Path]]:
    found: dict[str, list[Path]] = {}
    for path in folder.iterdir():
        if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
            found.setdefault(path.stem, []).append(path)
    return found


def _sample_files(folder: Path) -> tuple[Path, Path, Path]:
    """The three frames of one sample folder, in the first naming that any of its files uses."""
    found = _frames_by_stem(folder)
    for naming in FRAME_NAMINGS:
        if not any(stem in found for stem in naming):
            continue
        for stem in naming:
            if stem not in found:
                raise VosvfiError(f"folder of triplets: missing file {folder / stem}.png (or .jpg)")
            if len(found[stem]) > 1:
                raise VosvfiError(f"folder of triplets: {folder} holds several files for {stem}: {', '.join(sorted(p.name for p in found[stem]))}")
        first, middle, last = (found[stem][0] for stem in naming)
        return first, middle, last
    names = " or ".join(", ".join(naming) for naming in FRAME_NAMINGS)
    raise VosvfiError(f"folder of triplets: missing file {folder / FRAME_NAMINGS[0][0]}.png (a sample folder holds {names}, png or jpg)")


class FolderTriplets(Dataset):
    """``root/<sample>/frame0.*, frame1.*, frame2.*`` (or ``im1.*, im2.*, im3.*``), png or jpg.

    Every folder directly under ``root`` (hidden ones aside) is one sample, in natural name order
    (``clip2`` before ``clip10``). Items: ``frame0``, ``frame1`` (the truth), ``frame2`` as
    ``[3, H, W]`` float RGB in [0, 1], and ``name`` (the sample folder's name). The layout and every
    frame's size (read from the file headers) are checked on construction.
    """

    def __init__(self, root: Path) -> None:
        self.root = require(Path(root), what="folder of triplets")
        folders = sorted((d for d in self.root.iterdir() if d.is_dir() and not d.name.startswith(".")), key=lambda d: _natural_key(d.name))
        if not folders:
            raise VosvfiError(f"folder of triplets: {self.root} holds no sample folders (expected <name>/frame0.png, frame1.png, frame2.png)")
        self.names = [d.name for d in folders]
        self.paths = [_sample_files(d) for d in folders]
        for paths in self.paths:
            sizes = {path.name: image_size(path) for path in paths}
            if len(set(sizes.values())) > 1:
                shown = ", ".join(f"{name} {h}x{w}" for name, (h, w) in sizes.items())
                raise VosvfiError(f"folder of triplets: frames of {paths[0].parent} differ in size ({shown}, height x width)")

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, index: int) -> dict[str, Tensor | str]:
        return read_triplet(self.paths[index], self.names[index])
