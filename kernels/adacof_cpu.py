"""AdaCoF sampling's forward as a small C library, compiled on first use and called through ctypes.

The PyTorch reference (``kernels/adacof_reference.py``) builds every tap's four corner indices,
gathers and fractions as whole tensors, some forty passes over memory per chunk of taps. This
loop visits each output pixel once and sums ``weight * bilinear value`` over its taps for all
channels in registers, as the CUDA kernel (``kernels/adacof_cupy.py``) does per thread, with the
same bound and integer part. It reads its inputs where they lie, NCHW or NHWC (``channels_last``),
and bfloat16 taps as float32 (exactly), so the U-Net's outputs under autocast need no copies.

The library is built with the system C compiler (``$CC``, else ``cc``) into
``$VOSVFI_KERNEL_CACHE`` (default ``~/.cache/vosvfi/kernels``), named by a hash of the source, the
flags and the CPU's features, so a rebuilt machine or an edited source gets its own file. Where no
compiler or cache folder works, :func:`cpu_kernels` returns None with the reason in
:func:`unavailable_reason`, and callers fall back to the PyTorch path. Rows of the output are split
across ``torch.get_num_threads()`` Python threads; ctypes releases the GIL during each call.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import math
import os
import platform
import shutil
import subprocess
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch
from torch import Tensor

__all__ = ["C_SOURCE", "FUNCTIONS", "MAX_CHANNELS", "adacof_forward_cpu", "cpu_kernels", "supports", "unavailable_reason"]

C_SOURCE = r"""
// AdaCoF sampling, forward only. Image [B, C, Hp, Wp] (already padded); weight, alpha, beta
// [B, F*F, H, W]; output [B, C, H, W] contiguous. The inputs may have any strides (NCHW or NHWC),
// given in elements; the taps (weight, alpha, beta) may be bfloat16, read as float exactly.
// Rows first_row..last_row of the B*H output rows are written. legacy != 0 takes the integer part
// of an offset toward zero, as the original AdaCoF kernel's (int) cast did; legacy == 0 the floor.
#include <math.h>
#include <stdint.h>
#include <string.h>

enum { B_, C_, H_, W_, HP, WP, F_, DILATION, LEGACY, IMAGE_STRIDES, WEIGHT_STRIDES = IMAGE_STRIDES + 4,
       ALPHA_STRIDES = WEIGHT_STRIDES + 4, BETA_STRIDES = ALPHA_STRIDES + 4, GEOMETRY = BETA_STRIDES + 4 };

static inline int clamp_index(int v, int last) { return v < 0 ? 0 : (v > last ? last : v); }
static inline float load_float(const float* p) { return *p; }
static inline double load_double(const double* p) { return *p; }
static inline float load_bf16(const uint16_t* p) {
    const uint32_t bits = (uint32_t)*p << 16;
    float value;
    memcpy(&value, &bits, sizeof value);
    return value;
}

