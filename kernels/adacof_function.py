"""The public AdaCoF sampling op: input checks, backend choice and the autograd Function."""

from __future__ import annotations

import logging
import math

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from kernels import adacof_cupy
from kernels.adacof_reference import adacof_backward_torch, adacof_forward_torch

__all__ = ["BACKENDS", "SAMPLING_MODES", "adacof_sample"]

SAMPLING_MODES = ("legacy", "bilinear")
"""``legacy``: integer part by truncation toward zero, as the original AdaCoF CUDA kernel (and the
published checkpoints); ``bilinear``: by floor, a true bilinear interpolation."""

BACKENDS = ("auto", "cupy", "torch")

logger = logging.getLogger("kernels")
_fallback_logged = False


def _check_inputs(
    image: Tensor,
    weight: Tensor,
    alpha: Tensor,
    beta: Tensor,
    dilation: int,
    mode: str,
    backend: str,
    chunk_taps: int | None,
) -> None:
    tensors = {"image": image, "weight": weight, "alpha": alpha, "beta": beta}
    for name, value in tensors.items():
        if not isinstance(value, Tensor):
            raise TypeError(f"adacof_sample: {name} must be a torch.Tensor, got {type(value).__name__}")
        if value.dim() != 4:
            raise ValueError(f"adacof_sample: {name} must be 4-D, got shape {tuple(value.shape)}")
        if not value.is_floating_point():
            raise ValueError(f"adacof_sample: {name} must be a floating-point tensor, got {value.dtype}")
    if mode not in SAMPLING_MODES:
        raise ValueError(f"adacof_sample: unknown mode {mode!r}; expected one of {SAMPLING_MODES}")
    if backend not in BACKENDS:
        raise ValueError(f"adacof_sample: unknown backend {backend!r}; expected one of {BACKENDS}")
    if isinstance(dilation, bool) or not isinstance(dilation, int) or dilation < 1:
        raise ValueError(f"adacof_sample: dilation must be an integer >= 1, got {dilation!r}")
    if chunk_taps is not None and (isinstance(chunk_taps, bool) or not isinstance(chunk_taps, int) or chunk_taps < 1):
        raise ValueError(f"adacof_sample: chunk_taps must be None or an integer >= 1, got {chunk_taps!r}")
    for name in ("alpha", "beta"):
        if tensors[name].shape != weight.shape:
            raise ValueError(f"adacof_sample: {name} has shape {tuple(tensors[name].shape)} but weight has {tuple(weight.shape)}")
    if image.shape[0] != weight.shape[0]:
        raise ValueError(
            f"adacof_sample: image batch {image.shape[0]} (shape {tuple(image.shape)}) differs from "
            f"weight batch {weight.shape[0]} (shape {tuple(weight.shape)})"
        )
    taps = weight.shape[1]
    kernel_size = math.isqrt(taps)
    if kernel_size * kernel_size != taps or kernel_size % 2 == 0:
        raise ValueError(f"adacof_sample: weight has {taps} taps (shape {tuple(weight.shape)}); expected F*F taps for an odd F")
    reach = (kernel_size - 1) * dilation
    height, width = weight.shape[2:]
    if image.shape[2] < height + reach or image.shape[3] < width + reach:
        raise ValueError(
            f"adacof_sample: padded image {tuple(image.shape)} is too small for a {height}x{width} output with "
            f"F={kernel_size}, dilation={dilation}: need at least {height + reach}x{width + reach}"
        )
    for name, value in tensors.items():
        if value.dtype != image.dtype or value.device != image.device:
            raise ValueError(f"adacof_sample: {name} is {value.dtype} on {value.device} but image is {image.dtype} on {image.device}")


