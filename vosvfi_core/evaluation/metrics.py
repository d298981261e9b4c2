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


def _gaussian_line(dtype: torch.dtype, device: torch.device) -> Tensor:
    taps = torch.arange(-_SSIM_RADIUS, _SSIM_RADIUS + 1, dtype=dtype, device=device)
    line = torch.exp(-(taps**2) / (2 * _SSIM_SIGMA**2))
    return line / line.sum()  # [11]; the 2-D window is its outer product


def _blur(plane: Tensor, line: Tensor) -> Tensor:
    """The separable Gaussian of ``[H, W]`` over valid windows only, ``[H - 10, W - 10]``.

    Weighted sums of shifted views, rows then columns: unlike ``conv2d`` in float64 on the CPU,
    which unfolds 121 copies of the image, this needs two planes of memory (a 4K frame stays
    within a few hundred MB).
    """
    size = line.numel()
    height, width = plane.shape[0] - size + 1, plane.shape[1] - size + 1
    rows = sum(line[k] * plane[k : k + height] for k in range(size))
    return sum(line[k] * rows[:, k : k + width] for k in range(size))


def ssim(output: Tensor, target: Tensor, *, data_range: float = 1.0) -> float:
    """Mean SSIM of ``[C, H, W]`` images; both sides must be at least 11 pixels. One channel at a time, in float64."""
    _check_pair(output, target)
    channels, height, width = output.shape
    size = 2 * _SSIM_RADIUS + 1
    if height < size or width < size:
        raise ValueError(f"SSIM needs images of at least {size}x{size}, got {width}x{height}")
    line = _gaussian_line(torch.float64, output.device)
    c1, c2 = (_K1 * data_range) ** 2, (_K2 * data_range) ** 2
    total = 0.0
    for channel in range(channels):
        x, y = output[channel].double(), target[channel].double()
        mu_x, mu_y = _blur(x, line), _blur(y, line)
        var_x = _blur(x * x, line) - mu_x * mu_x
        var_y = _blur(y * y, line) - mu_y * mu_y
        cov = _blur(x * y, line) - mu_x * mu_y
        numerator = (2 * mu_x * mu_y + c1) * (2 * cov + c2)
        denominator = (mu_x * mu_x + mu_y * mu_y + c1) * (var_x + var_y + c2)
        total += (numerator / denominator).mean().item()  # every channel's map has the same size
    return total / channels


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
