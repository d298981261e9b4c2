"""Texture look-ups with mirrored edges: integer coordinates read texels exactly."""

from __future__ import annotations

import numpy as np

__all__ = ["mirror_index", "sample_bilinear", "sample_separable", "sample_translated"]


def mirror_index(index: np.ndarray, size: int) -> np.ndarray:
    """Fold integer indices into ``[0, size)`` by mirroring at the edges (… 1 0 | 0 1 … size-1 | size-1 …)."""
    period = 2 * size
    index = np.mod(index, period)
    return np.where(index >= size, period - 1 - index, index)


def sample_bilinear(texture: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Bilinear samples of ``texture`` [h, w, C] at (x, y); a point with integer coordinates gets its texel exactly."""
    height, width, channels = texture.shape
    x0 = np.floor(x)
    y0 = np.floor(y)
    fx = x - x0
    fy = y - y0
    x0 = x0.astype(np.int64)
    y0 = y0.astype(np.int64)
    c0, c1 = mirror_index(x0, width), mirror_index(x0 + 1, width)
    r0, r1 = mirror_index(y0, height) * width, mirror_index(y0 + 1, height) * width
    flat = texture.reshape(-1, channels)
    out = ((1.0 - fx) * (1.0 - fy))[..., None] * np.take(flat, r0 + c0, axis=0)
    out += (fx * (1.0 - fy))[..., None] * np.take(flat, r0 + c1, axis=0)
    out += ((1.0 - fx) * fy)[..., None] * np.take(flat, r1 + c0, axis=0)
    out += (fx * fy)[..., None] * np.take(flat, r1 + c1, axis=0)
    return out


def sample_translated(texture: np.ndarray, ox: float, oy: float, height: int, width: int) -> np.ndarray:
    """``sample_bilinear`` on the pixel grid shifted by (ox, oy), i.e. ``out[y, x] = texture(x + ox, y + oy)``.

    A pure translation has one fractional part for all pixels, so inside the texture this is a
    weighted sum of four slices (the same values as ``sample_bilinear``, much faster).
    """
    ix, iy = int(np.floor(ox)), int(np.floor(oy))
    fx, fy = ox - ix, oy - iy
    tex_h, tex_w = texture.shape[:2]
    if ix < 0 or iy < 0 or ix + width + 1 > tex_w or iy + height + 1 > tex_h:
        ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
        return sample_bilinear(texture, xs + ox, ys + oy)
    window = texture[iy : iy + height + 1, ix : ix + width + 1]
    out = ((1.0 - fx) * (1.0 - fy)) * window[:-1, :-1]
    out += (fx * (1.0 - fy)) * window[:-1, 1:]
    out += ((1.0 - fx) * fy) * window[1:, :-1]
    out += (fx * fy) * window[1:, 1:]
    return out


def _linear_taps(coordinates: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    floor = np.floor(coordinates)
    fraction = coordinates - floor
    floor = floor.astype(np.int64)
    return mirror_index(floor, size), mirror_index(floor + 1, size), fraction


def sample_separable(texture: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``sample_bilinear`` on the grid ``y[:, None] × x[None, :]``, one axis at a time (bilinear is separable)."""
    r0, r1, fy = _linear_taps(np.asarray(y, dtype=np.float64), texture.shape[0])
    c0, c1, fx = _linear_taps(np.asarray(x, dtype=np.float64), texture.shape[1])
    rows = (1.0 - fy)[:, None, None] * texture[r0] + fy[:, None, None] * texture[r1]
    return (1.0 - fx)[None, :, None] * rows[:, c0] + fx[None, :, None] * rows[:, c1]
