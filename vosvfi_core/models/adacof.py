"""AdaCoF: adaptive collaboration of flows for video frame interpolation (Lee et al., CVPR 2020).

The module names (``get_kernel.moduleConv1.0.weight`` and so on) are those of the published
checkpoints, so ``load_state_dict(strict=True)`` takes them unchanged.
"""

from __future__ import annotations

from typing import Annotated, Literal, NamedTuple

import torch
import torch.nn.functional as F
from pydantic import AfterValidator, PositiveInt
from torch import Tensor, nn

from kernels import SAMPLING_MODES, adacof_sample
from vosvfi_core.models.registry import register_model

__all__ = ["AdaCoFNet", "AdaCoFOutput", "adacof", "charbonnier", "INPUT_MEAN"]

# Per-channel means subtracted from the frames before kernel estimation (no division by a std).
INPUT_MEAN = (0.4631, 0.4352, 0.3990)
# The U-Net downsamples five times.
SIZE_MULTIPLE = 32


class AdaCoFOutput(NamedTuple):
    frame: Tensor  # [B, 3, H, W], unclamped
    g_spatial: Tensor  # scalar: Charbonnier TV of the weighted mean offsets of both frames
    g_occlusion: Tensor  # scalar: Charbonnier TV of the occlusion map


def charbonnier(x: Tensor, eps: float = 1e-3) -> Tensor:
    """``mean(sqrt(x² + eps²))``, the robust L1 of the original losses."""
    return torch.sqrt(x * x + eps * eps).mean()


def _total_variation(x: Tensor) -> Tensor:
    return charbonnier(x[..., :, :-1] - x[..., :, 1:]) + charbonnier(x[..., :-1, :] - x[..., 1:, :])


def _conv_relu_x3(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1),
        nn.ReLU(inplace=False),
        nn.Conv2d(out_channels, out_channels, 3, padding=1),
        nn.ReLU(inplace=False),
        nn.Conv2d(out_channels, out_channels, 3, padding=1),
        nn.ReLU(inplace=False),
    )


def _upsample_conv(channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True),
        nn.Conv2d(channels, channels, 3, padding=1),
        nn.ReLU(inplace=False),
    )


def _kernel_head(taps: int, activation: nn.Module | None) -> nn.Sequential:
    """64-channel half-resolution features → ``taps`` channels at full resolution."""
    layers: list[nn.Module] = [
        nn.Conv2d(64, 64, 3, padding=1),
        nn.ReLU(inplace=False),
        nn.Conv2d(64, 64, 3, padding=1),
        nn.ReLU(inplace=False),
        nn.Conv2d(64, taps, 3, padding=1),
        nn.ReLU(inplace=False),
        nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True),
        nn.Conv2d(taps, taps, 3, padding=1),
    ]
    if activation is not None:
        layers.append(activation)
    return nn.Sequential(*layers)


def _occlusion_head() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(64, 64, 3, padding=1),
        nn.ReLU(inplace=False),
        nn.Conv2d(64, 64, 3, padding=1),
        nn.ReLU(inplace=False),
        nn.Conv2d(64, 64, 3, padding=1),
        nn.ReLU(inplace=False),
        nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True),
        nn.Conv2d(64, 1, 3, padding=1),
        nn.Sigmoid(),
    )


class KernelEstimation(nn.Module):
    """U-Net from the two normalised frames to per-pixel kernels, offsets and occlusion."""

    def __init__(self, kernel_size: int) -> None:
        super().__init__()
        taps = kernel_size * kernel_size
        # Registration order fixes the state_dict order of the published checkpoints.
        self.moduleConv1 = _conv_relu_x3(6, 32)
        self.moduleConv2 = _conv_relu_x3(32, 64)
        self.moduleConv3 = _conv_relu_x3(64, 128)
        self.moduleConv4 = _conv_relu_x3(128, 256)
        self.moduleConv5 = _conv_relu_x3(256, 512)
        self.moduleDeconv5 = _conv_relu_x3(512, 512)
        self.moduleUpsample5 = _upsample_conv(512)
        self.moduleDeconv4 = _conv_relu_x3(512, 256)
        self.moduleUpsample4 = _upsample_conv(256)
        self.moduleDeconv3 = _conv_relu_x3(256, 128)
        self.moduleUpsample3 = _upsample_conv(128)
        self.moduleDeconv2 = _conv_relu_x3(128, 64)
        self.moduleUpsample2 = _upsample_conv(64)
        self.moduleWeight1 = _kernel_head(taps, nn.Softmax(dim=1))
        self.moduleAlpha1 = _kernel_head(taps, None)
        self.moduleBeta1 = _kernel_head(taps, None)
        self.moduleWeight2 = _kernel_head(taps, nn.Softmax(dim=1))
        self.moduleAlpha2 = _kernel_head(taps, None)
        self.moduleBeta2 = _kernel_head(taps, None)
        self.moduleOcclusion = _occlusion_head()

    def forward(self, frame0: Tensor, frame2: Tensor) -> tuple[Tensor, ...]:
        pool = lambda x: F.avg_pool2d(x, kernel_size=2, stride=2)  # noqa: E731
        conv1 = self.moduleConv1(torch.cat([frame0, frame2], dim=1))  # [B, 32, H, W]
        conv2 = self.moduleConv2(pool(conv1))  # [B, 64, H/2, W/2]
        conv3 = self.moduleConv3(pool(conv2))  # [B, 128, H/4, W/4]
        conv4 = self.moduleConv4(pool(conv3))  # [B, 256, H/8, W/8]
        conv5 = self.moduleConv5(pool(conv4))  # [B, 512, H/16, W/16]
        x = self.moduleDeconv5(pool(conv5))  # [B, 512, H/32, W/32]
        x = self.moduleUpsample5(x) + conv5
        x = self.moduleUpsample4(self.moduleDeconv4(x)) + conv4
        x = self.moduleUpsample3(self.moduleDeconv3(x)) + conv3
        x = self.moduleUpsample2(self.moduleDeconv2(x)) + conv2  # [B, 64, H/2, W/2]
        return (
            self.moduleWeight1(x),
            self.moduleAlpha1(x),
            self.moduleBeta1(x),
            self.moduleWeight2(x),
            self.moduleAlpha2(x),
            self.moduleBeta2(x),
            self.moduleOcclusion(x),
        )


