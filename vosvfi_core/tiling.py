"""Overlapping-tile inference: run any frame interpolator on frames too large to pass whole.

A frame is cut, along each axis, into the fewest tiles of at most ``tile`` pixels that overlap by
at least ``overlap`` pixels, spread evenly so that no tile is wasted on a sliver. Each tile's output
is weighted by a separable map and the weighted tiles are summed. Between two neighbouring tiles
the weight passes from one to the other along a raised-cosine ramp ``overlap // 2`` pixels wide,
centred in their overlap; outside that band a pixel belongs to exactly one tile. The weights of
every pixel sum to one exactly (they telescope, see :func:`blend_weights`), and each tile
contributes nothing within ``overlap // 4`` pixels of an edge it shares with a neighbour, where a
convolutional network sees padding instead of the frame. An operator whose output at a pixel
depends only on inputs within ``overlap // 4`` pixels therefore gives the same frame tiled or whole.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from vosvfi_core.errors import VosvfiError

__all__ = ["DEFAULT_TILE", "DEFAULT_OVERLAP", "Interpolator", "check_tiling", "tile_spans", "blend_weights", "interpolate_tiled", "tiled"]

# A 1024-pixel AdaCoF tile takes about 1.5 GB on the CPU; 720p runs as two tiles 10 % wider than
# the frame, 4K as fifteen (a tiled 4K pair peaked at 1.2 GiB, benchmarks/bench_video.py). An overlap of 128 keeps every tile's contribution 32 pixels away from
# its cut edges, where a warp reaching past the tile would see padding.
DEFAULT_TILE = 1024
DEFAULT_OVERLAP = 128

# Two [B, 3, H, W] frames in, the middle frame [B, 3, H, W] out.
Interpolator = Callable[[Tensor, Tensor], Tensor]


def check_tiling(tile: int, overlap: int) -> None:
    """One line for tile settings that cannot work; ``tile == 0`` means no tiling."""
    if tile == 0:
        return
    if tile < 0 or overlap < 0:
        raise VosvfiError(f"--tile and --tile-overlap must not be negative, got {tile} and {overlap}")
    if 2 * overlap > tile:
        raise VosvfiError(f"--tile-overlap {overlap} is more than half of --tile {tile}; use a larger tile or a smaller overlap")


def tile_spans(size: int, tile: int, overlap: int, *, multiple: int = 1) -> list[tuple[int, int]]:
    """``[(start, stop), ...]`` covering ``0..size``: one span when ``size <= tile`` (or ``tile == 0``).

    All spans have one length: the shortest multiple of ``multiple`` (capped at ``tile``) with which
    the fewest possible tiles cover the axis while overlapping by at least ``overlap``.
    """
    if tile == 0 or size <= tile:
        return [(0, size)]
    check_tiling(tile, overlap)
    count = math.ceil((size - overlap) / (tile - overlap))
    length = math.ceil((size + (count - 1) * overlap) / count)
    length = min(tile, size, -(-length // multiple) * multiple)
    starts = [round(index * (size - length) / (count - 1)) for index in range(count)]
    return [(start, start + length) for start in starts]


def _raised_cosine_rise(size: int, band_start: int, band_width: int) -> Tensor:
    """0 before the band, 1 after it, a raised cosine across it (sampled at pixel centres)."""
    positions = torch.arange(size, dtype=torch.float64)
    if band_width == 0:
        return (positions >= band_start).double()
    t = ((positions + 0.5 - band_start) / band_width).clamp(0, 1)
    return 0.5 - 0.5 * torch.cos(math.pi * t)


def blend_weights(size: int, spans: list[tuple[int, int]], overlap: int) -> Tensor:
    """``[len(spans), size]`` float32 weights of each span along one axis; they sum to one per pixel.

    ``rise[k]`` climbs from 0 to 1 inside the overlap of spans ``k - 1`` and ``k`` (``rise[0] = 1``,
    ``rise[n] = 0``); span ``k`` gets ``rise[k] - rise[k + 1]``, so the sum over spans telescopes to
    ``rise[0] - rise[n] = 1`` and is zero outside the span.
    """
    band = max(1, overlap // 2)
    rises = [torch.ones(size, dtype=torch.float64)]
    for (_, previous_stop), (start, _) in zip(spans, spans[1:]):
        shared = previous_stop - start
        width = min(band, shared)
        rises.append(_raised_cosine_rise(size, start + (shared - width) // 2, width))
    rises.append(torch.zeros(size, dtype=torch.float64))
    return torch.stack([rises[k] - rises[k + 1] for k in range(len(spans))]).float()


def interpolate_tiled(interpolator: Interpolator, frame0: Tensor, frame2: Tensor, *, tile: int, overlap: int, multiple: int = 1) -> Tensor:
    """``interpolator`` run tile by tile on ``[B, 3, H, W]`` frames and blended; whole when it fits.

    The output is accumulated on the device and in the float precision the interpolator returns
    (float32 for half-precision tiles), so the memory peak is one tile's inference plus three frames.
    """
    if frame0.shape != frame2.shape or frame0.dim() != 4:
        raise ValueError(f"expected two [B, C, H, W] frames of one shape, got {tuple(frame0.shape)} and {tuple(frame2.shape)}")
    height, width = frame0.shape[-2:]
    rows, columns = tile_spans(height, tile, overlap, multiple=multiple), tile_spans(width, tile, overlap, multiple=multiple)
    if len(rows) == 1 and len(columns) == 1:
        return interpolator(frame0, frame2)
    row_weights, column_weights = blend_weights(height, rows, overlap), blend_weights(width, columns, overlap)
    output: Tensor | None = None
    for row, (top, bottom) in enumerate(rows):
        for column, (left, right) in enumerate(columns):
            piece = interpolator(frame0[..., top:bottom, left:right], frame2[..., top:bottom, left:right])
            if output is None:
                dtype = torch.promote_types(piece.dtype, torch.float32)
                output = piece.new_zeros((*piece.shape[:-2], height, width), dtype=dtype)
            weight = row_weights[row, top:bottom, None] * column_weights[column, None, left:right]  # [h, w]
            output[..., top:bottom, left:right] += piece.to(output.dtype) * weight.to(piece.device, output.dtype)
    assert output is not None
    return output


def tiled(interpolator: Interpolator, *, tile: int, overlap: int, multiple: int = 1) -> Interpolator:
    """``interpolator`` wrapped to run in tiles (``tile == 0``: returned unchanged)."""
    check_tiling(tile, overlap)
    if tile == 0:
        return interpolator

    def run(frame0: Tensor, frame2: Tensor) -> Tensor:
        return interpolate_tiled(interpolator, frame0, frame2, tile=tile, overlap=overlap, multiple=multiple)

    return run
