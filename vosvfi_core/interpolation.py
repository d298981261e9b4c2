"""Frame interpolation for users: the device and precision to run on, batched interpolators, in-between frames.

An *interpolator* is any function from two ``[B, 3, H, W]`` frames in [0, 1] to their middle frame;
:func:`model_interpolator` makes one from a network (device, autocast precision, optional tiles),
and :func:`midpoints` turns one into the ``factor - 1`` frames between each pair (2x, 4x, 8x by
recursive midpoints), a batch of pairs at a time. Reading and writing videos is ``vosvfi_core.video``.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import Tensor, nn

from vosvfi_core.errors import VosvfiError
from vosvfi_core.io.images import IMAGE_SUFFIXES
from vosvfi_core.tiling import Interpolator, tiled

__all__ = [
    "SUPPORTED_FACTORS",
    "PRECISIONS",
    "Interpolator",
    "autocast_dtype",
    "model_interpolator",
    "interpolate_pair",
    "midpoints",
    "list_frames",
    "output_frame_name",
]

SUPPORTED_FACTORS = (2, 4, 8)
PRECISIONS = ("fp32", "bf16", "fp16")
# AdaCoF pads its input to a multiple of 32; tiles of such a size need no padding.
TILE_MULTIPLE = 32


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``--precision`` on ``device`` (None: plain float32), or one line why not."""
    if precision not in PRECISIONS:
        raise VosvfiError(f"--precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "fp32":
        return None
    if precision == "fp16" and device.type != "cuda":
        raise VosvfiError("--precision fp16 needs a CUDA device; on the CPU use bf16 or fp32")
    if precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise VosvfiError("--precision bf16: this GPU has no bfloat16 support; use fp16 or fp32")
    return torch.float16 if precision == "fp16" else torch.bfloat16


@contextlib.contextmanager
def kernel_estimation_in_float32(model: nn.Module) -> Iterator[None]:
    """Hand AdaCoF's kernels, offsets and occlusion to the sampling step as float32.

    Under autocast the U-Net's outputs are half precision while the frames stay float32, and the
    sampling op takes one dtype. Sampling is a handful of multiply-adds per tap, so it runs in
    float32 at little cost while the convolutions, nearly all of the time, run in half precision.
    """
    estimator = getattr(model, "get_kernel", None)
    if not isinstance(estimator, nn.Module):
        yield
        return
    handle = estimator.register_forward_hook(lambda _module, _inputs, outputs: tuple(t.float() for t in outputs))
    try:
        yield
    finally:
        handle.remove()


def model_interpolator(model: nn.Module, *, precision: str = "fp32", tile: int = 0, overlap: int = 0) -> Interpolator:
    """A batched interpolator over ``model``: inputs move to its device, outputs are float32 clamped to [0, 1].

    ``precision`` is ``fp32``, ``bf16`` or ``fp16`` (autocast); frames larger than ``tile`` pixels
    (0: never) run in overlapping tiles (``vosvfi_core.tiling``).
    """
    device = next(model.parameters()).device
    dtype = autocast_dtype(precision, device)

    @torch.no_grad()
    def run_network(frame0: Tensor, frame2: Tensor) -> Tensor:
        frame0, frame2 = frame0.to(device, torch.float32), frame2.to(device, torch.float32)
        if dtype is None:
            return model(frame0, frame2)
        with kernel_estimation_in_float32(model), torch.autocast(device.type, dtype=dtype):
            return model(frame0, frame2).float()

    tiled_network = tiled(run_network, tile=tile, overlap=overlap, multiple=TILE_MULTIPLE)

    def interpolate(frame0: Tensor, frame2: Tensor) -> Tensor:
        return tiled_network(frame0, frame2).clamp_(0, 1)

    return interpolate


@torch.no_grad()
def interpolate_pair(model: nn.Module, frame0: Tensor, frame2: Tensor) -> Tensor:
    """The middle of two ``[3, H, W]`` frames, on the model's device, clamped to [0, 1]."""
    return model_interpolator(model)(frame0.unsqueeze(0), frame2.unsqueeze(0)).squeeze(0)


def _check_factor(factor: int) -> None:
    if factor not in SUPPORTED_FACTORS and factor != 1:
        raise VosvfiError(f"--factor must be one of {SUPPORTED_FACTORS}, got {factor}")


def midpoints(interpolator: Interpolator, frame0: Tensor, frame2: Tensor, factor: int, *, batch: int = 0) -> list[Tensor]:
    """The ``factor - 1`` frames between each of the ``B`` pairs, in time order, each ``[B, 3, H, W]``.

    Recursive midpoints: the middle first, then the middles of each half. All pairs of one level
    go through ``interpolator`` together, ``batch`` pairs per call (0: all at once).
    """
    _check_factor(factor)
    if factor == 1:
        return []
    pairs = frame0.shape[0]
    step = batch if batch > 0 else pairs
    middle = torch.cat([interpolator(frame0[i : i + step], frame2[i : i + step]) for i in range(0, pairs, step)])
    if factor == 2:
        return [middle]
    # Both halves of every pair form one level: [frame0 | middle] against [middle | frame2].
    halves = midpoints(interpolator, torch.cat([frame0, middle]), torch.cat([middle, frame2]), factor // 2, batch=batch)
    return [h[:pairs] for h in halves] + [middle] + [h[pairs:] for h in halves]


def _natural_key(path: Path) -> list[object]:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def list_frames(folder: Path) -> list[Path]:
    """The png/jpg frames of ``folder`` in natural order (``2.png`` before ``10.png``)."""
    if not folder.is_dir():
        raise VosvfiError(f"input folder not found: {folder}")
    frames = sorted((p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES), key=_natural_key)
    if len(frames) < 2:
        raise VosvfiError(f"{folder} holds {len(frames)} png/jpg frame(s); at least 2 are needed")
    return frames


def output_frame_name(index: int, total: int, suffix: str) -> str:
    """Zero-padded to one width for the whole output, at least five digits."""
    width = max(5, len(str(total - 1)))
    return f"{index:0{width}d}{suffix}"
