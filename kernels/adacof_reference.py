"""AdaCoF sampling in plain PyTorch: forward and hand-written backward, processed in chunks of taps.

Runs on any device and floating dtype. The indexing mirrors the CUDA kernels in
``kernels/adacof_cupy.py`` step for step (``locate_tap`` there is ``_locate_taps`` here). Both
passes are written by hand rather than left to autograd, so only one chunk of gathered corners is
alive at a time.

Shapes: image ``[B, C, Hp, Wp]`` (already padded), weight/alpha/beta ``[B, T, H, W]`` with
``T = F*F`` taps, output ``[B, C, H, W]``. Inputs are assumed checked by
``kernels.adacof_function.adacof_sample``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor

__all__ = ["GATHER_BUDGET_BYTES", "adacof_backward_torch", "adacof_forward_torch", "default_chunk_taps"]

GATHER_BUDGET_BYTES = 256 * 2**20
"""What one chunk's four corner gathers and their int64 flat indices may take, roughly."""

_INDEX_BYTES = 8


def default_chunk_taps(image: Tensor, weight: Tensor) -> int:
    """How many taps to process at once so that a chunk's gathers stay within ``GATHER_BUDGET_BYTES``.

    At least one tap: a single tap of a 1080x1920 RGB float32 frame already takes about 160 MB.
    """
    batch, channels = image.shape[:2]
    taps, height, width = weight.shape[1:]
    per_tap = batch * height * width * 4 * (channels * image.element_size() + _INDEX_BYTES)
    return max(1, min(taps, GATHER_BUDGET_BYTES // max(per_tap, 1)))


class _TapCorners(NamedTuple):
    """Where a chunk of taps reads the padded image, for every output pixel."""

    i00: Tensor  # [B, T*H*W] flat index of (r0, c0) in one [Hp*Wp] channel plane
    i01: Tensor  # [B, T*H*W] (r0, c1)
    i10: Tensor  # [B, T*H*W] (r1, c0)
    i11: Tensor  # [B, T*H*W] (r1, c1)
    a: Tensor  # [B, T, H, W] vertical fraction (negative for negative alpha in legacy mode)
    b: Tensor  # [B, T, H, W] horizontal fraction

    def indices(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        return self.i00, self.i01, self.i10, self.i11

    def corner_weights(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """The bilinear weights of (r0, c0), (r0, c1), (r1, c0), (r1, c1), each [B, T, H, W]."""
        a, b = self.a, self.b
        return (1 - a) * (1 - b), (1 - a) * b, a * (1 - b), a * b


def _locate_taps(alpha: Tensor, beta: Tensor, first_tap: int, kernel_size: int, dilation: int, hp: int, wp: int, legacy: bool) -> _TapCorners:
    """Corner indices and fractions of taps ``first_tap .. first_tap + T`` (alpha, beta: [B, T, H, W])."""
    batch, taps, height, width = alpha.shape
    device = alpha.device
    tap = torch.arange(first_tap, first_tap + taps, device=device)  # [T]
    rows = torch.arange(height, device=device).view(1, 1, height, 1)  # [1, 1, H, 1]
    cols = torch.arange(width, device=device).view(1, 1, 1, width)  # [1, 1, 1, W]
    row_base = rows + (tap // kernel_size * dilation).view(1, taps, 1, 1)  # [1, T, H, 1]  y + i*d
    col_base = cols + (tap % kernel_size * dilation).view(1, taps, 1, 1)  # [1, T, 1, W]  x + j*d
    # Bounded so the integer conversion cannot overflow; past +-(Hp+1) both corners lie on the
    # border row, so the sampled value and its gradients are unchanged by the bound.
    alpha = alpha.clamp(-(hp + 1), hp + 1)  # [B, T, H, W]
    beta = beta.clamp(-(wp + 1), wp + 1)  # [B, T, H, W]
    integer_part = torch.trunc if legacy else torch.floor  # legacy: C's (int) cast, toward zero
    alpha_int = integer_part(alpha)  # [B, T, H, W]
    beta_int = integer_part(beta)  # [B, T, H, W]
    r = alpha_int.long().add_(row_base)  # [B, T, H, W]  y + i*d + A
    c = beta_int.long().add_(col_base)  # [B, T, H, W]  x + j*d + B
    r0_wp = r.clamp(0, hp - 1).mul_(wp)  # [B, T, H, W]  r0 * Wp
    r1_wp = r.add_(1).clamp_(0, hp - 1).mul_(wp)  # [B, T, H, W]  r1 * Wp
    c0 = c.clamp(0, wp - 1)  # [B, T, H, W]
    c1 = c.add_(1).clamp_(0, wp - 1)  # [B, T, H, W]

    def flat(row_wp: Tensor, col: Tensor) -> Tensor:
        return (row_wp + col).view(batch, taps * height * width)  # [B, T*H*W]

    return _TapCorners(
        flat(r0_wp, c0),
        flat(r0_wp, c1),
        flat(r1_wp, c0),
        flat(r1_wp, c1),
        alpha.sub_(alpha_int),
        beta.sub_(beta_int),  # fractions, in the bounded copies
    )


def _gather(planes: Tensor, index: Tensor, taps: int, height: int, width: int) -> Tensor:
    """Pixels of every channel at one corner: planes [B, C, Hp*Wp], index [B, T*H*W] -> [B, C, T, H, W]."""
    batch, channels, _ = planes.shape
    picked = planes.gather(2, index.unsqueeze(1).expand(batch, channels, -1))  # [B, C, T*H*W]
    return picked.view(batch, channels, taps, height, width)


def adacof_forward_torch(
    image: Tensor,
    weight: Tensor,
    alpha: Tensor,
    beta: Tensor,
    *,
    dilation: int,
    legacy: bool,
    chunk_taps: int | None = None,
) -> Tensor:
    """``out[b,c,y,x] = sum_t W[b,t,y,x] * bilinear(image[b,c], y + i*d + alpha, x + j*d + beta)``."""
    batch, channels, hp, wp = image.shape
    taps, height, width = weight.shape[1:]
    kernel_size = math.isqrt(taps)
    chunk = chunk_taps or default_chunk_taps(image, weight)
    planes = image.reshape(batch, channels, hp * wp)  # [B, C, Hp*Wp]
    out = image.new_zeros(batch, channels, height, width)  # [B, C, H, W]
    for t0 in range(0, taps, chunk):
        t1 = min(t0 + chunk, taps)
        corners = _locate_taps(alpha[:, t0:t1], beta[:, t0:t1], t0, kernel_size, dilation, hp, wp, legacy)
        value = None  # [B, C, T, H, W] the bilinear sample of each tap, built corner by corner
        for index, corner_weight in zip(corners.indices(), corners.corner_weights()):
            pixels = _gather(planes, index, t1 - t0, height, width).mul_(corner_weight.unsqueeze(1))  # [B, C, T, H, W]
            value = pixels if value is None else value.add_(pixels)
        out += value.mul_(weight[:, t0:t1].unsqueeze(1)).sum(2)  # [B, C, H, W]
    return out


def adacof_backward_torch(
    grad_out: Tensor,
    image: Tensor,
    weight: Tensor,
    alpha: Tensor,
    beta: Tensor,
    *,
    dilation: int,
    legacy: bool,
    needs: tuple[bool, bool, bool, bool],
    chunk_taps: int | None = None,
) -> tuple[Tensor | None, Tensor | None, Tensor | None, Tensor | None]:
    """Gradients w.r.t. (image, weight, alpha, beta), each None where ``needs`` says False.

    The integer parts of the offsets are held fixed: d/dalpha of the bilinear value is
    ``(1-b)(v10-v00) + b(v11-v01)``. The image gradient scatters ``g * W * corner weight`` onto
    the four clamped corners.
    """
    need_image, need_weight, need_alpha, need_beta = needs
    batch, channels, hp, wp = image.shape
    taps, height, width = weight.shape[1:]
    kernel_size = math.isqrt(taps)
    chunk = chunk_taps or default_chunk_taps(image, weight)
    planes = image.reshape(batch, channels, hp * wp)  # [B, C, Hp*Wp]
    grad_planes = torch.zeros_like(planes) if need_image else None  # [B, C, Hp*Wp]
    grad_weight = torch.empty_like(weight) if need_weight else None  # [B, T, H, W]
    grad_alpha = torch.empty_like(alpha) if need_alpha else None  # [B, T, H, W]
    grad_beta = torch.empty_like(beta) if need_beta else None  # [B, T, H, W]
    g = grad_out.unsqueeze(2)  # [B, C, 1, H, W]
    for t0 in range(0, taps, chunk):
        t1 = min(t0 + chunk, taps)
        corners = _locate_taps(alpha[:, t0:t1], beta[:, t0:t1], t0, kernel_size, dilation, hp, wp, legacy)
        tap_weight = weight[:, t0:t1]  # [B, T, H, W]
        corner_weights = corners.corner_weights()  # 4 x [B, T, H, W]
        if need_weight or need_alpha or need_beta:
            corner_pixels = [_gather(planes, i, t1 - t0, height, width) for i in corners.indices()]
            v00, v01, v10, v11 = corner_pixels  # [B, C, T, H, W] each
            a, b = corners.a.unsqueeze(1), corners.b.unsqueeze(1)  # [B, 1, T, H, W]
            if need_weight:
                value = sum(cw.unsqueeze(1) * v for cw, v in zip(corner_weights, corner_pixels))  # [B, C, T, H, W]
                grad_weight[:, t0:t1] = (g * value).sum(1)  # [B, T, H, W]
            if need_alpha:
                d_value = (1 - b) * (v10 - v00) + b * (v11 - v01)  # [B, C, T, H, W]
                grad_alpha[:, t0:t1] = tap_weight * (g * d_value).sum(1)  # [B, T, H, W]
            if need_beta:
                d_value = (1 - a) * (v01 - v00) + a * (v11 - v10)  # [B, C, T, H, W]
                grad_beta[:, t0:t1] = tap_weight * (g * d_value).sum(1)  # [B, T, H, W]
            del corner_pixels, v00, v01, v10, v11
        if need_image:
            g_weighted = g * tap_weight.unsqueeze(1)  # [B, C, T, H, W]
            for index, corner_weight in zip(corners.indices(), corner_weights):
                share = (g_weighted * corner_weight.unsqueeze(1)).view(batch, channels, -1)  # [B, C, T*H*W]
                grad_planes.scatter_add_(2, index.unsqueeze(1).expand(batch, channels, -1), share)
    grad_image = grad_planes.view(batch, channels, hp, wp) if grad_planes is not None else None
    return grad_image, grad_weight, grad_alpha, grad_beta
