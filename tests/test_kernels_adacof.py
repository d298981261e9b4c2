"""AdaCoF sampling: the PyTorch reference against a naive loop, gradcheck, chunking, the CUDA source
(compiled with nvcc, and run on the host through a small C++ shim), the CuPy kernels on a GPU, the
dispatcher's checks and its fallback log line."""

from __future__ import annotations

import ctypes
import logging
import math
import shutil
import subprocess
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from conftest import cuda_with_cupy

from kernels import SAMPLING_MODES, adacof_cupy, adacof_function, adacof_sample
from kernels.adacof_reference import adacof_backward_torch, adacof_forward_torch, default_chunk_taps

MODES = pytest.mark.parametrize("mode", SAMPLING_MODES)


def _offsets(shape: tuple[int, ...], low: int, high: int, generator: torch.Generator, dtype=torch.float64) -> torch.Tensor:
    """Integer in [low, high] plus a fraction in [0.15, 0.85]: never near an integer, where the op kinks or jumps."""
    whole = torch.randint(low, high + 1, shape, generator=generator)
    return (whole + 0.15 + 0.7 * torch.rand(shape, generator=generator)).to(dtype)


def _inputs(
    seed: int, *, batch=2, channels=2, kernel_size=3, dilation=1, height=4, width=4, dtype=torch.float64, spread=None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """A padded image and taps whose offsets reach past every border, so that clamping is exercised."""
    gen = torch.Generator().manual_seed(seed)
    reach = (kernel_size - 1) * dilation
    hp, wp = height + reach, width + reach
    taps = kernel_size * kernel_size
    spread = spread if spread is not None else hp
    image = torch.rand(batch, channels, hp, wp, generator=gen).to(dtype)
    weight = torch.randn(batch, taps, height, width, generator=gen).to(dtype)
    alpha = _offsets((batch, taps, height, width), -spread, spread - 1, gen, dtype)
    beta = _offsets((batch, taps, height, width), -spread, spread - 1, gen, dtype)
    return image, weight, alpha, beta


def _expected_pixel(image, weight, alpha, beta, b, c, y, x, dilation, mode) -> float:
    """The sampling formula for one output value, written out with Python scalars."""
    kernel_size = math.isqrt(weight.shape[1])
    hp, wp = image.shape[2:]

    def pixel(row: int, col: int) -> float:
        return float(image[b, c, min(max(row, 0), hp - 1), min(max(col, 0), wp - 1)])

    total = 0.0
    for i in range(kernel_size):
        for j in range(kernel_size):
            tap = i * kernel_size + j
            dy, dx = float(alpha[b, tap, y, x]), float(beta[b, tap, y, x])
            whole_y = int(dy) if mode == "legacy" else math.floor(dy)  # int() truncates toward zero
            whole_x = int(dx) if mode == "legacy" else math.floor(dx)
            fy, fx = dy - whole_y, dx - whole_x
            row, col = y + i * dilation + whole_y, x + j * dilation + whole_x
            value = (
                (1 - fy) * (1 - fx) * pixel(row, col)
                + (1 - fy) * fx * pixel(row, col + 1)
                + fy * (1 - fx) * pixel(row + 1, col)
                + fy * fx * pixel(row + 1, col + 1)
            )
            total += float(weight[b, tap, y, x]) * value
    return total


def _all_grads(image, weight, alpha, beta, grad_out, **kwargs) -> tuple[torch.Tensor, ...]:
    leaves = [t.detach().requires_grad_() for t in (image, weight, alpha, beta)]
    out = adacof_sample(*leaves, **kwargs)
    return (out.detach(), *torch.autograd.grad(out, leaves, grad_out))


# --- feature: values ------------------------------------------------------------------------------


@MODES
@pytest.mark.parametrize("dilation", [1, 2])
def test_feature_matches_naive_loop(mode, dilation):
    image, weight, alpha, beta = _inputs(3, kernel_size=3, dilation=dilation, height=5, width=6)
    out = adacof_sample(image, weight, alpha, beta, dilation=dilation, mode=mode, backend="torch")
    for b, c, y, x in [(0, 0, 0, 0), (1, 1, 4, 5), (0, 1, 2, 3), (1, 0, 4, 0), (0, 0, 1, 5)]:
        expected = _expected_pixel(image, weight, alpha, beta, b, c, y, x, dilation, mode)
        assert float(out[b, c, y, x]) == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_feature_legacy_differs_from_bilinear_only_for_negative_offsets():
    image, weight, _, _ = _inputs(5, kernel_size=3, height=5, width=5)
    negative = torch.full_like(weight, -0.4)
    positive = torch.full_like(weight, 0.3)
    legacy = adacof_sample(image, weight, negative, positive, mode="legacy", backend="torch")
    bilinear = adacof_sample(image, weight, negative, positive, mode="bilinear", backend="torch")
    # legacy keeps the integer part 0 and extrapolates with a fraction of -0.4
    assert (legacy - bilinear).abs().max() > 1e-3
    for b, c, y, x in [(0, 0, 2, 2), (1, 1, 0, 4)]:
        assert float(legacy[b, c, y, x]) == pytest.approx(_expected_pixel(image, weight, negative, positive, b, c, y, x, 1, "legacy"), rel=1e-12)

    gen = torch.Generator().manual_seed(6)
    non_negative = [3 * torch.rand(weight.shape, generator=gen, dtype=torch.float64) for _ in range(2)]
    torch.testing.assert_close(
        adacof_sample(image, weight, *non_negative, mode="legacy", backend="torch"),
        adacof_sample(image, weight, *non_negative, mode="bilinear", backend="torch"),
        rtol=0,
        atol=0,
    )


@MODES
@pytest.mark.parametrize(("kernel_size", "dilation"), [(3, 1), (5, 1), (3, 2), (5, 2)])
def test_feature_centre_tap_with_zero_offsets_returns_the_unpadded_image(mode, kernel_size, dilation):
    image = torch.rand(2, 3, 6, 7)
    pad = (kernel_size - 1) * dilation // 2
    weight = torch.zeros(2, kernel_size**2, 6, 7)
    weight[:, kernel_size**2 // 2] = 1
    zeros = torch.zeros_like(weight)
    out = adacof_sample(F.pad(image, (pad,) * 4, mode="replicate"), weight, zeros, zeros, dilation=dilation, mode=mode)
    torch.testing.assert_close(out, image, rtol=0, atol=0)


@MODES
def test_feature_integer_offset_shifts_the_image(mode):
    image = torch.rand(1, 2, 6, 7, dtype=torch.float64)
    pad = 2  # F=5, d=1
    padded = F.pad(image, (pad,) * 4, mode="replicate")
    weight = torch.zeros(1, 25, 6, 7, dtype=torch.float64)
    weight[:, 12] = 1
    alpha, beta = torch.full_like(weight, 1.0), torch.full_like(weight, -3.0)
    out = adacof_sample(padded, weight, alpha, beta, mode=mode)
    rows = (torch.arange(6) + pad + 1).clamp(0, padded.shape[2] - 1)
    cols = (torch.arange(7) + pad - 3).clamp(0, padded.shape[3] - 1)
    torch.testing.assert_close(out, padded[:, :, rows][:, :, :, cols], rtol=0, atol=0)


@MODES
def test_feature_huge_offsets_sample_the_border(mode):
    image, weight, alpha, beta = _inputs(9, kernel_size=3, height=5, width=5)
    far_alpha, far_beta = alpha.clone(), beta.clone()
    far_alpha[:, :, 0] = 40.5  # well past the bottom border: samples the last row
    far_beta[:, :, :, 1] = -40.5  # well past the left border: samples the first column
    huge_alpha, huge_beta = alpha.clone(), beta.clone()
    huge_alpha[:, :, 0] = 1e30  # would overflow an integer conversion without the bound
    huge_beta[:, :, :, 1] = -1e30
    far = adacof_sample(image, weight, far_alpha, far_beta, mode=mode)
    huge = adacof_sample(image, weight, huge_alpha, huge_beta, mode=mode)
    torch.testing.assert_close(huge, far, rtol=1e-12, atol=1e-12)
    assert float(far[1, 0, 0, 3]) == pytest.approx(_expected_pixel(image, weight, far_alpha, far_beta, 1, 0, 0, 3, 1, mode), rel=1e-12)


def test_feature_float32_agrees_with_float64():
    inputs = _inputs(8, kernel_size=5, dilation=2, height=6, width=5)
    out64 = adacof_sample(*inputs, dilation=2)
    out32 = adacof_sample(*(t.float() for t in inputs), dilation=2)
    torch.testing.assert_close(out32, out64.float(), rtol=1e-5, atol=1e-5)


# --- gradcheck ------------------------------------------------------------------------------------


@MODES
@pytest.mark.parametrize("dilation", [1, 2])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gradcheck_torch_path(mode, dilation, seed):
    inputs = tuple(t.requires_grad_() for t in _inputs(seed, dilation=dilation))
    assert torch.autograd.gradcheck(lambda *t: adacof_sample(*t, dilation=dilation, mode=mode, backend="torch"), inputs)


def test_cardinality_backward_returns_only_the_gradients_asked_for():
    image, weight, alpha, beta = _inputs(4)
    grad_out = torch.rand(2, 2, 4, 4, dtype=torch.float64)
    kwargs = dict(dilation=1, legacy=False)
    full = adacof_backward_torch(grad_out, image, weight, alpha, beta, needs=(True,) * 4, **kwargs)
    assert [g.shape for g in full] == [image.shape, weight.shape, alpha.shape, beta.shape]
    only_alpha = adacof_backward_torch(grad_out, image, weight, alpha, beta, needs=(False, False, True, False), **kwargs)
    assert only_alpha[0] is None and only_alpha[1] is None and only_alpha[3] is None
    torch.testing.assert_close(only_alpha[2], full[2], rtol=0, atol=0)


# --- feature: chunking ----------------------------------------------------------------------------


@MODES
@pytest.mark.parametrize("chunk_taps", [1, 7, 9])
def test_feature_chunked_equals_unchunked(mode, chunk_taps):
    image, weight, alpha, beta = _inputs(11, dilation=2)
    grad_out = torch.randn(2, 2, 4, 4, dtype=torch.float64)
    whole = _all_grads(image, weight, alpha, beta, grad_out, dilation=2, mode=mode, backend="torch", chunk_taps=9)
    chunked = _all_grads(image, weight, alpha, beta, grad_out, dilation=2, mode=mode, backend="torch", chunk_taps=chunk_taps)
    for got, want in zip(chunked, whole):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


def test_feature_default_chunk_bounds_the_gathers():
    small_image, small_weight = torch.empty(2, 2, 6, 6), torch.empty(2, 9, 4, 4)
    assert default_chunk_taps(small_image, small_weight) == 9
    # 1080p with F=11, d=2: never all 121 taps at once
    image, weight = torch.empty(1, 3, 1100, 1940, device="meta"), torch.empty(1, 121, 1080, 1920, device="meta")
    chunk = default_chunk_taps(image, weight)
    assert 1 <= chunk < 121
    per_tap_gathers = 4 * 3 * 1080 * 1920 * 4
    assert chunk == 1 or chunk * per_tap_gathers <= 256 * 2**20


# --- the CUDA source ------------------------------------------------------------------------------

_NVCC = shutil.which("nvcc") or ("/usr/local/bin/nvcc" if Path("/usr/local/bin/nvcc").is_file() else None)


@pytest.mark.skipif(_NVCC is None, reason="nvcc is not installed")
def test_cuda_source_compiles_with_nvcc(tmp_path):
    source = tmp_path / "adacof.cu"
    source.write_text(adacof_cupy.CUDA_SOURCE)
    ptx = tmp_path / "adacof.ptx"
    result = subprocess.run([_NVCC, "-ptx", "--std=c++14", str(source), "-o", str(ptx)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    text = ptx.read_text()
    for suffix in adacof_cupy.CUPY_DTYPES.values():
        assert f".entry adacof_forward_{suffix}(" in text
        assert f".entry adacof_backward_{suffix}(" in text


# Lets the kernels' C++ run on the CPU: one host "thread" walks each grid-stride loop over the whole grid.
_HOST_SHIM = r"""
#include <cmath>
#define __global__
#define __device__
#define __forceinline__ inline
struct HostIndex { unsigned int x; };
static const HostIndex blockIdx = {0}, threadIdx = {0}, blockDim = {1}, gridDim = {1};
template <typename T> T atomicAdd(T* address, T value) { T old = *address; *address += value; return old; }
"""

_GXX = shutil.which("g++")


@pytest.fixture(scope="module")
def host_kernels(tmp_path_factory) -> ctypes.CDLL:
    if _GXX is None:
        pytest.skip("g++ is not installed")
    folder = tmp_path_factory.mktemp("adacof_host")
    source = folder / "adacof_host.cpp"
    source.write_text(_HOST_SHIM + adacof_cupy.CUDA_SOURCE)
    library = folder / "adacof_host.so"
    result = subprocess.run([_GXX, "-O1", "-shared", "-fPIC", "-o", str(library), str(source)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return ctypes.CDLL(str(library))


@MODES
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_feature_cuda_source_run_on_host_matches_reference(host_kernels, mode, dtype):
    dilation = 2
    image, weight, alpha, beta = _inputs(21, batch=2, channels=3, kernel_size=3, dilation=dilation, height=5, width=6, dtype=dtype)
    alpha[0, 0, 0, 0], beta[1, 4, 3, 2] = 1e30, -1e30  # the bound before the integer conversion
    grad_out = torch.randn(2, 3, 5, 6, dtype=dtype)
    legacy = mode == "legacy"
    geometry = [2, 3, 5, 6, image.shape[2], image.shape[3], 3, dilation, int(legacy)]
    suffix = adacof_cupy.CUPY_DTYPES[dtype]

    def call(name, tensors, ints):
        getattr(host_kernels, f"{name}_{suffix}")(*(ctypes.c_void_p(t.data_ptr()) for t in tensors), *(ctypes.c_int(v) for v in ints))

    out = torch.empty(2, 3, 5, 6, dtype=dtype)
    call("adacof_forward", (image, weight, alpha, beta, out), geometry)
    grads = (torch.zeros_like(image), torch.empty_like(weight), torch.empty_like(alpha), torch.empty_like(beta))
    call("adacof_backward", (grad_out, image, weight, alpha, beta, *grads), geometry + [1, 1, 1, 1])

    tol = dict(rtol=1e-5, atol=1e-5) if dtype == torch.float32 else dict(rtol=1e-12, atol=1e-12)
    expected_out = adacof_forward_torch(image, weight, alpha, beta, dilation=dilation, legacy=legacy)
    torch.testing.assert_close(out, expected_out, **tol)
    expected = adacof_backward_torch(grad_out, image, weight, alpha, beta, dilation=dilation, legacy=legacy, needs=(True,) * 4)
    for got, want in zip(grads, expected):
        torch.testing.assert_close(got, want, **tol)


# --- the CuPy kernels on a GPU --------------------------------------------------------------------


@pytest.mark.cuda
@pytest.mark.skipif(not cuda_with_cupy(), reason="needs a CUDA device and a working cupy")
@MODES
def test_feature_cupy_matches_torch_on_gpu(mode):
    image, weight, alpha, beta = (t.float().cuda() for t in _inputs(31, batch=2, channels=3, kernel_size=5, dilation=2, height=9, width=11))
    weight = weight.softmax(1)  # as the network makes them; positive terms keep float32 sums well conditioned
    grad_out = torch.rand(2, 3, 9, 11, device="cuda")
    kwargs = dict(dilation=2, mode=mode)
    fast = _all_grads(image, weight, alpha, beta, grad_out, backend="cupy", **kwargs)
    reference = _all_grads(image, weight, alpha, beta, grad_out, backend="torch", **kwargs)
    for got, want in zip(fast, reference):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.cuda
@pytest.mark.skipif(not cuda_with_cupy(), reason="needs a CUDA device and a working cupy")
@MODES
def test_gradcheck_cupy_path(mode):
    inputs = tuple(t.cuda().requires_grad_() for t in _inputs(32, dilation=2))
    assert torch.autograd.gradcheck(lambda *t: adacof_sample(*t, dilation=2, mode=mode, backend="cupy"), inputs, nondet_tol=1e-10)


# --- exceptions -----------------------------------------------------------------------------------


def test_exception_mismatched_offset_shape():
    image, weight, alpha, beta = _inputs(0)
    with pytest.raises(ValueError, match=r"alpha has shape \(2, 9, 4, 3\) but weight has \(2, 9, 4, 4\)"):
        adacof_sample(image, weight, alpha[..., :3], beta)


def test_exception_mismatched_batch():
    image, weight, alpha, beta = _inputs(0)
    with pytest.raises(ValueError, match="image batch 1"):
        adacof_sample(image[:1], weight, alpha, beta)


@pytest.mark.parametrize("taps", [8, 4])
def test_exception_tap_count_not_an_odd_square(taps):
    image, weight, alpha, beta = _inputs(0)
    with pytest.raises(ValueError, match=f"weight has {taps} taps"):
        adacof_sample(image, weight[:, :taps], alpha[:, :taps], beta[:, :taps])


def test_exception_padded_image_too_small():
    image, weight, alpha, beta = _inputs(0, dilation=1)
    with pytest.raises(ValueError, match="too small.*need at least 8x8"):
        adacof_sample(image, weight, alpha, beta, dilation=2)


def test_exception_unknown_mode_lists_the_modes():
    with pytest.raises(ValueError, match=r"unknown mode 'nearest'.*\('legacy', 'bilinear'\)"):
        adacof_sample(*_inputs(0), mode="nearest")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(backend="numba"), "unknown backend"),
        (dict(dilation=0), "dilation must be an integer >= 1"),
        (dict(chunk_taps=0), "chunk_taps must be None or an integer >= 1"),
        (dict(backend="cupy"), "backend='cupy' needs CUDA tensors"),
    ],
)
def test_exception_bad_options(kwargs, message):
    with pytest.raises(ValueError, match=message):
        adacof_sample(*_inputs(0), **kwargs)


def test_exception_dtype_mismatch_and_wrong_rank():
    image, weight, alpha, beta = _inputs(0)
    with pytest.raises(ValueError, match="beta is torch.float32 on cpu but image is torch.float64"):
        adacof_sample(image, weight, alpha, beta.float())
    with pytest.raises(ValueError, match=r"image must be 4-D, got shape \(2, 6, 6\)"):
        adacof_sample(image[0], weight, alpha, beta)


# --- the dispatcher -------------------------------------------------------------------------------


def test_feature_fallback_is_logged_once_per_process(monkeypatch, caplog):
    monkeypatch.setattr(adacof_cupy, "CUPY_AVAILABLE", False)
    monkeypatch.setattr(adacof_cupy, "CUPY_UNAVAILABLE_REASON", "cupy is not installed (test)")
    monkeypatch.setattr(adacof_function, "_fallback_logged", False)
    cuda = torch.device("cuda", 0)
    with caplog.at_level(logging.INFO, logger="kernels"):
        assert adacof_function._choose_backend(cuda, torch.float32, "auto") == "torch"
        assert adacof_function._choose_backend(cuda, torch.float32, "auto") == "torch"
    records = [r for r in caplog.records if r.name == "kernels"]
    assert len(records) == 1
    assert "falls back to the slower PyTorch reference: cupy is not installed (test)" in records[0].getMessage()
    with pytest.raises(RuntimeError, match=r"backend='cupy' is unusable: cupy is not installed \(test\)"):
        adacof_function._choose_backend(cuda, torch.float32, "cupy")


def test_feature_cpu_tensors_never_log_cupy_fallback(monkeypatch, caplog):
    monkeypatch.setattr(adacof_cupy, "CUPY_AVAILABLE", False)
    monkeypatch.setattr(adacof_function, "_fallback_logged", False)
    with caplog.at_level(logging.DEBUG, logger="kernels"):
        assert adacof_function._choose_backend(torch.device("cpu"), torch.float32, "auto") in ("cpu", "torch")
        assert adacof_function._choose_backend(torch.device("cpu"), torch.float16, "auto") == "torch"
        adacof_sample(*_inputs(0))
    assert not [r for r in caplog.records if r.name == "kernels" and "CUDA" in r.getMessage()]


def test_feature_cuda_half_precision_goes_to_torch():
    assert adacof_function._choose_backend(torch.device("cuda", 0), torch.float16, "auto") == "torch"
