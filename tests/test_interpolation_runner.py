"""How a network runs for inference: precision, memory format, the float32 occlusion, and evaluation's precision setting."""

from __future__ import annotations

import pytest
import torch

from vosvfi_core.config import EvaluateConfig
from vosvfi_core.errors import VosvfiError
from vosvfi_core.evaluation.interpolators import InterpolatorContext, model_interpolator
from vosvfi_core.interpolation import kernel_estimation_in_float32, network_runner, prefers_channels_last, prepare_for_inference
from vosvfi_core.models import adacof
from vosvfi_core.precision import resolve_precision


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(11)
    return adacof(kernel_size=5).eval()


@pytest.fixture(scope="module")
def frames():
    gen = torch.Generator().manual_seed(12)
    return torch.rand(2, 3, 40, 72, generator=gen), torch.rand(2, 3, 40, 72, generator=gen)


def test_feature_fp32_runner_matches_the_plain_forward(model, frames):
    with torch.no_grad():
        plain = model(*frames)
    out = network_runner(model, precision="fp32")(*frames)
    assert out.dtype == torch.float32 and out.shape == plain.shape
    # NHWC convolutions sum in another order: equal up to float32 rounding.
    torch.testing.assert_close(out, plain, rtol=1e-5, atol=1e-5)


def test_feature_bf16_runner_equals_widening_every_output(model, frames):
    """Widening only the occlusion (the sampler reads bfloat16 itself) changes no value."""
    layout = torch.channels_last if prefers_channels_last(torch.device("cpu")) else torch.contiguous_format
    inputs = [f.contiguous(memory_format=layout) for f in frames]
    with torch.no_grad(), kernel_estimation_in_float32(model), torch.autocast("cpu", dtype=torch.bfloat16):
        widened = model(*inputs).float()
    out = network_runner(model, precision="bf16")(*frames)
    torch.testing.assert_close(out, widened, rtol=0, atol=0)
    # bfloat16 keeps 8 bits of mantissa: close to float32, not equal.
    fp32 = network_runner(model, precision="fp32")(*frames)
    assert 0 < (out - fp32).abs().max() < 0.05


def test_feature_auto_runner_follows_the_decision(model, frames, monkeypatch):
    for native, same_as in ((True, "bf16"), (False, "fp32")):
        monkeypatch.setattr("vosvfi_core.precision.cpu_has_native_bf16", lambda native=native: native)
        torch.testing.assert_close(network_runner(model, precision="auto")(*frames), network_runner(model, precision=same_as)(*frames), rtol=0, atol=0)


def test_feature_prepare_for_inference_sets_the_preferred_layout(frames):
    torch.manual_seed(13)
    model = adacof(kernel_size=3).train()
    before = network_runner(model)(*frames)
    prepared = prepare_for_inference(model)
    assert prepared is model and not model.training
    weight = model.get_kernel.moduleConv2[0].weight
    assert weight.is_contiguous(memory_format=torch.channels_last) == prefers_channels_last(torch.device("cpu"))
    torch.testing.assert_close(network_runner(model)(*frames), before, rtol=1e-5, atol=1e-5)


def test_feature_evaluation_is_fp32_unless_asked(model, frames):
    assert EvaluateConfig().precision == "fp32"
    assert InterpolatorContext(torch.device("cpu")).precision == "fp32"
    exact = model_interpolator(model, "m")(*frames)
    torch.testing.assert_close(exact, network_runner(model, precision="fp32")(*frames), rtol=0, atol=0)
    fast = model_interpolator(model, "m", precision="bf16")(*frames)
    torch.testing.assert_close(fast, network_runner(model, precision="bf16")(*frames), rtol=0, atol=0)


def test_exception_evaluation_precision_is_checked_by_name():
    with pytest.raises(ValueError, match="precision"):
        EvaluateConfig(precision="fp8")
    if not torch.cuda.is_available():
        with pytest.raises(VosvfiError, match="evaluate.precision fp16 needs a CUDA device"):
            resolve_precision(EvaluateConfig(precision="fp16").precision, torch.device("cpu"), field="evaluate.precision")
