"""AdaCoF sampling as CUDA kernels compiled at run time by CuPy, launched on torch's current stream.

Whether CuPy can drive a GPU is decided once, at import: ``CUPY_AVAILABLE`` says so and
``CUPY_UNAVAILABLE_REASON`` says why not. The kernels compute exactly what
``kernels/adacof_reference.py`` computes (``locate_tap`` there is ``_locate_taps``); they take
contiguous float32 or float64 tensors.
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Iterator

import torch
from torch import Tensor

__all__ = [
    "CUDA_SOURCE",
    "CUPY_AVAILABLE",
    "CUPY_DTYPES",
    "CUPY_UNAVAILABLE_REASON",
    "adacof_backward_cupy",
    "adacof_forward_cupy",
]

CUDA_SOURCE = r"""
// AdaCoF sampling. Image [B, C, Hp, Wp] (already padded); weight, alpha, beta [B, F*F, H, W];
// output [B, C, H, W]; all contiguous. legacy != 0 takes the integer part of an offset toward
// zero, as the original AdaCoF kernel's (int) cast did; legacy == 0 takes the floor.

template <typename T>
struct TapSample {
    long long i00, i01, i10, i11;  // the four corners, as offsets within one [Hp, Wp] channel plane
    T a, b;                        // vertical and horizontal fractions
};

__device__ __forceinline__ float integer_part(float v, int legacy) { return legacy ? truncf(v) : floorf(v); }
__device__ __forceinline__ double integer_part(double v, int legacy) { return legacy ? trunc(v) : floor(v); }

// Comparisons rather than fmin/fmax, so that NaN passes through as it does in torch.clamp.
template <typename T>
__device__ __forceinline__ T bounded(T v, T limit) { return v < -limit ? -limit : (v > limit ? limit : v); }

__device__ __forceinline__ int clamp_index(int v, int last) { return v < 0 ? 0 : (v > last ? last : v); }

template <typename T>
__device__ __forceinline__ TapSample<T> locate_tap(T alpha, T beta, int y, int x, int i, int j, int dilation,
                                                   int Hp, int Wp, int legacy) {
    // Past +-(Hp+1) both corners lie on the border anyway; the bound keeps the int conversion defined.
    const T al = bounded(alpha, (T)(Hp + 1));
    const T be = bounded(beta, (T)(Wp + 1));
    const T al_int = integer_part(al, legacy);
    const T be_int = integer_part(be, legacy);
    const int r = y + i * dilation + (int)al_int;
    const int c = x + j * dilation + (int)be_int;
    const int r0 = clamp_index(r, Hp - 1), r1 = clamp_index(r + 1, Hp - 1);
    const int c0 = clamp_index(c, Wp - 1), c1 = clamp_index(c + 1, Wp - 1);
    TapSample<T> s;
    s.i00 = (long long)r0 * Wp + c0;
    s.i01 = (long long)r0 * Wp + c1;
    s.i10 = (long long)r1 * Wp + c0;
    s.i11 = (long long)r1 * Wp + c1;
    s.a = al - al_int;
    s.b = be - be_int;
    return s;
}

// One thread per output element (b, c, y, x), summing over the F*F taps.
template <typename T>
__device__ void forward_impl(const T* __restrict__ image, const T* __restrict__ weight,
                             const T* __restrict__ alpha, const T* __restrict__ beta, T* __restrict__ out,
                             int B, int C, int H, int W, int Hp, int Wp, int F, int dilation, int legacy) {
    const long long plane = (long long)H * W;
    const long long image_plane = (long long)Hp * Wp;
    const long long taps = (long long)F * F;
    const long long n = (long long)B * C * plane;
    for (long long idx = (long long)blockIdx.x * blockDim.x + threadIdx.x; idx < n;
         idx += (long long)blockDim.x * gridDim.x) {
        const int x = (int)(idx % W);
        const int y = (int)((idx / W) % H);
        const long long bc = idx / plane;  // b * C + c
        const long long b = bc / C;
        const T* img = image + bc * image_plane;
        const long long first_tap = b * taps * plane + (long long)y * W + x;
        T acc = 0;
        for (int i = 0; i < F; ++i) {
            for (int j = 0; j < F; ++j) {
                const long long k = first_tap + (long long)(i * F + j) * plane;
                const TapSample<T> s = locate_tap(alpha[k], beta[k], y, x, i, j, dilation, Hp, Wp, legacy);
                const T value = (1 - s.a) * (1 - s.b) * img[s.i00] + (1 - s.a) * s.b * img[s.i01]
                              + s.a * (1 - s.b) * img[s.i10] + s.a * s.b * img[s.i11];
                acc += weight[k] * value;
            }
        }
        out[idx] = acc;
    }
}

