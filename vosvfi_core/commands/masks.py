"""``vosvfi masks DATASET``: foreground masks of a data set's frames, keyed by segmenter and weights, resumable.

DATASET is a name of the data-set table (its training frames, or its evaluation split's middle
frames, which the object-aware metrics read) or a folder holding a Vimeo-style tree.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from tqdm import tqdm

from vosvfi_core.config import load_profile
from vosvfi_core.data.catalog import data_root
from vosvfi_core.data.local import prepared_folder
from vosvfi_core.data.sets import FOLDER_PREFIX, data_set, data_set_names
from vosvfi_core.devices import resolve_device
from vosvfi_core.errors import VosvfiError
from vosvfi_core.masks.evaluation_sets import evaluation_set_frames
from vosvfi_core.masks.frames import FrameRef, frames_for_training, frames_for_vimeo, parse_shard, shard
from vosvfi_core.masks.precompute import masks_folder, precompute_masks
from vosvfi_core.masks.segmenters import SEGMENTERS

__all__ = ["register"]

# Command-line option → the segmenter factory's keyword argument.
_SEGMENTER_OPTIONS = {"--weights": "weights", "--batch-size": "batch_size", "--workers": "num_workers", "--no-download": "download"}


def _segmenter_block(args: argparse.Namespace) -> dict[str, Any]:
    """The segmenter's config block from the options given; an option the segmenter does not take is an error."""
    given = {"--weights": args.weights, "--batch-size": args.batch_size, "--workers": args.workers, "--no-download": False if args.no_download else None}
    entry = SEGMENTERS.entry(args.segmenter)
    block: dict[str, Any] = {"type": entry.name}
    for option, value in given.items():
        if value is None:
            continue
        field = _SEGMENTER_OPTIONS[option]
        if field not in entry.params.model_fields:
            raise VosvfiError(f"{option}: segmenter {entry.name} has no {field} setting")
        block[field] = value
    try:
        return SEGMENTERS.check(block).model_dump()
    except ValueError as error:
        raise VosvfiError(str(error)) from None


def _vimeo_folder(args: argparse.Namespace) -> tuple[Path, list[FrameRef], Path | None, str]:
    root = Path(args.dataset)
    if not root.is_dir():
        known = ", ".join(data_set_names(kind="triplets"))
        raise VosvfiError(f"{root}: neither a data set folder nor a data set name ({known}, or folder:PATH)")
    split = args.split or "train"
    return root, frames_for_vimeo(root, split), args.masks_root, split


def _named_set(args: argparse.Namespace) -> tuple[Path, list[FrameRef], Path | None, str]:
    """A data set of the table: its training triplets' frames, or its evaluation split's middle frames."""
    spec = data_set(args.dataset)
    profile = load_profile(args.profile)
    folder = prepared_folder(profile, spec.name, data_root())
    if folder is None and spec.local_folder:
        raise VosvfiError(f"data set {spec.name}: folder not found")
    if folder is None:
        raise VosvfiError(f"data set {spec.name} is not in place under {data_root()}; prepare it first: vosvfi data download {spec.catalog}")
    split = args.split or ("train" if spec.train_split else "test")
    if split == "train":
        if not spec.train_split:
            raise VosvfiError(f"--split train: data set {spec.name} has no training triplets")
        return folder, frames_for_training(folder), args.masks_root, split
    frames, masks_root = evaluation_set_frames(spec.name, folder, data_root())
    return folder, frames, args.masks_root or masks_root, split


def _run(args: argparse.Namespace) -> int:
    named = args.dataset in data_set_names() or args.dataset.startswith(FOLDER_PREFIX)
    index, count = parse_shard(args.shard)
    block = _segmenter_block(args)
    if args.weights is not None and not args.weights.is_file():
        raise VosvfiError(f"--weights: file not found: {args.weights}")
    device = resolve_device(args.device)
    root, frames, masks_root, split = _named_set(args) if named else _vimeo_folder(args)
    frames = shard(frames, index, count)
    # Everything is checked; now the expensive part: weights (perhaps a download) and the network.
    segmenter = SEGMENTERS.build(block, device)
    folder = masks_folder(root, segmenter.key, masks_root)
    with tqdm(total=len(frames), unit="mask", desc=segmenter.key, disable=True if args.quiet else None) as bar:
        rows = precompute_masks(root, frames, segmenter, dataset=args.dataset if named else root.name, masks_root=masks_root, progress=lambda row: bar.update())
    kept = sum(1 for row in rows if row["seconds"] == 0.0)
    print(f"{folder}: {len(rows)} masks of {split} shard {index + 1}/{count} ({len(rows) - kept} computed, {kept} kept)")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    masks = subparsers.add_parser("masks", help="foreground masks of a data set's frames (resumable, keyed by segmenter and weights)")
    masks.add_argument(
        "dataset",
        help="a data set name (vimeo90k, middlebury_other, snufilm_hard, folder:PATH, ...) found as `vosvfi run data` leaves it, "
        "or a folder holding vimeo_triplet/ (e.g. data/demo)",
    )
    masks.add_argument("--profile", default="demo", help="for a data set name: the profile whose data.local copies count (default demo)")
    masks.add_argument("--segmenter", default="deeplabv3_resnet101", help="deeplabv3_resnet101 (the paper's masks) or ground_truth (masks the data set ships)")
    masks.add_argument("--weights", type=Path, help="DeepLabV3 state dict file (default: torchvision's published file, downloaded once)")
    masks.add_argument(
        "--split",
        choices=("train", "test"),
        help="train: all three frames of each training triplet; test: the middle frames of the evaluation triplets "
        "(default: train where the data set has training triplets, else test)",
    )
    masks.add_argument("--shard", default="1/1", help="do shard i of n (1 <= i <= n): shards cover every frame once")
    masks.add_argument("--batch-size", type=int, help="frames per forward pass (default 8)")
    masks.add_argument("--workers", type=int, help="DataLoader workers reading frames (default: 2 on CUDA, none on the CPU)")
    masks.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="where to run the network: auto (CUDA when present), cpu or cuda")
    masks.add_argument(
        "--masks-root",
        type=Path,
        help="where the keyed masks folders go (default: the data set folder's masks/ for training frames; "
        "<data root>/masks/<catalog entry>-<hash> for evaluation frames, where evaluation reads them)",
    )
    masks.add_argument("--no-download", action="store_true", help="never download weights; fail if the file is not in place")
    masks.add_argument("--quiet", action="store_true", help="no progress bar (it is off anyway when stderr is not a terminal)")
    masks.set_defaults(handler=_run)