#define ADACOF_FORWARD(T, TAP, NAME, LOAD, TRUNC, FLOOR)                                             \
void adacof_forward_rows_##NAME(const T* image, const TAP* weight, const TAP* alpha, const TAP* beta, \
                                T* out, const int64_t* g, int64_t first_row, int64_t last_row) {     \
    const int64_t C = g[C_], H = g[H_], W = g[W_], Hp = g[HP], Wp = g[WP], F = g[F_];               \
    const int64_t dilation = g[DILATION], taps = F * F;                                              \
    const int legacy = (int)g[LEGACY];                                                               \
    const int64_t* is = g + IMAGE_STRIDES;                                                           \
    const int64_t* ws = g + WEIGHT_STRIDES;                                                          \
    const int64_t* as = g + ALPHA_STRIDES;                                                           \
    const int64_t* bs = g + BETA_STRIDES;                                                            \
    /* Past +-(Hp+1) both corners lie on the border anyway; the bound keeps the int conversion defined. */ \
    const T row_bound = (T)(Hp + 1), col_bound = (T)(Wp + 1);                                       \
    T acc[16]; /* MAX_CHANNELS */                                                                    \
    for (int64_t row = first_row; row < last_row; ++row) {                                          \
        const int64_t b = row / H, y = row % H;                                                      \
        const T* img = image + b * is[0];                                                            \
        T* out_row = out + b * C * H * W + y * W;                                                    \
        for (int64_t x = 0; x < W; ++x) {                                                            \
            T acc0 = 0, acc1 = 0, acc2 = 0;                                                          \
            for (int64_t c = 0; c < C; ++c) acc[c] = 0; /* C <= MAX_CHANNELS, checked by the caller */ \
            const TAP* w_at = weight + b * ws[0] + y * ws[2] + x * ws[3];                            \
            const TAP* a_at = alpha + b * as[0] + y * as[2] + x * as[3];                             \
            const TAP* b_at = beta + b * bs[0] + y * bs[2] + x * bs[3];                              \
            int64_t tap = 0;                                                                         \
            for (int64_t i = 0; i < F; ++i) {                                                        \
                const int row_base = (int)(y + i * dilation);                                        \
                for (int64_t j = 0; j < F; ++j, ++tap) {                                             \
                    T al = (T)LOAD(a_at + tap * as[1]), be = (T)LOAD(b_at + tap * bs[1]);            \
                    const T w = (T)LOAD(w_at + tap * ws[1]);                                         \
                    /* Comparisons, not fmin/fmax: NaN passes through as in torch.clamp. */          \
                    al = al < -row_bound ? -row_bound : (al > row_bound ? row_bound : al);           \
                    be = be < -col_bound ? -col_bound : (be > col_bound ? col_bound : be);           \
                    const T al_int = legacy ? TRUNC(al) : FLOOR(al);                                 \
                    const T be_int = legacy ? TRUNC(be) : FLOOR(be);                                 \
                    const int r = row_base + (int)al_int;                                            \
                    const int c = (int)(x + j * dilation) + (int)be_int;                             \
                    const int64_t r0 = clamp_index(r, (int)Hp - 1) * is[2], r1 = clamp_index(r + 1, (int)Hp - 1) * is[2]; \
                    const int64_t c0 = clamp_index(c, (int)Wp - 1) * is[3], c1 = clamp_index(c + 1, (int)Wp - 1) * is[3]; \
                    const T fa = al - al_int, fb = be - be_int;                                      \
                    const T w00 = (1 - fa) * (1 - fb), w01 = (1 - fa) * fb, w10 = fa * (1 - fb), w11 = fa * fb; \
                    const T* p00 = img + r0 + c0; const T* p01 = img + r0 + c1;                      \
                    const T* p10 = img + r1 + c0; const T* p11 = img + r1 + c1;                      \
                    if (C == 3) { /* RGB: three accumulators in registers */                         \
                        const int64_t s1 = is[1], s2 = 2 * is[1];                                    \
                        acc0 += w * (w00 * p00[0] + w01 * p01[0] + w10 * p10[0] + w11 * p11[0]);     \
                        acc1 += w * (w00 * p00[s1] + w01 * p01[s1] + w10 * p10[s1] + w11 * p11[s1]); \
                        acc2 += w * (w00 * p00[s2] + w01 * p01[s2] + w10 * p10[s2] + w11 * p11[s2]); \
                    } else {                                                                         \
                        for (int64_t ch = 0, at = 0; ch < C; ++ch, at += is[1]) {                    \
                            acc[ch] += w * (w00 * p00[at] + w01 * p01[at] + w10 * p10[at] + w11 * p11[at]); \
                        }                                                                            \
                    }                                                                                \
                }                                                                                    \
            }                                                                                        \
            if (C == 3) { acc[0] = acc0; acc[1] = acc1; acc[2] = acc2; }                             \
            for (int64_t c = 0; c < C; ++c) out_row[c * H * W + x] = acc[c];                         \
        }                                                                                            \
    }                                                                                                \
}

