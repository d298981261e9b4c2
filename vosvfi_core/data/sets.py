"""The one table of data sets: every name a profile may use, and what it is.

For each name: the catalog entry that holds its files (``demo`` is the generated synthetic tree),
the split evaluation reads, its kind (``triplets``, ``sequences`` — DAVIS-style videos with object
annotations, which also give triplets by the x2 protocol — or ``tracking``), whether it carries
object masks, and how to open it. Config validation, the data stage, training, evaluation and the
downstream checks all read this table; no other module spells a data set's name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from torch.utils.data import Dataset

from vosvfi_core.data.datasets import DavisSequences, DavisX2, FolderTriplets, MiddleburyOther, SnuFilm, TrackingSequences, UCF101Triplets, VimeoTriplets
from vosvfi_core.errors import VosvfiError

__all__ = [
    "DATA_SETS",
    "DEMO_CATALOG_ENTRY",
    "FOLDER_CATALOG",
    "FOLDER_PREFIX",
    "DataSetSpec",
    "data_set",
    "data_set_names",
    "folder_root",
    "folder_spec",
]

DEMO_CATALOG_ENTRY = "demo"  # the catalog entry of the generated tree (<data root>/demo)
FOLDER_PREFIX = "folder:"  # a data-set name ``folder:PATH`` reads the triplets under PATH
FOLDER_CATALOG = "folder"  # the catalog value of such a data set: no catalog entry, a local folder read in place

Kind = Literal["triplets", "sequences", "tracking"]


def _vimeo(folder: str = "") -> Callable[..., Dataset]:
    def open_triplets(
        root: Path, split: str, *, with_masks: bool = False, crop: int | None = None, augment: bool = False, masks_dir: Path | None = None
    ) -> Dataset:
        return VimeoTriplets(Path(root) / folder if folder else root, split, crop=crop, augment=augment, with_masks=with_masks, masks_dir=masks_dir)

    return open_triplets


def _davis_x2(root: Path, split: str, *, with_masks: bool = False) -> Dataset:
    return DavisX2(root, split, with_annotations=with_masks)


def _snufilm(level: str) -> Callable[..., Dataset]:
    return lambda root, split, *, with_masks=False: SnuFilm(root, level)


@dataclass(frozen=True)
class DataSetSpec:
    name: str
    catalog: str  # the catalog entry whose folder holds the files; "folder" for a user's folder of triplets (folder:PATH)
    kind: Kind
    split: str  # the split evaluation and the downstream checks read
    has_masks: bool  # object masks ship with the data (else the masks stage makes them)
    triplets: Callable[..., Dataset] | None = None  # (root, split, *, with_masks=..., ...) → items frame0..frame2
    sequences: Callable[[Path, str], Dataset] | None = None  # (root, split) → DavisSequence / TrackingSequence items
    train_split: str | None = None  # the split a model can be trained on, if any

    @property
    def generated(self) -> bool:
        """Made by our synthetic generator (no download)."""
        return self.catalog == DEMO_CATALOG_ENTRY

    @property
    def local_folder(self) -> bool:
        """A user's own folder of triplets (``folder:PATH``): no catalog entry, read in place, nothing downloaded."""
        return self.catalog == FOLDER_CATALOG

    def open_triplets(self, root: Path, *, with_masks: bool = False, train: bool = False, **options: object) -> Dataset:
        split = self.train_split if train else self.split
        if self.triplets is None or split is None:
            raise VosvfiError(f"data set {self.name!r} has no {'training ' if train else ''}triplets")
        # Training sets without shipped masks get them from the masks stage, where the reader finds them.
        if with_masks and not self.has_masks and not (train and self.train_split is not None):
            raise VosvfiError(f"data set {self.name!r} has no object masks")
        return self.triplets(root, split, with_masks=with_masks, **options)

    def open_sequences(self, root: Path) -> Dataset:
        if self.sequences is None:
            raise VosvfiError(f"data set {self.name!r} holds no {self.kind} sequences")
        return self.sequences(root, self.split)


_TABLE = (
    DataSetSpec("synthetic", DEMO_CATALOG_ENTRY, "triplets", "test", True, triplets=_vimeo(), train_split="train"),
    DataSetSpec("synthetic_davis", DEMO_CATALOG_ENTRY, "sequences", "val", True, triplets=_davis_x2, sequences=DavisSequences),
    DataSetSpec("synthetic_tracking", DEMO_CATALOG_ENTRY, "tracking", "all", False, sequences=lambda root, split: TrackingSequences(Path(root) / "tracking")),
    DataSetSpec("vimeo90k", "vimeo90k", "triplets", "test", False, triplets=_vimeo(), train_split="train"),
    DataSetSpec("middlebury_other", "middlebury_other", "triplets", "other", False, triplets=lambda root, split, *, with_masks=False: MiddleburyOther(root)),
    DataSetSpec("ucf101", "ucf101", "triplets", "test", False, triplets=lambda root, split, *, with_masks=False: UCF101Triplets(root)),
    # The x2 protocol and foreground PSNR of the original use DAVIS 2016.
    DataSetSpec("davis", "davis2016", "sequences", "val", True, triplets=_davis_x2, sequences=DavisSequences),
    *(DataSetSpec(f"snufilm_{level}", "snufilm", "triplets", "test", False, triplets=_snufilm(level)) for level in ("easy", "medium", "hard", "extreme")),
    DataSetSpec("otb100", "otb100", "tracking", "all", False, sequences=lambda root, split: TrackingSequences(root)),
)
DATA_SETS: dict[str, DataSetSpec] = {spec.name: spec for spec in _TABLE}


def _open_folder(root: Path, split: str, *, with_masks: bool = False) -> Dataset:
    return FolderTriplets(root)


def folder_spec(path: str | Path) -> DataSetSpec:
    """The data set ``folder:PATH``: the triplets under ``path``, no masks, nothing to download, split ``all``.

    The spec's ``name`` keeps the path as written (it is what the profile and the result tables
    show); the folder itself is opened from the root the data stage passes, which for a folder
    data set is :func:`folder_root` of the name.
    """
    text = str(path)
    if not text.strip():
        raise VosvfiError(f"data set {FOLDER_PREFIX!r} needs a folder after the colon, e.g. folder:/path/to/triplets")
    return DataSetSpec(f"{FOLDER_PREFIX}{text}", FOLDER_CATALOG, "triplets", "all", False, triplets=_open_folder)


def folder_root(name: str) -> Path:
    """The folder of the data set ``folder:PATH``, absolute (a relative PATH is read from the working directory)."""
    if not name.startswith(FOLDER_PREFIX):
        raise VosvfiError(f"data set {name!r} is not a folder of triplets (folder:PATH)")
    return Path(name.removeprefix(FOLDER_PREFIX)).expanduser().absolute()


def data_set_names(*, kind: Kind | None = None, trainable: bool = False) -> list[str]:
    return [s.name for s in _TABLE if (kind is None or s.kind == kind or (kind == "triplets" and s.triplets)) and (not trainable or s.train_split)]


def data_set(name: str) -> DataSetSpec:
    if name.startswith(FOLDER_PREFIX):
        return folder_spec(name.removeprefix(FOLDER_PREFIX))
    if name not in DATA_SETS:
        raise VosvfiError(f"unknown data set {name!r}; known: {', '.join(DATA_SETS)}, or {FOLDER_PREFIX}PATH (a folder of triplets)")
    return DATA_SETS[name]
