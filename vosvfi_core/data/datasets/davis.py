"""DAVIS sequences with their annotations, and the x2 interpolation protocol on them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor
from torch.utils.data import Dataset

from vosvfi_core.data.datasets._images import read_labels, read_mask, read_rgb, require
from vosvfi_core.errors import VosvfiError
from vosvfi_core.io.images import IMAGE_SUFFIXES

__all__ = ["DavisSequence", "DavisSequences", "DavisX2", "davis_sequence_names", "x2_triplet_count"]


@dataclass(frozen=True)
class DavisSequence:
    """One sequence: its frame files and the annotation beside each (None where a frame has none).

    Frames are read on demand: a whole 480p sequence as float tensors would take hundreds of MB.
    """

    name: str
    frame_paths: tuple[Path, ...]
    annotation_paths: tuple[Path | None, ...]

    def __len__(self) -> int:
        return len(self.frame_paths)

    def frame(self, index: int) -> Tensor:
        """``[3, H, W]`` float RGB in [0, 1]."""
        return read_rgb(self.frame_paths[index])

    def _annotation(self, index: int) -> Path:
        path = self.annotation_paths[index]
        if path is None:
            raise VosvfiError(f"DAVIS sequence {self.name}: no annotation for {self.frame_paths[index].name}")
        return path

    def labels(self, index: int) -> Tensor:
        """``[H, W]`` int64 object ids (0 = background)."""
        return torch.from_numpy(read_labels(self._annotation(index)))

    def mask(self, index: int) -> Tensor:
        """``[1, H, W]`` float foreground (any object) in {0, 1}."""
        return read_mask(self._annotation(index))


def _names_from_list(list_file: Path) -> list[str]:
    names: list[str] = []
    for line in list_file.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line:
            continue
        # 2017 lists hold sequence names; 2016's 480p lists hold "/JPEGImages/480p/<seq>/<frame>.jpg /Annotations/...".
        name = line.split()[0].strip("/").split("/")[-2] if "/" in line else line
        if name not in names:
            names.append(name)
    return names


def davis_sequence_names(root: Path, split: str | None = None, *, resolution: str = "480p") -> list[str]:
    """Sequence names under ``root/DAVIS``: all of them, or those that the split's ImageSets list names.

    The list is the first of ``ImageSets/2017/<split>.txt``, ``ImageSets/2016/<split>.txt`` and
    ``ImageSets/<resolution>/<split>.txt`` (DAVIS 2016's frame lists) that exists.
    """
    base = require(Path(root) / "DAVIS", what="DAVIS")
    images = require(base / "JPEGImages" / resolution, what="DAVIS")
    require(base / "Annotations" / resolution, what="DAVIS")
    if split is None:
        names = sorted(d.name for d in images.iterdir() if d.is_dir())
        if not names:
            raise VosvfiError(f"no sequences in {images}")
        return names
    candidates = [base / "ImageSets" / folder / f"{split}.txt" for folder in ("2017", "2016", resolution)]
    list_file = next((path for path in candidates if path.is_file()), None)
    if list_file is None:
        raise VosvfiError(f"DAVIS: no list for split {split!r}: missing file {candidates[0]} (also looked for {candidates[1].name} in 2016/ and {resolution}/)")
    names = _names_from_list(list_file)
    if not names:
        raise VosvfiError(f"{list_file} lists no sequences")
    for name in names:
        require(images / name, what=f"DAVIS ({list_file.name})")
    return names


def _load_sequence(base: Path, resolution: str, name: str) -> DavisSequence:
    images = require(base / "JPEGImages" / resolution / name, what="DAVIS")
    annotations = base / "Annotations" / resolution / name
    frames = tuple(sorted(p for p in images.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES))
    if not frames:
        raise VosvfiError(f"DAVIS: no frames in {images}")
    labels = tuple((annotations / f"{p.stem}.png") if (annotations / f"{p.stem}.png").is_file() else None for p in frames)
    return DavisSequence(name, frames, labels)


class DavisSequences(Dataset):
    """``root/DAVIS/{JPEGImages, Annotations}/<resolution>/<seq>/``: item i is a :class:`DavisSequence`."""

    def __init__(self, root: Path, split: str | None = None, *, resolution: str = "480p", sequences: Sequence[str] | None = None) -> None:
        root = Path(root)
        names = list(sequences) if sequences is not None else davis_sequence_names(root, split, resolution=resolution)
        base = require(root / "DAVIS", what="DAVIS")
        self.sequences = [_load_sequence(base, resolution, name) for name in names]

    def __len__(self) -> int:
        return len(self.sequences)

    def __getitem__(self, index: int) -> DavisSequence:
        return self.sequences[index]


def x2_triplet_count(frames: int) -> int:
    """Triplets (2i, 2i+1, 2i+2) of the x2 protocol in an n-frame sequence: i < n/2 - 1 (n even), i < n//2 (n odd)."""
    return max(0, (frames - 1) // 2)


class DavisX2(Dataset):
    """The DAVIS x2 protocol: inputs frames 2i and 2i+2, truth 2i+1, in every sequence.

    Items: ``frame0``, ``frame1`` (truth), ``frame2``; with ``with_annotations`` also
    ``mask0..mask2`` (foreground ``[1, H, W]`` in {0, 1}) and ``labels1`` (``[H, W]`` object ids of
    the truth frame); ``name`` (``"<seq>/<truth frame stem>"``), ``sequence`` and ``index`` (2i+1).
    """

    def __init__(
        self,
        root: Path,
        split: str | None = None,
        *,
        resolution: str = "480p",
        sequences: Sequence[str] | None = None,
        with_annotations: bool = True,
    ) -> None:
        self.sequences = DavisSequences(root, split, resolution=resolution, sequences=sequences).sequences
        self.with_annotations = with_annotations
        self.triplets = [(s, 2 * i + 1) for s, seq in enumerate(self.sequences) for i in range(x2_triplet_count(len(seq)))]
        if with_annotations:
            for seq in self.sequences:
                missing = [seq.frame_paths[k].name for k in range(x2_triplet_count(len(seq)) * 2 + 1) if seq.annotation_paths[k] is None]
                if missing:
                    raise VosvfiError(f"DAVIS sequence {seq.name}: missing annotation for frame {missing[0]} (pass with_annotations=False to skip masks)")

    def __len__(self) -> int:
        return len(self.triplets)

    def __getitem__(self, index: int) -> dict[str, Tensor | str | int]:
        s, middle = self.triplets[index]
        seq = self.sequences[s]
        item: dict[str, Tensor | str | int] = {
            "frame0": seq.frame(middle - 1),
            "frame1": seq.frame(middle),
            "frame2": seq.frame(middle + 1),
        }
        if self.with_annotations:
            for k, frame in enumerate((middle - 1, middle, middle + 1)):
                item[f"mask{k}"] = seq.mask(frame)
            item["labels1"] = seq.labels(middle)
        item["name"] = f"{seq.name}/{seq.frame_paths[middle].stem}"
        item["sequence"] = seq.name
        item["index"] = middle
        return item