// One thread per (b, tap, y, x): the weight and offset gradients sum over channels; the image
// gradient is scattered onto the four corners with atomicAdd. need_* == 0 leaves that output alone.
template <typename T>
__device__ void backward_impl(const T* __restrict__ grad_out, const T* __restrict__ image,
                              const T* __restrict__ weight, const T* __restrict__ alpha,
                              const T* __restrict__ beta, T* grad_image, T* __restrict__ grad_weight,
                              T* __restrict__ grad_alpha, T* __restrict__ grad_beta,
                              int B, int C, int H, int W, int Hp, int Wp, int F, int dilation, int legacy,
                              int need_image, int need_weight, int need_alpha, int need_beta) {
    const long long plane = (long long)H * W;
    const long long image_plane = (long long)Hp * Wp;
    const long long taps = (long long)F * F;
    const long long n = (long long)B * taps * plane;
    for (long long idx = (long long)blockIdx.x * blockDim.x + threadIdx.x; idx < n;
         idx += (long long)blockDim.x * gridDim.x) {
        const int x = (int)(idx % W);
        const int y = (int)((idx / W) % H);
        const int tap = (int)((idx / plane) % taps);
        const long long b = idx / (plane * taps);
        const int i = tap / F, j = tap % F;
        const T w = weight[idx];
        const TapSample<T> s = locate_tap(alpha[idx], beta[idx], y, x, i, j, dilation, Hp, Wp, legacy);
        const T w00 = (1 - s.a) * (1 - s.b), w01 = (1 - s.a) * s.b, w10 = s.a * (1 - s.b), w11 = s.a * s.b;
        T sum_value = 0, sum_d_alpha = 0, sum_d_beta = 0;
        for (int c = 0; c < C; ++c) {
            const long long bc = b * C + c;
            const T g = grad_out[bc * plane + (long long)y * W + x];
            const T* img = image + bc * image_plane;
            const T v00 = img[s.i00], v01 = img[s.i01], v10 = img[s.i10], v11 = img[s.i11];
            sum_value += g * (w00 * v00 + w01 * v01 + w10 * v10 + w11 * v11);
            sum_d_alpha += g * ((1 - s.b) * (v10 - v00) + s.b * (v11 - v01));
            sum_d_beta += g * ((1 - s.a) * (v01 - v00) + s.a * (v11 - v10));
            if (need_image) {
                T* grad_img = grad_image + bc * image_plane;
                const T gw = g * w;
                atomicAdd(grad_img + s.i00, gw * w00);
                atomicAdd(grad_img + s.i01, gw * w01);
                atomicAdd(grad_img + s.i10, gw * w10);
                atomicAdd(grad_img + s.i11, gw * w11);
            }
        }
        if (need_weight) grad_weight[idx] = sum_value;
        if (need_alpha) grad_alpha[idx] = w * sum_d_alpha;
        if (need_beta) grad_beta[idx] = w * sum_d_beta;
    }
}

#define ADACOF_KERNELS(T)                                                                              \
extern "C" __global__ void adacof_forward_##T(                                                         \
        const T* image, const T* weight, const T* alpha, const T* beta, T* out,                        \
        int B, int C, int H, int W, int Hp, int Wp, int F, int dilation, int legacy) {                 \
    forward_impl<T>(image, weight, alpha, beta, out, B, C, H, W, Hp, Wp, F, dilation, legacy);        \
}                                                                                                      \
extern "C" __global__ void adacof_backward_##T(                                                        \
        const T* grad_out, const T* image, const T* weight, const T* alpha, const T* beta,             \
        T* grad_image, T* grad_weight, T* grad_alpha, T* grad_beta,                                    \
        int B, int C, int H, int W, int Hp, int Wp, int F, int dilation, int legacy,                   \
        int need_image, int need_weight, int need_alpha, int need_beta) {                              \
    backward_impl<T>(grad_out, image, weight, alpha, beta, grad_image, grad_weight, grad_alpha,       \
                     grad_beta, B, C, H, W, Hp, Wp, F, dilation, legacy,                               \
                     need_image, need_weight, need_alpha, need_beta);                                  \
}

