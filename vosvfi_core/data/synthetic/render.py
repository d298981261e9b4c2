"""Render a scene at any time t, analytically: every sample reads its texture through the inverse map.

Nothing is interpolated between rendered frames, so the frame and the mask at t = 0.5 are as exact
as those at t = 0 and t = 1. With ``scene.supersample`` s = 1 a pixel is one sample at its centre
and the mask is the shapes' indicator there. With s > 1 a pixel is the mean of s × s samples
spread evenly over its area, and its mask id is the one that covers most of them (the topmost on a
tie). Area sampling gives every frame the same blur whatever the sub-pixel phase of its motion,
as long as the textures hold at least s / 2 texels per pixel: then a shift of any multiple of
1 / s pixel moves the samples by whole sample steps against the texels, and the pixel's footprint
on the texture is the same.
"""

from __future__ import annotations

import math

import numpy as np

from vosvfi_core.data.synthetic.sampling import sample_bilinear, sample_separable, sample_translated
from vosvfi_core.data.synthetic.scene import Background, Scene, SceneObject

__all__ = ["render_frame"]


def _sample_offsets(supersample: int) -> np.ndarray:
    """Sample positions inside a pixel, relative to its centre: s evenly spaced values in (-0.5, 0.5)."""
    return (np.arange(supersample, dtype=np.float64) + 0.5) / supersample - 0.5


def _background(background: Background, t: float, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    ox, oy = background.origin_at(t)
    scale = background.texture_scale
    if scale == 1.0 and len(xs) > 1 and xs[1] - xs[0] == 1.0 and ys[1] - ys[0] == 1.0:
        image = sample_translated(background.texture, ox + xs[0], oy + ys[0], len(ys), len(xs))
    else:
        image = sample_separable(background.texture, scale * (xs + ox), scale * (ys + oy))
    return image * background.gain_at(t)


def _draw(obj: SceneObject, t: float, ys: np.ndarray, xs: np.ndarray, image: np.ndarray, ids: np.ndarray, object_id: int) -> None:
    """Paint ``obj`` over the samples at (``ys`` × ``xs``) that it covers."""
    cx, cy = obj.center_at(t)
    scale = obj.scale_at(t)
    if scale <= 0:
        raise ValueError(f"object {object_id} has scale {scale} at t={t}")
    reach = obj.shape.extent * scale + 1.0
    cols = np.flatnonzero(np.abs(xs - cx) <= reach)
    rows = np.flatnonzero(np.abs(ys - cy) <= reach)
    if cols.size == 0 or rows.size == 0:
        return
    left, right, top, bottom = cols[0], cols[-1] + 1, rows[0], rows[-1] + 1
    dx = xs[left:right][None, :] - cx
    dy = ys[top:bottom][:, None] - cy
    angle = obj.angle_at(t)
    cos, sin = math.cos(angle), math.sin(angle)
    # q = R(-angle) (p - c) / s: the object-frame point that lands on sample p.
    qx = np.broadcast_to((cos * dx + sin * dy) / scale, (bottom - top, right - left))
    qy = np.broadcast_to((-sin * dx + cos * dy) / scale, (bottom - top, right - left))
    inside = obj.shape.contains(qx, qy)
    tex_h, tex_w = obj.texture.shape[:2]
    k = obj.texture_scale
    colours = sample_bilinear(obj.texture, k * qx + (tex_w - 1) / 2, k * qy + (tex_h - 1) / 2) * obj.gain_at(t)
    image[top:bottom, left:right][inside] = colours[inside]
    ids[top:bottom, left:right][inside] = object_id


def _area_mean(image: np.ndarray, ids: np.ndarray, supersample: int, count: int) -> tuple[np.ndarray, np.ndarray]:
    height, width = ids.shape[0] // supersample, ids.shape[1] // supersample
    image = image.reshape(height, supersample, width, supersample, 3).mean(axis=(1, 3))
    blocks = ids.reshape(height, supersample, width, supersample)
    votes = np.stack([(blocks == object_id).sum(axis=(1, 3)) for object_id in range(count + 1)])
    # argmax takes the first maximum: reversing the ids lets the topmost object win a tie.
    mask = count - np.argmax(votes[::-1], axis=0)
    return image, mask.astype(np.uint8)


def render_frame(scene: Scene, t: float) -> tuple[np.ndarray, np.ndarray]:
    """``(image, mask)`` at time t: image ``[H, W, 3]`` uint8 RGB, mask ``[H, W]`` uint8 object ids (0 = background)."""
    s = scene.supersample
    if s < 1:
        raise ValueError(f"supersample must be at least 1, got {s}")
    ys = (np.arange(scene.height, dtype=np.float64)[:, None] + _sample_offsets(s)[None, :]).ravel()
    xs = (np.arange(scene.width, dtype=np.float64)[:, None] + _sample_offsets(s)[None, :]).ravel()
    image = _background(scene.background, t, ys, xs)
    ids = np.zeros((len(ys), len(xs)), dtype=np.uint8)
    for object_id, obj in enumerate(scene.objects, start=1):
        _draw(obj, t, ys, xs, image, ids, object_id)
    if s > 1:
        image, ids = _area_mean(image, ids, s, len(scene.objects))
    return np.clip(np.rint(image), 0, 255).astype(np.uint8), ids