def _choose_backend(device: torch.device, dtype: torch.dtype, backend: str) -> str:
    """``"cupy"`` or ``"torch"`` for tensors on ``device`` of ``dtype``, given the requested backend."""
    global _fallback_logged
    if backend == "torch":
        return "torch"
    if backend == "cupy":
        if device.type != "cuda":
            raise ValueError(f"adacof_sample: backend='cupy' needs CUDA tensors, got tensors on {device}")
        if dtype not in adacof_cupy.CUPY_DTYPES:
            raise ValueError(f"adacof_sample: backend='cupy' supports {sorted(map(str, adacof_cupy.CUPY_DTYPES))}, got {dtype}")
        if not adacof_cupy.CUPY_AVAILABLE:
            raise RuntimeError(f"adacof_sample: backend='cupy' is unusable: {adacof_cupy.CUPY_UNAVAILABLE_REASON}")
        return "cupy"
    if device.type != "cuda" or dtype not in adacof_cupy.CUPY_DTYPES:
        return "torch"
    if not adacof_cupy.CUPY_AVAILABLE:
        if not _fallback_logged:
            _fallback_logged = True
            logger.warning(
                "AdaCoF sampling on CUDA falls back to the slower PyTorch reference: %s",
                adacof_cupy.CUPY_UNAVAILABLE_REASON,
            )
        return "torch"
    return "cupy"


class _AdaCoFSample(torch.autograd.Function):
    @staticmethod
    def forward(ctx, image, weight, alpha, beta, dilation, legacy, backend, chunk_taps):  # type: ignore[override]
        ctx.save_for_backward(image, weight, alpha, beta)
        ctx.dilation, ctx.legacy, ctx.backend, ctx.chunk_taps = dilation, legacy, backend, chunk_taps
        if backend == "cupy":
            return adacof_cupy.adacof_forward_cupy(image, weight, alpha, beta, dilation=dilation, legacy=legacy)
        return adacof_forward_torch(image, weight, alpha, beta, dilation=dilation, legacy=legacy, chunk_taps=chunk_taps)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):  # type: ignore[override]
        image, weight, alpha, beta = ctx.saved_tensors
        needs = tuple(ctx.needs_input_grad[:4])
        grad_out = grad_out.contiguous()
        if ctx.backend == "cupy":
            grads = adacof_cupy.adacof_backward_cupy(grad_out, image, weight, alpha, beta, dilation=ctx.dilation, legacy=ctx.legacy, needs=needs)
        else:
            grads = adacof_backward_torch(
                grad_out,
                image,
                weight,
                alpha,
                beta,
                dilation=ctx.dilation,
                legacy=ctx.legacy,
                needs=needs,
                chunk_taps=ctx.chunk_taps,
            )
        return (*grads, None, None, None, None)


def adacof_sample(
    image: Tensor,
    weight: Tensor,
    alpha: Tensor,
    beta: Tensor,
    *,
    dilation: int = 1,
    mode: str = "bilinear",
    backend: str = "auto",
    chunk_taps: int | None = None,
) -> Tensor:
    """AdaCoF's adaptive collaboration of flows: per-pixel deformable sampling of a padded image.

    ``out[b,c,y,x] = sum_{i,j<F} W[b,iF+j,y,x] * bilinear(image[b,c], y + i*d + alpha[b,iF+j,y,x],
    x + j*d + beta[b,iF+j,y,x])`` with corner indices clamped to the padded image.

    Args:
        image: the replication-padded image [B, C, Hp, Wp], Hp >= H + (F-1)*d, Wp >= W + (F-1)*d.
        weight, alpha, beta: [B, F*F, H, W] tap weights, vertical and horizontal offsets (F odd).
        dilation: spacing d of the F x F taps.
        mode: one of ``SAMPLING_MODES``.
        backend: ``"auto"`` (CuPy kernels for CUDA float32/float64 tensors when CuPy works, else
            PyTorch), ``"cupy"`` or ``"torch"``.
        chunk_taps: taps per chunk on the PyTorch path (default: as many as fit about 256 MB).

    Returns:
        The sampled image [B, C, H, W]; differentiable w.r.t. all four tensors.
    """
    _check_inputs(image, weight, alpha, beta, dilation, mode, backend, chunk_taps)
    chosen = _choose_backend(image.device, image.dtype, backend)
    return _AdaCoFSample.apply(
        image.contiguous(),
        weight.contiguous(),
        alpha.contiguous(),
        beta.contiguous(),
        dilation,
        mode == "legacy",
        chosen,
        chunk_taps,
    )
