"""AdaCoF network: published checkpoint layout, shapes at any size, and the training outputs."""

from __future__ import annotations

import json

import pytest
import torch

from vosvfi_core.errors import VosvfiError
from vosvfi_core.models import AdaCoFNet, adacof, get_model
from vosvfi_core.models.adacof import _pad_to_multiple, charbonnier


@pytest.mark.parametrize(
    ("fixture", "kernel_size", "dilation"),
    [("adacof_k5_d1_state_dict.json", 5, 1), ("adacof_k11_d2_state_dict.json", 11, 2)],
)
def test_feature_state_dict_equals_published_keys_and_shapes(shared_dir, fixture, kernel_size, dilation):
    expected = json.loads((shared_dir / "fixtures" / fixture).read_text())
    model = adacof(kernel_size=kernel_size, dilation=dilation)
    ours = {key: list(value.shape) for key, value in model.state_dict().items()}
    assert list(ours) == list(expected["params"])  # same keys, same order
    assert ours == expected["params"]
    assert sum(p.numel() for p in model.parameters()) == expected["total_parameters"]
    assert expected["buffers"] == []


def test_feature_published_state_dict_loads_strictly():
    source = adacof(kernel_size=5)
    target = adacof(kernel_size=5, sampling_mode="legacy")
    target.load_state_dict(source.state_dict(), strict=True)
    for key, value in source.state_dict().items():
        assert torch.equal(value, target.state_dict()[key])


@pytest.mark.parametrize("size", [(32, 32), (37, 50), (64, 96), (8, 13)])
def test_cardinality_any_size_is_padded_and_cropped_back(size):
    model = adacof(kernel_size=3).eval()
    frames = torch.rand(2, 2, 3, *size)
    with torch.no_grad():
        out = model(frames[0], frames[1])
    assert out.shape == (2, 3, *size)
    assert torch.isfinite(out).all()


def test_feature_padding_reflects_bottom_and_right_only():
    frame = torch.arange(2 * 3 * 30 * 40, dtype=torch.float32).view(2, 3, 30, 40)
    padded = _pad_to_multiple(frame, 32)
    assert padded.shape == (2, 3, 32, 64)
    assert torch.equal(padded[..., :30, :40], frame)
    assert torch.equal(padded[..., 30, :40], frame[..., 28, :])  # reflect excludes the edge row
    assert torch.equal(padded[..., :30, 40], frame[..., :, 38])


def test_feature_identical_frames_with_centred_kernels_reproduce_the_frame():
    """With all weight on the centre tap and zero offsets, the output is the input frame."""
    model = adacof(kernel_size=5).eval()
    with torch.no_grad():
        for name in ("moduleAlpha1", "moduleBeta1", "moduleAlpha2", "moduleBeta2"):
            head = getattr(model.get_kernel, name)[7]
            head.weight.zero_()
            head.bias.zero_()
        for name in ("moduleWeight1", "moduleWeight2"):
            head = getattr(model.get_kernel, name)[7]
            head.weight.zero_()
            head.bias.fill_(-30.0)
            head.bias[12] = 30.0  # tap (2, 2), the centre of 5x5
        frame = torch.rand(1, 3, 40, 56)
        out = model(frame, frame.clone())
    torch.testing.assert_close(out, frame, atol=1e-5, rtol=0)


def test_feature_forward_train_regularisers_and_gradients():
    model = adacof(kernel_size=3).train()
    frames = torch.rand(2, 1, 3, 32, 32)
    output = model.forward_train(frames[0], frames[1])
    assert output.frame.shape == (1, 3, 32, 32)
    assert output.g_spatial.dim() == 0 and output.g_spatial.item() > 0
    assert output.g_occlusion.dim() == 0 and output.g_occlusion.item() > 0
    loss = charbonnier(output.frame - frames[0]) + 0.01 * output.g_spatial + 0.005 * output.g_occlusion
    loss.backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert model.get_kernel.moduleConv1[0].weight.grad.abs().sum() > 0


def test_feature_charbonnier_known_value():
    x = torch.tensor([0.0, 3e-3, -4e-3])
    expected = (1e-3 + (9e-6 + 1e-6) ** 0.5 + (16e-6 + 1e-6) ** 0.5) / 3
    assert charbonnier(x).item() == pytest.approx(expected, rel=1e-6)


def test_smoke_registry_builds_adacof():
    model = get_model("adacof", kernel_size=11, dilation=2)
    assert isinstance(model, AdaCoFNet) and model.warp_padding == 10


def test_exception_registry_unknown_model_and_bad_arguments():
    with pytest.raises(VosvfiError, match="unknown model 'sepconv'"):
        get_model("sepconv")
    with pytest.raises(ValueError, match="kernel_size"):
        adacof(kernel_size=4)
    with pytest.raises(ValueError, match="sampling_mode"):
        adacof(sampling_mode="nearest")
    with pytest.raises(ValueError, match=r"\[B, 3, H, W\]"):
        adacof(kernel_size=3)(torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 16))
