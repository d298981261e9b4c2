"""A classical flow warp refined by a small network: a second interpolator that learns in minutes on a CPU.

The VOS-VFI losses are a framework for existing interpolators; this one is built to show them at
the scale a CPU trains. For frames ``I0`` and ``I2``:

1. DIS optical flow both ways (OpenCV, preset ``medium``, as the ``dis_flow`` baseline computes it;
   no gradient flows through it): ``f02`` and ``f20``.
2. A U-Net (about 1 M parameters) reads both frames, both flows and the two frames backward-warped
   half-way, ``W0 = I0(x + f20 / 2)`` and ``W2 = I2(x + f02 / 2)``, and predicts corrections
   ``d0``, ``d2`` to the two half flows, an occlusion logit ``o`` and a residual ``r``.
3. ``I1 = σ(o) · I0(x + f20 / 2 + d0) + (1 − σ(o)) · I2(x + f02 / 2 + d2) + r``.

The U-Net's last layer starts at zero, so an untrained network is the plain average of the two
DIS warps, and training learns where to trust which frame, how to correct the flow, and what
warping cannot produce. The warps run in float32 whatever the caller's autocast.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import PositiveInt
from torch import Tensor, nn

from vosvfi_core.flow import Preset, dis_flows
from vosvfi_core.models.adacof import AdaCoFOutput
from vosvfi_core.models.registry import register_model

__all__ = ["FlowRefineNet", "flow_refine"]

_LEVELS = 3  # the U-Net halves the resolution this many times
_FLOW_SCALE = 20.0  # flows enter the network in units of 20 px


def _conv(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1),
        nn.LeakyReLU(0.1),
        nn.Conv2d(out_channels, out_channels, 3, padding=1),
        nn.LeakyReLU(0.1),
    )


def _flows(frame0: Tensor, frame2: Tensor, preset: Preset) -> tuple[Tensor, Tensor]:
    """DIS flows ``f02``, ``f20`` of a batch, ``[B, 2, H, W]`` float32 on the frames' device."""
    pairs = [dis_flows(a, b, preset) for a, b in zip(frame0, frame2, strict=True)]
    as_tensor = lambda flows: torch.from_numpy(np.stack(flows)).permute(0, 3, 1, 2).to(frame0.device, torch.float32)  # noqa: E731
    return as_tensor([f02 for f02, _ in pairs]), as_tensor([f20 for _, f20 in pairs])


def _backward_warp(image: Tensor, flow: Tensor) -> Tensor:
    """``image`` sampled at ``x + flow(x)`` (bilinear, edges replicated), differentiable in both."""
    _, _, height, width = image.shape
    ys, xs = torch.meshgrid(
        torch.arange(height, device=image.device, dtype=torch.float32), torch.arange(width, device=image.device, dtype=torch.float32), indexing="ij"
    )
    x = (xs + flow[:, 0]) * (2.0 / max(width - 1, 1)) - 1.0
    y = (ys + flow[:, 1]) * (2.0 / max(height - 1, 1)) - 1.0
    return F.grid_sample(image, torch.stack([x, y], dim=-1), mode="bilinear", padding_mode="border", align_corners=True)


def _total_variation(x: Tensor, eps: float = 1e-3) -> Tensor:
    charbonnier = lambda d: torch.sqrt(d * d + eps * eps).mean()  # noqa: E731
    return charbonnier(x[..., :, :-1] - x[..., :, 1:]) + charbonnier(x[..., :-1, :] - x[..., 1:, :])


class FlowRefineNet(nn.Module):
    """Interpolates the middle frame of two RGB frames in [0, 1] of any size (see the module's text)."""

    def __init__(self, *, width: int = 32, preset: Preset = "medium") -> None:
        super().__init__()
        self.width, self.preset = width, preset
        channels = [width * (level + 1) for level in range(_LEVELS + 1)]  # 32, 64, 96, 128
        self.encoders = nn.ModuleList([_conv(16, channels[0])] + [_conv(channels[i], channels[i + 1]) for i in range(_LEVELS)])
        self.decoders = nn.ModuleList([_conv(channels[i + 1] + channels[i], channels[i]) for i in range(_LEVELS)])
        self.head = nn.Conv2d(channels[0], 8, 3, padding=1)  # d0 (2), d2 (2), occlusion logit (1), residual (3)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def block(self) -> dict[str, object]:
        """The registry block that builds this network (stored in checkpoints)."""
        return {"type": "flow_refine", "width": self.width, "preset": self.preset}

    def forward(self, frame0: Tensor, frame2: Tensor) -> Tensor:
        return self.forward_train(frame0, frame2).frame

    def forward_train(self, frame0: Tensor, frame2: Tensor) -> AdaCoFOutput:
        if frame0.shape != frame2.shape or frame0.dim() != 4 or frame0.shape[1] != 3:
            raise ValueError(f"expected two [B, 3, H, W] frames of one shape, got {tuple(frame0.shape)} and {tuple(frame2.shape)}")
        frame0, frame2 = frame0.float(), frame2.float()
        with torch.no_grad():
            flow02, flow20 = _flows(frame0, frame2, self.preset)
        with torch.autocast(frame0.device.type, enabled=False):
            warped0 = _backward_warp(frame0, 0.5 * flow20)
            warped2 = _backward_warp(frame2, 0.5 * flow02)
        features = torch.cat([frame0, frame2, warped0, warped2, flow02 / _FLOW_SCALE, flow20 / _FLOW_SCALE], dim=1) - 0.5 * _INPUT_CENTRE.to(frame0.device)
        out = self._unet(features).float()
        delta0, delta2, logit, residual = out[:, 0:2], out[:, 2:4], out[:, 4:5], out[:, 5:8]
        with torch.autocast(frame0.device.type, enabled=False):
            warped0 = _backward_warp(frame0, 0.5 * flow20 + delta0)
            warped2 = _backward_warp(frame2, 0.5 * flow02 + delta2)
            weight = torch.sigmoid(logit)
            frame = weight * warped0 + (1 - weight) * warped2 + residual
            g_spatial = _total_variation(delta0) + _total_variation(delta2)
            g_occlusion = _total_variation(weight)
        return AdaCoFOutput(frame, g_spatial, g_occlusion)

    def _unet(self, x: Tensor) -> Tensor:
        height, width = x.shape[-2:]
        multiple = 2**_LEVELS
        x = F.pad(x, (0, -width % multiple, 0, -height % multiple), mode="replicate")
        skips = []
        for level, encoder in enumerate(self.encoders):
            x = encoder(x if level == 0 else F.avg_pool2d(x, 2))
            skips.append(x)
        for level in reversed(range(_LEVELS)):
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
            x = self.decoders[level](torch.cat([x, skips[level]], dim=1))
        return self.head(x)[..., :height, :width]


# Centres the network's inputs: the four frames at 0.5 (hence 0.5 × 1), the flows at 0.
_INPUT_CENTRE = torch.tensor([1.0] * 12 + [0.0] * 4).view(1, 16, 1, 1)


@register_model("flow_refine")
def flow_refine(*, width: PositiveInt = 32, preset: Preset = "medium") -> FlowRefineNet:
    """DIS flow warping refined by a U-Net of ``width`` base channels (occlusion, flow correction, residual)."""
    return FlowRefineNet(width=width, preset=preset)
