"""Picture grids of one sample: the inputs, the frame average, each model's output, the truth and an error map.

A grid is a row-major table of equally sized tiles, each with a label strip above the image:

    frame0 | frame2 | frame average | <model 1> | … | <model n> | truth | |<model 1> − truth|

``columns`` tiles per row (the last row padded with the background colour). Where a mask is
given, its boundary is drawn on every model's output in :data:`BOUNDARY_COLOUR`, so a reader sees
how the object's edge came out. The error map is the per-pixel mean over RGB of |output − truth|
for the first model, mapped through matplotlib's ``magma`` from 0 to ``error_scale`` (clipped
above), a fixed scale so that maps of different samples compare.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch.nn.functional as F
from matplotlib import colormaps
from PIL import Image, ImageDraw
from torch import Tensor
from torch.utils.data import Dataset

from vosvfi_core.evaluation.interpolators import Interpolator
from vosvfi_core.io.atomic import atomic_path
from vosvfi_core.io.images import to_uint8

__all__ = ["BACKGROUND", "BOUNDARY_COLOUR", "LABEL_HEIGHT", "MODEL_TILE_OFFSET", "error_map", "mask_boundary", "picture_grid", "sample_pictures"]

LABEL_HEIGHT = 14  # pixels of the label strip above each tile (PIL's default font is about 11 px high)
BOUNDARY_COLOUR = (0, 255, 0)
BACKGROUND = (255, 255, 255)
MODEL_TILE_OFFSET = 3  # tiles before the first model's output (frame0, frame2, frame average)
_LABEL_COLOUR = (0, 0, 0)


def mask_boundary(mask: Tensor) -> Tensor:
    """``[H, W]`` bool: the mask's pixels with a background pixel among their 8 neighbours (the frame's edge does not count)."""
    foreground = _plane(mask) > 0.5
    background = (~foreground).float()[None, None]
    # Replicate padding: a mask touching the frame's edge has no boundary along it.
    near_background = F.max_pool2d(F.pad(background, (1, 1, 1, 1), mode="replicate"), kernel_size=3, stride=1)[0, 0] > 0
    return foreground & near_background


def error_map(output: Tensor, truth: Tensor, *, scale: float = 0.2, size: tuple[int, int] | None = None) -> np.ndarray:
    """``[H, W, 3]`` uint8: mean over RGB of |output − truth| through ``magma``, 0 → black, ``scale`` and above → the brightest colour.

    ``size`` (H, W): the error is computed at full resolution, then averaged over areas down to ``size``.
    """
    if scale <= 0:
        raise ValueError(f"error scale must be positive, got {scale}")
    error = (output.detach().float().cpu() - truth.detach().float().cpu()).abs().mean(dim=0)
    if size is not None and tuple(size) != tuple(error.shape):
        error = F.interpolate(error[None, None], size=size, mode="area")[0, 0]
    levels = (error / scale).clamp(0, 1).numpy()
    return (colormaps["magma"](levels)[..., :3] * 255).round().astype(np.uint8)


def _plane(mask: Tensor) -> Tensor:
    """A ``[H, W]`` or ``[1, H, W]`` mask as ``[H, W]`` on the CPU."""
    if mask.dim() == 3 and mask.shape[0] == 1:
        mask = mask[0]
    if mask.dim() != 2:
        raise ValueError(f"expected a [H, W] or [1, H, W] mask, got {tuple(mask.shape)}")
    return mask.detach().cpu()


def _labelled(image: np.ndarray, label: str) -> Image.Image:
    height, width = image.shape[:2]
    tile = Image.new("RGB", (width, height + LABEL_HEIGHT), BACKGROUND)
    tile.paste(Image.fromarray(image), (0, LABEL_HEIGHT))
    ImageDraw.Draw(tile).text((2, 1), label, fill=_LABEL_COLOUR)
    return tile


def _shown_size(height: int, width: int, max_side: int) -> tuple[int, int]:
    """(H, W) scaled down so that neither side exceeds ``max_side``; unchanged when it fits."""
    scale = min(1.0, max_side / max(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))


def _shrunk(frame: Tensor, size: tuple[int, int]) -> Tensor:
    if tuple(frame.shape[-2:]) == size:
        return frame
    return F.interpolate(frame.detach().float().cpu()[None], size=size, mode="area")[0]


def picture_name(sample: str) -> str:
    """A sample's name as a file name (``seq/00017`` → ``seq_00017.png``)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", sample) + ".png"


