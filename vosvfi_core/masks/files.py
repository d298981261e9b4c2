"""Mask files: single-channel PNGs, 0 for background and 255 for foreground, written atomically."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor

from vosvfi_core.errors import VosvfiError
from vosvfi_core.io.atomic import atomic_path

__all__ = ["mask_array", "read_mask", "valid_mask", "write_mask"]

_READ_ERRORS = (UnidentifiedImageError, OSError, SyntaxError, ValueError)


def mask_array(mask: Tensor | np.ndarray) -> np.ndarray:
    """A ``[H, W]`` mask (bool, or anything where non-zero is foreground) as uint8 0/255."""
    array = mask.detach().cpu().numpy() if isinstance(mask, Tensor) else np.asarray(mask)
    if array.ndim != 2:
        raise ValueError(f"expected a [H, W] mask, got shape {tuple(array.shape)}")
    return np.where(array.astype(bool), 255, 0).astype(np.uint8)


def write_mask(path: Path, mask: Tensor | np.ndarray) -> None:
    """Write a ``[H, W]`` mask as an 8-bit grayscale PNG (0/255), atomically."""
    array = mask_array(mask)
    with atomic_path(path) as tmp:
        Image.fromarray(array, mode="L").save(tmp, format="PNG")


def read_mask(path: Path) -> Tensor:
    """Read a mask PNG as a ``[H, W]`` bool tensor; anything but one channel of 0/255 is an error."""
    if not Path(path).is_file():
        raise VosvfiError(f"mask not found: {path}")
    try:
        with Image.open(path) as image:
            if image.mode != "L":
                raise VosvfiError(f"{path}: a mask must be single-channel 8-bit (mode L), got mode {image.mode}")
            array = np.asarray(image)
    except _READ_ERRORS as error:
        raise VosvfiError(f"cannot read mask {path}: {error}") from None
    if not np.isin(array, (0, 255)).all():
        raise VosvfiError(f"{path}: mask values must be 0 or 255")
    return torch.from_numpy(array == 255)


def valid_mask(path: Path, size: tuple[int, int]) -> np.ndarray | None:
    """The ``[H, W]`` bool array of a mask file that decodes whole as mode L, 0/255, at ``size`` (H, W); else None.

    Missing, truncated, wrongly sized or wrongly valued files all give None: the caller recomputes them.
    """
    try:
        with Image.open(path) as image:
            if image.mode != "L" or (image.height, image.width) != tuple(size):
                return None
            image.load()  # decodes every row: a truncated file fails here
            array = np.asarray(image)
    except (FileNotFoundError, *_READ_ERRORS):
        return None
    foreground = array == 255
    if np.count_nonzero(foreground) + np.count_nonzero(array == 0) != array.size:
        return None
    return foreground
