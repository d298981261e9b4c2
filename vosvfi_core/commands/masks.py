"""``vosvfi masks DATASET_FOLDER``: foreground masks of a Vimeo-style tree, keyed by segmenter and weights, resumable."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from tqdm import tqdm

from vosvfi_core.devices import resolve_device
from vosvfi_core.errors import VosvfiError
from vosvfi_core.masks.frames import frames_for_vimeo, parse_shard, shard
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


def _run(args: argparse.Namespace) -> int:
    root = Path(args.dataset_folder)
    if not root.is_dir():
        raise VosvfiError(f"{root}: no such data set folder")
    index, count = parse_shard(args.shard)
    block = _segmenter_block(args)
    if args.weights is not None and not args.weights.is_file():
        raise VosvfiError(f"--weights: file not found: {args.weights}")
    device = resolve_device(args.device)
    frames = shard(frames_for_vimeo(root, args.split), index, count)
    # Everything is checked; now the expensive part: weights (perhaps a download) and the network.
    segmenter = SEGMENTERS.build(block, device)
    folder = masks_folder(root, segmenter.key, args.masks_root)
    with tqdm(total=len(frames), unit="mask", desc=segmenter.key, disable=True if args.quiet else None) as bar:
        rows = precompute_masks(root, frames, segmenter, dataset=root.name, masks_root=args.masks_root, progress=lambda row: bar.update())
    kept = sum(1 for row in rows if row["seconds"] == 0.0)
    print(f"{folder}: {len(rows)} masks of {args.split} shard {index + 1}/{count} ({len(rows) - kept} computed, {kept} kept)")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    masks = subparsers.add_parser("masks", help="foreground masks of a Vimeo-style data set folder (resumable, keyed by segmenter and weights)")
    masks.add_argument("dataset_folder", help="the data set folder holding vimeo_triplet/ (e.g. data/vimeo90k or data/demo)")
    masks.add_argument("--segmenter", default="deeplabv3_resnet101", help="deeplabv3_resnet101 (the paper's masks) or ground_truth (masks the data set ships)")
    masks.add_argument("--weights", type=Path, help="DeepLabV3 state dict file (default: torchvision's published file, downloaded once)")
    masks.add_argument("--split", default="train", choices=("train", "test"), help="train: all three frames of each triplet; test: the middle frames")
    masks.add_argument("--shard", default="1/1", help="do shard i of n (1 <= i <= n): shards cover every frame once")
    masks.add_argument("--batch-size", type=int, help="frames per forward pass (default 8)")
    masks.add_argument("--workers", type=int, help="DataLoader workers reading frames (default 2)")
    masks.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="where to run the network: auto (CUDA when present), cpu or cuda")
    masks.add_argument("--masks-root", type=Path, help="where the keyed masks folders go (default: DATASET_FOLDER/masks)")
    masks.add_argument("--no-download", action="store_true", help="never download weights; fail if the file is not in place")
    masks.add_argument("--quiet", action="store_true", help="no progress bar (it is off anyway when stderr is not a terminal)")
    masks.set_defaults(handler=_run)
