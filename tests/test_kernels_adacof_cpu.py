"""The compiled CPU loop of AdaCoF sampling: against a naive loop and the PyTorch reference, gradcheck
through it, rows split across threads, its build cache, and the fallback where it cannot be built."""

from __future__ import annotations

import logging

import pytest
import torch
from test_kernels_adacof import MODES, _expected_pixel, _inputs

from kernels import adacof_cpu, adacof_function, adacof_sample
from kernels.adacof_reference import adacof_forward_torch

needs_compiler = pytest.mark.skipif(adacof_cpu.cpu_kernels() is None, reason=f"the CPU kernels cannot be built here: {adacof_cpu.unavailable_reason()}")


@pytest.fixture
def fresh_build(monkeypatch, tmp_path):
    """An empty kernel cache and a forgotten library; the real one is reloaded afterwards."""
    monkeypatch.setenv("VOSVFI_KERNEL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(adacof_cpu, "_reason", "")
    adacof_cpu._load.cache_clear()
    yield tmp_path / "cache"
    adacof_cpu._load.cache_clear()


@needs_compiler
@MODES
@pytest.mark.parametrize("dilation", [1, 2])
def test_feature_matches_naive_loop(mode, dilation):
    image, weight, alpha, beta = _inputs(3, kernel_size=3, dilation=dilation, height=5, width=6)
    out = adacof_sample(image, weight, alpha, beta, dilation=dilation, mode=mode, backend="cpu")
    for b, c, y, x in [(0, 0, 0, 0), (1, 1, 4, 5), (0, 1, 2, 3), (1, 0, 4, 0), (0, 0, 1, 5)]:
        expected = _expected_pixel(image, weight, alpha, beta, b, c, y, x, dilation, mode)
        assert float(out[b, c, y, x]) == pytest.approx(expected, rel=1e-12, abs=1e-12)


@needs_compiler
@MODES
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_feature_matches_reference_with_network_like_inputs(mode, dtype):
    image, weight, alpha, beta = _inputs(7, batch=3, channels=3, kernel_size=5, dilation=2, height=13, width=17, dtype=dtype, spread=4)
    weight = weight.softmax(1)
    alpha[0, 0, 0, 0], beta[2, 5, 12, 16] = 1e30, -1e30  # the bound before the integer conversion
    expected = adacof_forward_torch(image, weight, alpha, beta, dilation=2, legacy=mode == "legacy")
    got = adacof_sample(image, weight, alpha, beta, dilation=2, mode=mode, backend="cpu")
    tol = dict(rtol=1e-6, atol=1e-6) if dtype == torch.float32 else dict(rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(got, expected, **tol)


@needs_compiler
@pytest.mark.parametrize("threads", [1, 2, 5])
def test_feature_rows_split_across_threads_give_one_result(threads):
    inputs = _inputs(12, batch=2, channels=3, kernel_size=3, height=7, width=9)
    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        single = adacof_sample(*inputs, backend="cpu")
        torch.set_num_threads(threads)
        split = adacof_sample(*inputs, backend="cpu")
    finally:
        torch.set_num_threads(previous)
    torch.testing.assert_close(split, single, rtol=0, atol=0)


@needs_compiler
@MODES
@pytest.mark.parametrize("dilation", [1, 2])
def test_gradcheck_cpu_path(mode, dilation):
    inputs = tuple(t.requires_grad_() for t in _inputs(4, dilation=dilation))
    assert torch.autograd.gradcheck(lambda *t: adacof_sample(*t, dilation=dilation, mode=mode, backend="cpu"), inputs)


@needs_compiler
def test_feature_auto_picks_the_compiled_loop_for_cpu_floats():
    assert adacof_function._choose_backend(torch.device("cpu"), torch.float32, "auto") == "cpu"
    assert adacof_function._choose_backend(torch.device("cpu"), torch.float64, "auto") == "cpu"
    assert adacof_function._choose_backend(torch.device("cpu"), torch.bfloat16, "auto") == "torch"


@needs_compiler
def test_feature_build_is_cached_by_source_and_cpu(fresh_build):
    library = adacof_cpu.cpu_kernels()
    assert library is not None
    built = list(fresh_build.glob("adacof_cpu_*.so"))
    assert len(built) == 1 and built[0] == adacof_cpu.library_path(adacof_cpu._compiler())
    assert not list(fresh_build.glob(".build.*"))  # the build folder is gone
    adacof_cpu._load.cache_clear()
    mtime = built[0].stat().st_mtime_ns
    assert adacof_cpu.cpu_kernels() is not None
    assert built[0].stat().st_mtime_ns == mtime  # loaded, not rebuilt


def test_exception_no_compiler_falls_back_to_torch_with_one_log_line(fresh_build, monkeypatch, caplog):
    monkeypatch.setattr(adacof_cpu, "_compiler", lambda: None)
    monkeypatch.setattr(adacof_function, "_cpu_fallback_logged", False)
    inputs = _inputs(5)
    with caplog.at_level(logging.INFO, logger="kernels"):
        out = adacof_sample(*inputs)
        adacof_sample(*inputs)
    records = [r for r in caplog.records if r.name == "kernels"]
    assert len(records) == 1
    assert "CPU falls back to the slower PyTorch reference: no C compiler" in records[0].getMessage()
    torch.testing.assert_close(out, adacof_sample(*inputs, backend="torch"), rtol=0, atol=0)
    with pytest.raises(RuntimeError, match=r"backend='cpu' is unusable: no C compiler"):
        adacof_sample(*inputs, backend="cpu")


def test_exception_failing_compiler_names_the_library(fresh_build, monkeypatch, tmp_path):
    failing = tmp_path / "cc"
    failing.write_text("#!/bin/sh\necho 'cc: fatal error: no input' >&2\nexit 1\n")
    failing.chmod(0o755)
    monkeypatch.setattr(adacof_cpu, "_compiler", lambda: str(failing))
    assert adacof_cpu.cpu_kernels() is None
    reason = adacof_cpu.unavailable_reason()
    assert "cannot build or load" in reason and "failed (1): cc: fatal error: no input" in reason
    assert not list(fresh_build.glob("*"))  # nothing half-built left behind


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(dtype=torch.float16), "backend='cpu' takes images of float32"),
        (dict(device="meta"), "backend='cpu' needs CPU tensors"),
    ],
)
def test_exception_cpu_backend_refuses_what_it_cannot_run(kwargs, message):
    inputs = [t.to(**kwargs) for t in _inputs(0)]
    with pytest.raises(ValueError, match=message):
        adacof_sample(*inputs, backend="cpu")


