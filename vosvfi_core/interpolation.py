"""Frame interpolation for users: the device and precision to run on, batched interpolators, in-between frames.

An *interpolator* is any function from two ``[B, 3, H, W]`` frames in [0, 1] to their middle frame;
:func:`network_runner` runs a network as fast as the device allows (autocast precision, memory
format), :func:`model_interpolator` makes an interpolator of it (clamped output, optional tiles),
and :func:`midpoints` turns one into the ``factor - 1`` frames between each pair (2x, 4x, 8x by
recursive midpoints), a batch of pairs at a time. Reading and writing videos is ``vosvfi_core.video``.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
from torch import Tensor, nn

from vosvfi_core.errors import VosvfiError
from vosvfi_core.io.images import IMAGE_SUFFIXES
from vosvfi_core.precision import PRECISIONS, autocast_dtype
from vosvfi_core.tiling import Interpolator, tiled

__all__ = [
    "SUPPORTED_FACTORS",
    "PRECISIONS",
    "Interpolator",
    "autocast_dtype",
    "model_interpolator",
    "network_runner",
    "occlusion_in_float32",
    "prefers_channels_last",
    "prepare_for_inference",
    "interpolate_pair",
    "midpoints",
    "list_frames",
    "output_frame_name",
]

SUPPORTED_FACTORS = (2, 4, 8)
# AdaCoF pads its input to a multiple of 32; tiles of such a size need no padding.
TILE_MULTIPLE = 32


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


@contextlib.contextmanager
def occlusion_in_float32(model: nn.Module) -> Iterator[None]:
    """For inference under autocast: widen AdaCoF's occlusion map (the last output) to float32.

    The sampling op reads half-precision kernels and offsets as float32 itself (exactly, and on the
    CPU without a copy), so only the occlusion, which the blend ``o * a + (1 - o) * b`` uses,
    needs widening: the result equals :func:`kernel_estimation_in_float32`'s, without the copies.
    """
    estimator = getattr(model, "get_kernel", None)
    if not isinstance(estimator, nn.Module):
        yield
        return
    handle = estimator.register_forward_hook(lambda _module, _inputs, outputs: (*outputs[:-1], outputs[-1].float()))
    try:
        yield
    finally:
        handle.remove()


def prefers_channels_last(device: torch.device) -> bool:
    """Whether the U-Net is fed NHWC tensors: on the CPU, where oneDNN's convolutions run them faster.

    Measured with ``benchmarks/bench_network.py`` (float32 and bfloat16 alike). The inputs are
    converted here, and the convolutions keep NHWC; :func:`prepare_for_inference` converts the
    weights too, a few per cent more, for models the caller owns. On a GPU nothing changes.
    """
    return device.type == "cpu" and torch.backends.mkldnn.is_available()


def prepare_for_inference(model: nn.Module) -> nn.Module:
    """``model`` in eval mode, its weights in the layout :func:`prefers_channels_last` asks for (in place; for a model the caller owns)."""
    device = next(model.parameters()).device
    if prefers_channels_last(device):
        model.to(memory_format=torch.channels_last)
    return model.eval()


def network_runner(model: nn.Module, *, precision: str = "fp32") -> Callable[[Tensor, Tensor], Tensor]:
    """``model`` as a no-grad function of two ``[B, 3, H, W]`` frames: float32 out on its device, unclamped.

    Inputs move to the model's device (NHWC where :func:`prefers_channels_last`); ``precision`` is
    a request of ``vosvfi_core.precision`` (``auto``, ``fp32``, ``bf16``, ``fp16``) for autocast.
    """
    device = next(model.parameters()).device
    dtype = autocast_dtype(precision, device)
    memory_format = torch.channels_last if prefers_channels_last(device) else torch.contiguous_format

    @torch.no_grad()
    def run(frame0: Tensor, frame2: Tensor) -> Tensor:
        frame0 = frame0.to(device, torch.float32).contiguous(memory_format=memory_format)
        frame2 = frame2.to(device, torch.float32).contiguous(memory_format=memory_format)
        if dtype is None:
            return model(frame0, frame2)
        with occlusion_in_float32(model), torch.autocast(device.type, dtype=dtype):
            return model(frame0, frame2).float()

    return run


def model_interpolator(model: nn.Module, *, precision: str = "fp32", tile: int = 0, overlap: int = 0) -> Interpolator:
    """A batched interpolator over ``model``: inputs move to its device, outputs are float32 clamped to [0, 1].

    ``precision`` is ``auto``, ``fp32``, ``bf16`` or ``fp16`` (autocast, :func:`network_runner`);
    frames larger than ``tile`` pixels (0: never) run in overlapping tiles (``vosvfi_core.tiling``).
    """
    tiled_network = tiled(network_runner(model, precision=precision), tile=tile, overlap=overlap, multiple=TILE_MULTIPLE)

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