def _pad_to_multiple(frame: Tensor, multiple: int) -> Tensor:
    """Pad bottom and right up to a multiple: reflect where the frame is large enough, else replicate."""
    height, width = frame.shape[-2:]
    pad_h, pad_w = -height % multiple, -width % multiple
    if pad_h == 0 and pad_w == 0:
        return frame
    # Reflect padding needs the pad to be smaller than the side; tiny frames fall back to replicate.
    mode = "reflect" if pad_h < height and pad_w < width else "replicate"
    return F.pad(frame, (0, pad_w, 0, pad_h), mode=mode)


class AdaCoFNet(nn.Module):
    """Interpolates the middle frame of two RGB frames in [0, 1] of any size."""

    def __init__(self, *, kernel_size: int = 5, dilation: int = 1, sampling_mode: str = "bilinear") -> None:
        super().__init__()
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be a positive odd number, got {kernel_size}")
        if dilation < 1:
            raise ValueError(f"dilation must be at least 1, got {dilation}")
        if sampling_mode not in SAMPLING_MODES:
            raise ValueError(f"sampling_mode must be one of {SAMPLING_MODES}, got {sampling_mode!r}")
        self.kernel_size = kernel_size
        self.dilation = dilation
        self.sampling_mode = sampling_mode
        self.get_kernel = KernelEstimation(kernel_size)
        self.register_buffer("_mean", torch.tensor(INPUT_MEAN).view(1, 3, 1, 1), persistent=False)

    @property
    def warp_padding(self) -> int:
        return (self.kernel_size - 1) * self.dilation // 2

    def forward(self, frame0: Tensor, frame2: Tensor) -> Tensor:
        """Middle frame ``[B, 3, H, W]`` (unclamped) of ``frame0`` and ``frame2``."""
        return self._interpolate(frame0, frame2, with_regularisers=False).frame

    def forward_train(self, frame0: Tensor, frame2: Tensor) -> AdaCoFOutput:
        """The middle frame with the smoothness regularisers of the original training loss."""
        return self._interpolate(frame0, frame2, with_regularisers=True)

    def _interpolate(self, frame0: Tensor, frame2: Tensor, *, with_regularisers: bool) -> AdaCoFOutput:
        if frame0.shape != frame2.shape or frame0.dim() != 4 or frame0.shape[1] != 3:
            raise ValueError(f"expected two [B, 3, H, W] frames of one shape, got {tuple(frame0.shape)} and {tuple(frame2.shape)}")
        height, width = frame0.shape[-2:]
        frame0 = _pad_to_multiple(frame0, SIZE_MULTIPLE)
        frame2 = _pad_to_multiple(frame2, SIZE_MULTIPLE)
        weight1, alpha1, beta1, weight2, alpha2, beta2, occlusion = self.get_kernel(frame0 - self._mean, frame2 - self._mean)
        pad = self.warp_padding
        warped0 = adacof_sample(
            F.pad(frame0, (pad,) * 4, mode="replicate"),
            weight1,
            alpha1,
            beta1,
            dilation=self.dilation,
            mode=self.sampling_mode,
        )
        warped2 = adacof_sample(
            F.pad(frame2, (pad,) * 4, mode="replicate"),
            weight2,
            alpha2,
            beta2,
            dilation=self.dilation,
            mode=self.sampling_mode,
        )
        frame = (occlusion * warped0 + (1 - occlusion) * warped2)[..., :height, :width]
        if not with_regularisers:
            zero = frame.new_zeros(())
            return AdaCoFOutput(frame, zero, zero)
        g_spatial = sum(
            _total_variation(torch.mean(weight * offset, dim=1, keepdim=True))
            for weight, offset in ((weight1, alpha1), (weight1, beta1), (weight2, alpha2), (weight2, beta2))
        )
        return AdaCoFOutput(frame, g_spatial, _total_variation(occlusion))


def _odd(value: int) -> int:
    if value % 2 == 0:
        raise ValueError("kernel_size must be odd")
    return value


@register_model("adacof")
def adacof(
    *,
    kernel_size: Annotated[PositiveInt, AfterValidator(_odd)] = 5,
    dilation: PositiveInt = 1,
    sampling_mode: Literal["bilinear", "legacy"] = "bilinear",
) -> AdaCoFNet:
    """AdaCoF with ``kernel_size``² taps per pixel; AdaCoF+ is ``kernel_size=11, dilation=2``.

    ``sampling_mode="legacy"`` reproduces the original kernel's truncation, which the published
    checkpoints were trained with; new training uses the correct ``"bilinear"``.
    """
    return AdaCoFNet(kernel_size=kernel_size, dilation=dilation, sampling_mode=sampling_mode)