ADACOF_FORWARD(float, float, float_float, load_float, truncf, floorf)
ADACOF_FORWARD(double, double, double_double, load_double, trunc, floor)
ADACOF_FORWARD(float, uint16_t, float_bfloat16, load_bf16, truncf, floorf)
"""

FUNCTIONS = {
    (torch.float32, torch.float32): "float_float",
    (torch.float64, torch.float64): "double_double",
    (torch.float32, torch.bfloat16): "float_bfloat16",
}
"""(image dtype, weight/alpha/beta dtype) → the suffix of the function built for them."""

MAX_CHANNELS = 16
"""Image channels the loop keeps in registers (AdaCoF samples RGB)."""

# No -ffast-math: NaN must pass through the bound. No FMA contraction, so each product rounds as
# in the PyTorch reference. -march=native: the file's name carries the CPU's features.
_FLAGS = ("-O3", "-march=native", "-ffp-contract=off", "-fno-math-errno", "-fPIC", "-shared")

_lock = threading.Lock()
_reason = ""


def _cpu_features() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("flags"):
                return line
    except OSError:
        pass
    return platform.processor()


def _cache_dir() -> Path:
    configured = os.environ.get("VOSVFI_KERNEL_CACHE")
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "vosvfi" / "kernels"


def _compiler() -> str | None:
    return shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc") or shutil.which("clang")


def library_path(compiler: str) -> Path:
    """Where the library for this source, these flags and this CPU lives."""
    key = "\0".join((C_SOURCE, compiler, *_FLAGS, platform.machine(), _cpu_features()))
    return _cache_dir() / f"adacof_cpu_{hashlib.sha256(key.encode()).hexdigest()[:16]}.so"


def _build(compiler: str, target: Path) -> None:
    """Compile into a temporary file beside ``target`` and rename it into place (concurrent builds are safe)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".build.") as folder:
        source, library = Path(folder) / "adacof_cpu.c", Path(folder) / target.name
        source.write_text(C_SOURCE)
        result = subprocess.run([compiler, *_FLAGS, "-o", str(library), str(source), "-lm"], capture_output=True, text=True, timeout=300)
        if result.returncode != 0:
            first = (result.stderr.strip().splitlines() or ["no message"])[0]
            raise OSError(f"{compiler} failed ({result.returncode}): {first[:200]}")
        os.replace(library, target)


def _declare(library: ctypes.CDLL) -> ctypes.CDLL:
    for suffix in FUNCTIONS.values():
        function = getattr(library, f"adacof_forward_rows_{suffix}")
        function.argtypes = [ctypes.c_void_p] * 6 + [ctypes.c_int64] * 2
        function.restype = None
    return library


def supports(image_dtype: torch.dtype, tap_dtype: torch.dtype, channels: int) -> bool:
    """Whether the loop takes an image of ``image_dtype`` and ``channels`` channels with taps of ``tap_dtype``."""
    return (image_dtype, tap_dtype) in FUNCTIONS and channels <= MAX_CHANNELS


def cpu_kernels() -> ctypes.CDLL | None:
    """The compiled library, built on first use; None (see :func:`unavailable_reason`) where it cannot be."""
    with _lock:
        return _load()


@functools.cache
def _load() -> ctypes.CDLL | None:
    global _reason
    compiler = _compiler()
    if compiler is None:
        _reason = "no C compiler (cc, gcc or clang) on PATH"
        return None
    target = library_path(compiler)
    try:
        if not target.is_file():
            _build(compiler, target)
        return _declare(ctypes.CDLL(str(target)))
    except (OSError, subprocess.SubprocessError, AttributeError) as error:
        _reason = f"cannot build or load {target}: {error}"
        return None


def unavailable_reason() -> str:
    """Why :func:`cpu_kernels` returned None ("" before the first call or when it worked)."""
    return _reason


@functools.cache
def _pool(workers: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vosvfi-adacof")


def adacof_forward_cpu(library: ctypes.CDLL, image: Tensor, weight: Tensor, alpha: Tensor, beta: Tensor, *, dilation: int, legacy: bool) -> Tensor:
    """The sampled image [B, C, H, W], contiguous; CPU inputs of any strides, dtypes as :func:`supports` says."""
    batch, channels, hp, wp = image.shape
    taps, height, width = weight.shape[1:]
    out = torch.empty(batch, channels, height, width, dtype=image.dtype)
    function = getattr(library, f"adacof_forward_rows_{FUNCTIONS[image.dtype, weight.dtype]}")
    geometry = [batch, channels, height, width, hp, wp, math.isqrt(taps), dilation, int(legacy)]
    for tensor in (image, weight, alpha, beta):
        geometry += tensor.stride()
    geometry_array = (ctypes.c_int64 * len(geometry))(*geometry)
    pointers = [t.data_ptr() for t in (image, weight, alpha, beta, out)] + [ctypes.addressof(geometry_array)]
    rows = batch * height
    parts = max(1, min(torch.get_num_threads(), rows))
    if parts == 1:
        function(*pointers, 0, rows)
        return out
    bounds = [rows * part // parts for part in range(parts + 1)]
    futures = [_pool(parts).submit(function, *pointers, first, last) for first, last in zip(bounds, bounds[1:])]
    for future in futures:
        future.result()
    return out