def picture_grid(
    frame0: Tensor,
    frame2: Tensor,
    outputs: Mapping[str, Tensor],
    truth: Tensor,
    mask: Tensor | None,
    path: Path,
    *,
    columns: int = 4,
    error_scale: float = 0.2,
    max_side: int = 1024,
) -> Path:
    """Write the grid of one sample to ``path`` (PNG, atomically) and return ``path``.

    Frames are ``[3, H, W]`` in [0, 1] (outputs are clamped for display), all of one size, shown
    at most ``max_side`` pixels wide and high (larger ones are area-averaged down, so a grid of 4K
    frames stays a picture for a report, not hundreds of MB);
    ``outputs`` maps a model's name to its interpolated frame, in display order (at least one);
    ``mask`` (``[H, W]`` or ``[1, H, W]``, foreground > 0.5) is the object mask of the middle frame.
    """
    if not outputs:
        raise ValueError("picture_grid needs at least one model output")
    if columns < 1:
        raise ValueError(f"columns must be at least 1, got {columns}")
    frames = {"frame0": frame0, "frame2": frame2, "truth": truth, **{f"output {name!r}": t for name, t in outputs.items()}}
    shapes = {name: tuple(t.shape) for name, t in frames.items()}
    if len(set(shapes.values())) != 1 or len(frame0.shape) != 3 or frame0.shape[0] != 3:
        raise ValueError(f"picture_grid needs [3, H, W] frames of one size, got {shapes}")
    if max_side < 1:
        raise ValueError(f"max_side must be at least 1, got {max_side}")
    if mask is not None and tuple(_plane(mask).shape) != tuple(frame0.shape[-2:]):
        raise ValueError(f"mask {tuple(mask.shape)} does not match the frames {tuple(frame0.shape)}")
    size = _shown_size(frame0.shape[-2], frame0.shape[-1], max_side)
    first_name, first_output = next(iter(outputs.items()))
    error = error_map(first_output, truth, scale=error_scale, size=size)
    frame0, frame2, truth = _shrunk(frame0, size), _shrunk(frame2, size), _shrunk(truth, size)
    outputs = {name: _shrunk(output, size) for name, output in outputs.items()}
    boundary = None
    if mask is not None:
        shown = F.interpolate(_plane(mask).float()[None, None], size=size, mode="nearest")[0, 0] if size != tuple(mask.shape[-2:]) else mask
        boundary = mask_boundary(shown).numpy()

    tiles = [_labelled(to_uint8(frame0), "frame0"), _labelled(to_uint8(frame2), "frame2")]
    tiles.append(_labelled(to_uint8((frame0 + frame2) / 2), "frame average"))
    for name, output in outputs.items():
        image = to_uint8(output)
        if boundary is not None:
            image[boundary] = BOUNDARY_COLOUR
        tiles.append(_labelled(image, name))
    tiles.append(_labelled(to_uint8(truth), "truth"))
    tiles.append(_labelled(error, f"|error| 0-{error_scale:g} {first_name}"))

    tile_width, tile_height = tiles[0].size
    rows = -(-len(tiles) // columns)
    grid = Image.new("RGB", (min(columns, len(tiles)) * tile_width, rows * tile_height), BACKGROUND)
    for index, tile in enumerate(tiles):
        grid.paste(tile, ((index % columns) * tile_width, (index // columns) * tile_height))
    path = Path(path)
    with atomic_path(path) as tmp:
        grid.save(tmp, format="PNG")
    return path


def sample_pictures(
    interpolators: Sequence[Interpolator],
    dataset: Dataset,
    folder: Path,
    *,
    count: int,
    error_scale: float = 0.2,
) -> list[Path]:
    """Grids of the first ``count`` samples of ``dataset`` in ``folder`` (one PNG per sample, named after it).

    Each interpolator runs once more on those samples (a few frames; the scores come from
    ``evaluate``). ``frame_average`` has its own tile in every grid, so it is not repeated as a
    model; the first other interpolator gets the error map. The item's ``mask1``, where the data
    set gives one, is drawn on the outputs.
    """
    models = [i for i in interpolators if i.name != "frame_average"]
    if not models or count <= 0:
        return []
    written = []
    for index in range(min(count, len(dataset))):  # type: ignore[arg-type]
        item = dataset[index]
        frame0, frame2 = item["frame0"], item["frame2"]
        outputs = {model.name: model(frame0.unsqueeze(0), frame2.unsqueeze(0)).squeeze(0) for model in models}
        path = Path(folder) / picture_name(str(item["name"]))
        written.append(picture_grid(frame0, frame2, outputs, item["frame1"], item.get("mask1"), path, error_scale=error_scale))
    return written
