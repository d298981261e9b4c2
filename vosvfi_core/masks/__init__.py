"""Foreground masks of data set frames: segmenters (DeepLabV3, shipped ground truth), keyed and resumable precomputation."""

from vosvfi_core.masks.deeplabv3 import DEEPLAB_CLASSES, DEEPLABV3_RESNET101_WEIGHTS, foreground, load_deeplabv3
from vosvfi_core.masks.files import read_mask, valid_mask, write_mask
from vosvfi_core.masks.frames import FrameRef, frames_for_evaluation, frames_for_training, frames_for_vimeo, parse_shard, shard
from vosvfi_core.masks.ground_truth import shipped_mask_path
from vosvfi_core.masks.precompute import MASKS_FOLDER, MaskRow, keyed_mask_path, mask_subpath, masks_folder, precompute_masks, vimeo_masks_dir
from vosvfi_core.masks.segmenters import SEGMENTERS, Segmenter, segmenter_key

__all__ = [
    "DEEPLABV3_RESNET101_WEIGHTS",
    "DEEPLAB_CLASSES",
    "MASKS_FOLDER",
    "SEGMENTERS",
    "FrameRef",
    "MaskRow",
    "Segmenter",
    "foreground",
    "frames_for_evaluation",
    "frames_for_training",
    "frames_for_vimeo",
    "load_deeplabv3",
    "keyed_mask_path",
    "mask_subpath",
    "masks_folder",
    "parse_shard",
    "precompute_masks",
    "read_mask",
    "segmenter_key",
    "shard",
    "shipped_mask_path",
    "valid_mask",
    "vimeo_masks_dir",
    "write_mask",
]
