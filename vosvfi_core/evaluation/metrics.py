"""Image-quality metrics of the evaluation protocols: PSNR (whole frame or inside a mask) and SSIM.

PSNR follows the original evaluation: ``-10·log10(mean((gt - out)²))`` over all pixels and
channels of ``[0, 1]`` floats, with the network output left unclamped (protocol ``float``).
Protocol ``uint8`` first rounds the output to 8 bits as a saved PNG would. SSIM is the Gaussian
SSIM of Wang et al. (11x11 window, sigma 1.5, K1 0.01, K2 0.03) averaged over the channels and
over the pixels whose window lies inside the image, as scikit-image computes it.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from vosvfi_core.evaluation.metric_registry import METRICS, Metric

__all__ = ["PROTOCOLS", "apply_protocol", "masked_psnr", "psnr", "psnr_metric", "ssim", "ssim_metric"]

PROTOCOLS = ("float", "uint8")
_SSIM_SIGMA = 1.5
_SSIM_RADIUS = 5  # scikit-image's int(3.5 * sigma + 0.5): an 11-tap window
_K1, _K2 = 0.01, 0.03


def apply_protocol(output: Tensor, protocol: str) -> Tensor:
    """The output as the protocol scores it: unchanged (``float``) or rounded to 8 bits (``uint8``)."""
    if protocol == "float":
        return output
    if protocol == "uint8":
        return output.clamp(0, 1).mul(255).round().div(255)
    raise ValueError(f"unknown protocol {protocol!r}; known: {', '.join(PROTOCOLS)}")


def _check_pair(output: Tensor, target: Tensor) -> None:
    if output.shape != target.shape or output.dim() != 3:
        raise ValueError(f"expected two [C, H, W] tensors of one shape, got {tuple(output.shape)} and {tuple(target.shape)}")


def psnr(output: Tensor, target: Tensor) -> float:
    """PSNR in dB of ``[C, H, W]`` images in [0, 1]; ``inf`` for identical images."""
    _check_pair(output, target)
    mse = (target.double() - output.double()).pow(2).mean().item()
    return math.inf if mse == 0 else -10.0 * math.log10(mse)


def masked_psnr(output: Tensor, target: Tensor, mask: Tensor) -> float:
    """PSNR over the pixels where ``mask`` ([H, W], bool) is set, averaged over pixels × channels.

    ``nan`` when the mask is empty: there is nothing to score.
    """
    _check_pair(output, target)
    if mask.shape != output.shape[1:]:
        raise ValueError(f"mask {tuple(mask.shape)} does not match the image {tuple(output.shape[1:])}")
    mask = mask.bool()
    count = int(mask.sum()) * output.shape[0]
    if count == 0:
        return math.nan
    squared = (target.double() - output.double()).pow(2)
    mse = squared[:, mask].sum().item() / count
    return math.inf if mse == 0 else -10.0 * math.log10(mse)


def _gaussian_window(dtype: torch.dtype, device: torch.device) -> Tensor:
    taps = torch.arange(-_SSIM_RADIUS, _SSIM_RADIUS + 1, dtype=dtype, device=device)
    line = torch.exp(-(taps**2) / (2 * _SSIM_SIGMA**2))
    line = line / line.sum()
    return line[:, None] * line[None, :]  # [11, 11]


def ssim(output: Tensor, target: Tensor, *, data_range: float = 1.0) -> float:
    """Mean SSIM of ``[C, H, W]`` images; both sides must be at least 11 pixels."""
    _check_pair(output, target)
    channels, height, width = output.shape
    size = 2 * _SSIM_RADIUS + 1
    if height < size or width < size:
        raise ValueError(f"SSIM needs images of at least {size}x{size}, got {width}x{height}")
    x = output.double().unsqueeze(1)  # [C, 1, H, W]: channels as a batch
    y = target.double().unsqueeze(1)
    window = _gaussian_window(x.dtype, x.device)[None, None]  # [1, 1, 11, 11]

    def blur(image: Tensor) -> Tensor:
        return F.conv2d(image, window)  # valid: only windows fully inside the image

    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x * mu_x
    var_y = blur(y * y) - mu_y * mu_y
    cov = blur(x * y) - mu_x * mu_y
    c1, c2 = (_K1 * data_range) ** 2, (_K2 * data_range) ** 2
    numerator = (2 * mu_x * mu_y + c1) * (2 * cov + c2)
    denominator = (mu_x * mu_x + mu_y * mu_y + c1) * (var_x + var_y + c2)
    return (numerator / denominator).mean().item()


@METRICS.register("psnr")
def psnr_metric() -> Metric:
    """PSNR over all pixels and RGB channels."""
    convention = (
        "RGB, [0,1] float, output as the protocol leaves it (float: unclamped), MSE in float64 over all pixels x channels, 10*log10(1/MSE) dB (identical: inf)"
    )
    return Metric("psnr", True, convention, lambda out, truth, item: psnr(out, truth))


@METRICS.register("ssim")
def ssim_metric() -> Metric:
    """Gaussian SSIM (11x11, sigma 1.5) averaged over RGB channels, as scikit-image computes it."""
    convention = (
        "RGB, [0,1] float, output as the protocol leaves it (float: unclamped, unrounded), data range 1, Gaussian 11x11 window sigma 1.5, "
        "K1 0.01 K2 0.03, population covariances, valid windows only, mean over channels (scikit-image, gaussian_weights=True)"
    )
    return Metric("ssim", True, convention, lambda out, truth, item: ssim(out, truth))
