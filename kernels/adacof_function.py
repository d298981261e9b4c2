"""The public AdaCoF sampling op: input checks, backend choice and the autograd Function."""

from __future__ import annotations

import logging
import math

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from kernels import adacof_cpu, adacof_cupy
from kernels.adacof_reference import adacof_backward_torch, adacof_forward_torch

__all__ = ["BACKENDS", "SAMPLING_MODES", "adacof_sample"]

SAMPLING_MODES = ("legacy", "bilinear")
"""``legacy``: integer part by truncation toward zero, as the original AdaCoF CUDA kernel (and the
published checkpoints); ``bilinear``: by floor, a true bilinear interpolation."""

BACKENDS = ("auto", "cupy", "cpu", "torch")

HALF_TAPS = (torch.bfloat16, torch.float16)
"""Tap dtypes accepted beside a float32 image: the values are converted to float32 exactly."""

logger = logging.getLogger("kernels")
_fallback_logged = False
_cpu_fallback_logged = False


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
    # Half-precision taps (a U-Net's outputs under autocast) with a float32 image are read as float32.
    half_taps = image.dtype == torch.float32 and weight.dtype in HALF_TAPS
    for name in ("alpha", "beta"):
        if half_taps and tensors[name].dtype != weight.dtype:
            raise ValueError(f"adacof_sample: {name} is {tensors[name].dtype} but weight is {weight.dtype}; weight, alpha and beta share one dtype")
    for name, value in tensors.items():
        if (value.dtype != image.dtype and not (half_taps and name != "image")) or value.device != image.device:
            raise ValueError(f"adacof_sample: {name} is {value.dtype} on {value.device} but image is {image.dtype} on {image.device}")


def _choose_cpu_backend(dtype: torch.dtype, tap_dtype: torch.dtype, channels: int, backend: str) -> str:
    """``"cpu"`` (the compiled loop) where it is built and takes these dtypes, else ``"torch"``."""
    global _cpu_fallback_logged
    fits = adacof_cpu.supports(dtype, tap_dtype, channels)
    if backend == "cpu":
        if not fits:
            raise ValueError(
                f"adacof_sample: backend='cpu' takes images of float32 (taps float32 or bfloat16) or float64 with at most "
                f"{adacof_cpu.MAX_CHANNELS} channels, got a {dtype} image of {channels} channels with {tap_dtype} taps"
            )
        if adacof_cpu.cpu_kernels() is None:
            raise RuntimeError(f"adacof_sample: backend='cpu' is unusable: {adacof_cpu.unavailable_reason()}")
        return "cpu"
    if not fits:
        return "torch"
    if adacof_cpu.cpu_kernels() is None:
        if not _cpu_fallback_logged:
            _cpu_fallback_logged = True
            logger.warning("AdaCoF sampling on the CPU falls back to the slower PyTorch reference: %s", adacof_cpu.unavailable_reason())
        return "torch"
    return "cpu"


def _choose_backend(device: torch.device, dtype: torch.dtype, backend: str, *, tap_dtype: torch.dtype | None = None, channels: int = 3) -> str:
    """``"cupy"``, ``"cpu"`` or ``"torch"`` for an image on ``device`` of ``dtype``, given the requested backend.

    On the CPU the choice also looks at the taps' dtype (default: the image's) and the image's channels.
    """
    global _fallback_logged
    if backend == "torch":
        return "torch"
    if backend == "cpu" and device.type != "cpu":
        raise ValueError(f"adacof_sample: backend='cpu' needs CPU tensors, got tensors on {device}")
    if device.type == "cpu":
        if backend == "cupy":
            raise ValueError(f"adacof_sample: backend='cupy' needs CUDA tensors, got tensors on {device}")
        return _choose_cpu_backend(dtype, tap_dtype or dtype, channels, backend)
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
        if backend == "cpu":
            return adacof_cpu.adacof_forward_cpu(adacof_cpu.cpu_kernels(), image, weight, alpha, beta, dilation=dilation, legacy=legacy)
        return adacof_forward_torch(image, weight, alpha, beta, dilation=dilation, legacy=legacy, chunk_taps=chunk_taps)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):  # type: ignore[override]
        image, weight, alpha, beta = ctx.saved_tensors
        needs = tuple(ctx.needs_input_grad[:4])
        grad_out = grad_out.contiguous()
        tap_dtype = weight.dtype
        if ctx.backend == "cpu":  # the compiled loop read strided, perhaps bfloat16 taps; the reference wants them plain
            image, weight, alpha, beta = image.contiguous(), *(t.to(image.dtype).contiguous() for t in (weight, alpha, beta))
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
        grads = (grads[0], *(None if g is None else g.to(tap_dtype) for g in grads[1:]))
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
        weight, alpha, beta: [B, F*F, H, W] tap weights, vertical and horizontal offsets (F odd), of
            the image's dtype or, with a float32 image, all three bfloat16 or float16 (read as float32;
            their gradients come back in their dtype).
        dilation: spacing d of the F x F taps.
        mode: one of ``SAMPLING_MODES``.
        backend: ``"auto"`` (CuPy kernels for CUDA float32/float64 tensors when CuPy works; the
            compiled loop of ``kernels/adacof_cpu.py`` for CPU float32 (taps float32 or bfloat16)
            and float64 tensors when a C compiler built it; else PyTorch), ``"cupy"``, ``"cpu"``
            or ``"torch"``. The backward of ``"cpu"`` is the PyTorch one.
        chunk_taps: taps per chunk on the PyTorch path (default: as many as fit about 256 MB).

    Returns:
        The sampled image [B, C, H, W]; differentiable w.r.t. all four tensors.
    """
    _check_inputs(image, weight, alpha, beta, dilation, mode, backend, chunk_taps)
    chosen = _choose_backend(image.device, image.dtype, backend, tap_dtype=weight.dtype, channels=image.shape[1])
    if chosen != "cpu":  # the compiled CPU loop reads any strides and bfloat16 taps where they lie
        image = image.contiguous()
        weight, alpha, beta = (t.to(image.dtype).contiguous() for t in (weight, alpha, beta))
    return _AdaCoFSample.apply(
        image,
        weight,
        alpha,
        beta,
        dilation,
        mode == "legacy",
        chosen,
        chunk_taps,
    )