@needs_compiler
def test_feature_channels_last_inputs_are_read_in_place_with_one_result():
    image, weight, alpha, beta = (t.float() for t in _inputs(13, batch=2, channels=3, kernel_size=5, height=9, width=11))
    plain = adacof_sample(image, weight, alpha, beta, backend="cpu")
    nhwc = [t.contiguous(memory_format=torch.channels_last) for t in (image, weight, alpha, beta)]
    assert not nhwc[1].is_contiguous()
    torch.testing.assert_close(adacof_sample(*nhwc, backend="cpu"), plain, rtol=0, atol=0)
    sliced = torch.cat([weight, weight]).narrow(0, 2, 2)  # an offset view
    torch.testing.assert_close(adacof_sample(image, sliced, alpha, beta, backend="cpu"), plain, rtol=0, atol=0)


@MODES
@pytest.mark.parametrize("backend", ["cpu", "torch"])
def test_feature_bfloat16_taps_are_read_as_float32(mode, backend):
    if backend == "cpu" and adacof_cpu.cpu_kernels() is None:
        pytest.skip(adacof_cpu.unavailable_reason())
    image, weight, alpha, beta = (t.float() for t in _inputs(14, batch=2, channels=3, kernel_size=3, height=6, width=7, spread=3))
    half = [t.to(torch.bfloat16).contiguous(memory_format=torch.channels_last) for t in (weight, alpha, beta)]
    widened = [t.float() for t in half]
    out = adacof_sample(image, *half, mode=mode, backend=backend)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, adacof_sample(image, *widened, mode=mode, backend=backend), rtol=0, atol=0)

    leaves = [t.detach().requires_grad_() for t in half]
    image_leaf = image.detach().requires_grad_()
    grad_out = torch.rand_like(out)
    grads = torch.autograd.grad(adacof_sample(image_leaf, *leaves, mode=mode, backend=backend), [image_leaf, *leaves], grad_out)
    wide_leaves = [t.detach().requires_grad_() for t in widened]
    expected = torch.autograd.grad(adacof_sample(image_leaf, *wide_leaves, mode=mode, backend="torch"), [image_leaf, *wide_leaves], grad_out)
    assert [g.dtype for g in grads] == [torch.float32, torch.bfloat16, torch.bfloat16, torch.bfloat16]
    torch.testing.assert_close(grads[0], expected[0], rtol=1e-6, atol=1e-6)
    for got, want in zip(grads[1:], expected[1:]):
        torch.testing.assert_close(got, want.to(torch.bfloat16), rtol=0, atol=0)


def test_feature_many_channels_go_to_the_reference():
    image, weight, alpha, beta = _inputs(15, channels=adacof_cpu.MAX_CHANNELS + 1)
    assert adacof_function._choose_backend(torch.device("cpu"), torch.float64, "auto", channels=image.shape[1]) == "torch"
    torch.testing.assert_close(adacof_sample(image, weight, alpha, beta), adacof_sample(image, weight, alpha, beta, backend="torch"), rtol=0, atol=0)


def test_exception_half_taps_need_a_float32_image_and_one_dtype():
    image, weight, alpha, beta = _inputs(16)
    with pytest.raises(ValueError, match="weight is torch.bfloat16 on cpu but image is torch.float64"):
        adacof_sample(image, weight.bfloat16(), alpha.bfloat16(), beta.bfloat16())
    with pytest.raises(ValueError, match="beta is torch.float32 but weight is torch.bfloat16; weight, alpha and beta share one dtype"):
        adacof_sample(image.float(), weight.bfloat16(), alpha.bfloat16(), beta.float())
