"""The ``dis_flow`` reference baseline: classical optical-flow interpolation with OpenCV's DIS.

Steps for the middle frame (t = 0.5) of ``frame0`` and ``frame2``:

1. DIS flow both ways on 8-bit grey frames: ``f02`` and ``f20``.
2. Backward warping of each frame to t = 0.5 with half the flow that arrives at it from the other
   frame: ``warped0(x) = frame0(x + f20(x) / 2)`` and ``warped2(x) = frame2(x + f02(x) / 2)``
   (linear motion; exact for a translation).
3. Occlusion-aware blending. ``occ0`` marks the pixels of frame0 that fail the forward-backward
   check (not visible in frame2, see :mod:`vosvfi_core.flow`), ``occ2`` those of frame2
   not visible in frame0. Each mask is warped to t = 0.5 with its own frame's flow, and each frame
   is weighted by how visible the other frame's sample is: ``w0 = 1 - occ2(x + f02/2)``,
   ``w2 = 1 - occ0(x + f20/2)``, so where one side is occluded the other is taken alone;
   where both pass (or both fail) the two warped frames are averaged.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from vosvfi_core.evaluation.interpolators import INTERPOLATORS, Interpolator, InterpolatorContext
from vosvfi_core.flow import Preset, backward_warp, dis_flows, occluded, to_image, to_tensor

__all__ = ["dis_flow", "dis_flow_middle"]

_NO_WEIGHT = 1e-6  # where both sides are occluded, fall back to the plain average


def dis_flow_middle(frame0: Tensor, frame2: Tensor, preset: Preset = "medium") -> Tensor:
    """The middle frame of two ``[3, H, W]`` frames in [0, 1], with their dtype and device."""
    flow_02, flow_20 = dis_flows(frame0, frame2, preset)
    half_to_0, half_to_2 = 0.5 * flow_20, 0.5 * flow_02
    warped0 = backward_warp(to_image(frame0), half_to_0)
    warped2 = backward_warp(to_image(frame2), half_to_2)
    occ0 = occluded(flow_02, flow_20).astype(np.float32)
    occ2 = occluded(flow_20, flow_02).astype(np.float32)
    weight0 = 1.0 - backward_warp(occ2, half_to_2)[..., None]  # [H, W, 1]
    weight2 = 1.0 - backward_warp(occ0, half_to_0)[..., None]
    total = weight0 + weight2
    neither = total < _NO_WEIGHT
    weight0 = np.where(neither, 0.5, weight0)
    weight2 = np.where(neither, 0.5, weight2)
    middle = (weight0 * warped0 + weight2 * warped2) / (weight0 + weight2)
    return to_tensor(middle.astype(np.float32), frame0)


@INTERPOLATORS.register("dis_flow")
def dis_flow(context: InterpolatorContext, *, preset: Preset = "medium") -> Interpolator:
    """Classical baseline: DIS optical flow both ways, warping to t = 0.5, occlusion-aware blending.

    The ``model`` column is ``dis_flow`` with the default preset, ``dis_flow_<preset>`` otherwise.
    """
    name = "dis_flow" if preset == "medium" else f"dis_flow_{preset}"

    def interpolate(frame0: Tensor, frame2: Tensor) -> Tensor:
        if frame0.dim() != 4 or frame0.shape != frame2.shape:
            raise ValueError(f"expected two [B, 3, H, W] tensors of one shape, got {tuple(frame0.shape)} and {tuple(frame2.shape)}")
        return torch.stack([dis_flow_middle(a, b, preset) for a, b in zip(frame0, frame2)])

    return Interpolator(name, interpolate)