ADACOF_KERNELS(float)
ADACOF_KERNELS(double)
"""

CUPY_DTYPES = {torch.float32: "float", torch.float64: "double"}
"""The dtypes the kernels are instantiated for, with their kernel-name suffix."""

_THREADS_PER_BLOCK = 256
_MAX_BLOCKS = 65535  # the kernels loop over the grid, so more elements just mean more laps


def _detect_cupy() -> tuple[bool, str]:
    try:
        import cupy
    except ImportError as exc:
        return False, f"cupy is not installed ({exc})"
    try:
        # Importing cupy works without a GPU; the first runtime call is what fails.
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # cupy raises several RuntimeError subclasses here
        return False, f"cupy cannot reach a CUDA device ({type(exc).__name__}: {exc})"
    if count < 1:
        return False, "cupy sees no CUDA device"
    return True, ""


CUPY_AVAILABLE, CUPY_UNAVAILABLE_REASON = _detect_cupy()


@functools.cache
def _module(device_index: int):  # -> cupy.RawModule
    import cupy

    with cupy.cuda.Device(device_index):
        return cupy.RawModule(code=CUDA_SOURCE, options=("--std=c++14",))


@contextlib.contextmanager
def _on_torch_stream(device: torch.device) -> Iterator[None]:
    import cupy

    stream = cupy.cuda.ExternalStream(torch.cuda.current_stream(device).cuda_stream, device.index)
    with cupy.cuda.Device(device.index), stream:
        yield


def _launch(name: str, n_threads: int, tensors: tuple[Tensor, ...], ints: tuple[int, ...]) -> None:
    """Run kernel ``name`` over ``n_threads`` elements on the tensors' device and torch's current stream."""
    if n_threads == 0:
        return
    import cupy
    import numpy

    device = tensors[0].device
    blocks = min(math.ceil(n_threads / _THREADS_PER_BLOCK), _MAX_BLOCKS)
    with _on_torch_stream(device):
        kernel = _module(device.index).get_function(name)
        arrays = tuple(cupy.from_dlpack(t.detach()) for t in tensors)  # zero-copy views of torch memory
        kernel((blocks,), (_THREADS_PER_BLOCK,), (*arrays, *(numpy.int32(v) for v in ints)))


def _geometry(image: Tensor, weight: Tensor, dilation: int, legacy: bool) -> tuple[int, ...]:
    batch, channels, hp, wp = image.shape
    taps, height, width = weight.shape[1:]
    return batch, channels, height, width, hp, wp, math.isqrt(taps), dilation, int(legacy)


def adacof_forward_cupy(image: Tensor, weight: Tensor, alpha: Tensor, beta: Tensor, *, dilation: int, legacy: bool) -> Tensor:
    """The sampled image [B, C, H, W]; inputs contiguous CUDA tensors of one dtype in ``CUPY_DTYPES``."""
    batch, channels = image.shape[:2]
    out = image.new_empty(batch, channels, *weight.shape[2:])
    name = f"adacof_forward_{CUPY_DTYPES[image.dtype]}"
    _launch(name, out.numel(), (image, weight, alpha, beta, out), _geometry(image, weight, dilation, legacy))
    return out


def adacof_backward_cupy(
    grad_out: Tensor,
    image: Tensor,
    weight: Tensor,
    alpha: Tensor,
    beta: Tensor,
    *,
    dilation: int,
    legacy: bool,
    needs: tuple[bool, bool, bool, bool],
) -> tuple[Tensor | None, Tensor | None, Tensor | None, Tensor | None]:
    """Gradients w.r.t. (image, weight, alpha, beta), each None where ``needs`` says False."""
    need_image, need_weight, need_alpha, need_beta = needs
    grad_image = torch.zeros_like(image) if need_image else None  # accumulated with atomicAdd
    grad_weight = torch.empty_like(weight) if need_weight else None  # every element written once
    grad_alpha = torch.empty_like(alpha) if need_alpha else None
    grad_beta = torch.empty_like(beta) if need_beta else None
    if any(needs):
        unused = image.new_empty(1)  # stands in for outputs the kernel is told not to write
        outputs = tuple(unused if t is None else t for t in (grad_image, grad_weight, grad_alpha, grad_beta))
        name = f"adacof_backward_{CUPY_DTYPES[image.dtype]}"
        ints = (*_geometry(image, weight, dilation, legacy), *(int(flag) for flag in needs))
        _launch(name, weight.numel(), (grad_out, image, weight, alpha, beta, *outputs), ints)
    return grad_image, grad_weight, grad_alpha, grad_beta
