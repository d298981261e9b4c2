"""Object-aware metrics: PSNR inside the objects of the middle frame and along their boundaries.

Both read the middle frame's object mask ``mask1`` (``[H, W]`` or ``[1, H, W]``; bool, 0/1 float,
or integer object ids, any non-zero id counting as object) and declare it in ``needs``, so a data
set without masks gets a null with a note instead of a value. Errors are taken in float and
averaged over the region's pixels × the three channels (:func:`masked_psnr`). A sample whose
region is empty (no object, or an object filling the frame for the boundary band) scores null with
the reason as note.

The boundary band of radius r is the morphological gradient of the mask with a Euclidean disk
(offsets with dx² + dy² ≤ r²): the dilation of the mask minus its erosion, i.e. the pixels that
have both an object pixel and a background pixel within r. Along a straight edge that is r pixels
on each side. The frame's edge is not a boundary: outside the frame counts as neither.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import cv2
import numpy as np
import torch
from pydantic import PositiveInt
from torch import Tensor

from vosvfi_core.evaluation.metric_registry import METRICS, Metric, MetricUnavailable
from vosvfi_core.evaluation.metrics import masked_psnr

__all__ = ["DEFAULT_BOUNDARY_RADIUS", "boundary_band", "disk", "mask_plane", "psnr_boundary", "psnr_foreground"]

DEFAULT_BOUNDARY_RADIUS = 5


def mask_plane(mask: Tensor) -> Tensor:
    """A mask as ``[H, W]`` bool: set where any object is."""
    plane = mask.squeeze(0) if mask.dim() == 3 and mask.shape[0] == 1 else mask
    if plane.dim() != 2:
        raise ValueError(f"expected an [H, W] or [1, H, W] mask, got {tuple(mask.shape)}")
    return plane > 0.5 if plane.is_floating_point() else plane != 0


def disk(radius: int) -> np.ndarray:
    """The ``[2r+1, 2r+1]`` uint8 structuring element of the offsets with dx² + dy² ≤ r²."""
    offsets = np.arange(-radius, radius + 1)
    return ((offsets[:, None] ** 2 + offsets[None, :] ** 2) <= radius**2).astype(np.uint8)


def boundary_band(mask: Tensor, radius: int) -> Tensor:
    """``[H, W]`` bool: dilation minus erosion of ``mask`` by a disk of ``radius`` (see the module doc)."""
    if radius < 1:
        raise ValueError(f"boundary radius must be at least 1 pixel, got {radius}")
    plane = mask_plane(mask).cpu().numpy().astype(np.uint8)
    element = disk(radius)
    # OpenCV's default border lets nothing outside the frame dilate or erode the mask.
    dilated = cv2.dilate(plane, element)
    eroded = cv2.erode(plane, element)
    return torch.from_numpy((dilated > 0) & (eroded == 0))


def _region_psnr(output: Tensor, truth: Tensor, region: Tensor, empty: str) -> float:
    if not bool(region.any()):
        raise MetricUnavailable(empty)
    return masked_psnr(output, truth, region.to(output.device))


@METRICS.register("psnr_foreground")
def psnr_foreground() -> Metric:
    """PSNR inside the middle frame's object mask (float, over mask pixels x channels)."""

    def score(output: Tensor, truth: Tensor, item: Mapping[str, Any]) -> float:
        return _region_psnr(output, truth, mask_plane(item["mask1"]), "mask1 is empty: no object to score")

    convention = (
        "RGB, [0,1] float, output as the protocol leaves it, MSE over the pixels inside mask1 (any object) x channels, 10*log10(1/MSE) dB; empty mask: null"
    )
    return Metric("psnr_foreground", True, convention, score, needs=frozenset({"mask1"}))


@METRICS.register("psnr_boundary")
def psnr_boundary(*, radius: PositiveInt = DEFAULT_BOUNDARY_RADIUS) -> Metric:
    """PSNR in the band within ``radius`` pixels of the middle frame's object boundary.

    The ``metric`` column is ``psnr_boundary`` at the default radius, ``psnr_boundary_r<radius>``
    otherwise, so that two radii never share a name.
    """

    def score(output: Tensor, truth: Tensor, item: Mapping[str, Any]) -> float:
        return _region_psnr(output, truth, boundary_band(item["mask1"], radius), "mask1 has no object boundary to score")

    name = "psnr_boundary" if radius == DEFAULT_BOUNDARY_RADIUS else f"psnr_boundary_r{radius}"
    convention = (
        f"RGB, [0,1] float, output as the protocol leaves it, MSE over the pixels within r={radius} px of the mask1 boundary x channels, 10*log10(1/MSE) dB; "
        f"band = dilation minus erosion of mask1 (any object) by a Euclidean disk of radius {radius}, frame edges are no boundary"
    )
    return Metric(name, True, convention, score, needs=frozenset({"mask1"}))
