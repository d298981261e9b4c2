"""Dense optical flow between two frames (OpenCV's DIS), backward warping, and the occlusion check.

Shared by the ``dis_flow`` baseline and the per-sample motion strata. Flows are ``[H, W, 2]``
float32 arrays of (x, y) displacements in pixels, OpenCV's layout: ``flow_ab`` maps a pixel ``p``
of frame a to ``p + flow_ab[p]`` in frame b.

The forward-backward check follows Sundaram, Brox and Keutzer (ECCV 2010): a pixel of frame a is
occluded in frame b when going there and back does not return it close to where it started,

    |f(p) + g(p + f(p))|² > ALPHA · (|f(p)|² + |g(p + f(p))|²) + BETA,

with ``f = flow_ab``, ``g = flow_ba`` sampled bilinearly, ALPHA = 0.01 and BETA = 0.5 px², or
when ``p + f(p)`` lies outside frame b (the content left the frame).
"""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np
import torch
from torch import Tensor

__all__ = ["FB_ALPHA", "FB_BETA", "PRESETS", "Preset", "backward_warp", "dis_flows", "gray_u8", "occluded", "to_image", "to_tensor"]

Preset = Literal["ultrafast", "fast", "medium"]
PRESETS: dict[str, int] = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}
FB_ALPHA = 0.01
FB_BETA = 0.5  # px²: tolerates half a pixel of round-trip error on still regions


def to_image(frame: Tensor) -> np.ndarray:
    """A ``[3, H, W]`` tensor as a contiguous ``[H, W, 3]`` float32 array (values unchanged)."""
    if frame.dim() != 3 or frame.shape[0] != 3:
        raise ValueError(f"expected a [3, H, W] frame, got {tuple(frame.shape)}")
    return np.ascontiguousarray(frame.detach().to("cpu", torch.float32).permute(1, 2, 0).numpy())


def to_tensor(image: np.ndarray, like: Tensor) -> Tensor:
    """An ``[H, W, 3]`` array as a ``[3, H, W]`` tensor with the dtype and device of ``like``."""
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).to(like.device, like.dtype)


def gray_u8(frame: Tensor) -> np.ndarray:
    """The 8-bit luma DIS works on: the frame clamped to [0, 1], rounded to 8 bits, OpenCV's BT.601 grey."""
    rgb = np.clip(to_image(frame) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))


def dis_flows(frame0: Tensor, frame2: Tensor, preset: Preset = "medium") -> tuple[np.ndarray, np.ndarray]:
    """DIS flow both ways between two ``[3, H, W]`` frames in [0, 1]: ``(flow_02, flow_20)``."""
    if frame0.shape != frame2.shape:
        raise ValueError(f"frames differ in shape: {tuple(frame0.shape)} and {tuple(frame2.shape)}")
    if preset not in PRESETS:
        raise ValueError(f"unknown DIS preset {preset!r}; known: {', '.join(PRESETS)}")
    gray0, gray2 = gray_u8(frame0), gray_u8(frame2)
    dis = cv2.DISOpticalFlow_create(PRESETS[preset])
    return dis.calc(gray0, gray2, None), dis.calc(gray2, gray0, None)


def _sample_grid(flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    height, width = flow.shape[:2]
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    return xs + flow[..., 0], ys + flow[..., 1]


def backward_warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """``image`` sampled at ``p + flow[p]`` for every pixel ``p`` (bilinear, edges replicated).

    ``image`` is ``[H, W]`` or ``[H, W, C]`` float32 (C ≤ 4, OpenCV's limit for remap).
    """
    map_x, map_y = _sample_grid(flow)
    return cv2.remap(image, map_x, map_y, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def occluded(flow_ab: np.ndarray, flow_ba: np.ndarray) -> np.ndarray:
    """``[H, W]`` bool: the pixels of frame a that fail the forward-backward check (see the module doc)."""
    height, width = flow_ab.shape[:2]
    back = backward_warp(flow_ba, flow_ab)  # g(p + f(p))
    round_trip = np.sum((flow_ab + back) ** 2, axis=-1)
    magnitude = np.sum(flow_ab**2, axis=-1) + np.sum(back**2, axis=-1)
    target_x, target_y = _sample_grid(flow_ab)
    outside = (target_x < 0) | (target_x > width - 1) | (target_y < 0) | (target_y > height - 1)
    return (round_trip > FB_ALPHA * magnitude + FB_BETA) | outside
