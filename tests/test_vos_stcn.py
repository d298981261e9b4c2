"""STCN teacher: published state-dict layout, the 4→5 channel loading rule, frozen but differentiable in the query, batched propagation."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from torchvision.models import resnet50

from vosvfi_core.errors import VosvfiError
from vosvfi_core.vos.stcn import _pad_to_multiple, load_stcn_weights, stcn, stcn_probability

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return stcn()


def test_feature_state_dict_equals_published_keys_and_shapes(shared_dir, model):
    expected = json.loads((shared_dir / "fixtures" / "stcn_eval_state_dict.json").read_text())
    ours = {key: list(value.shape) for key, value in model.state_dict().items()}
    assert list(ours) == list(expected["params"])  # same keys, same order
    assert ours == expected["params"]
    parameter_names = {name for name, _ in model.named_parameters()}
    assert [key for key in ours if key not in parameter_names] == expected["buffers"]
    assert sum(p.numel() for p in model.parameters()) == expected["total_parameters"]


def test_feature_four_channel_checkpoint_is_padded_with_zeros_and_loaded_strictly(model, tmp_path):
    state = {key: (-value if value.is_floating_point() else value) for key, value in model.state_dict().items()}  # not a fresh model's init
    old_conv1 = torch.randn(64, 4, 7, 7)
    state["value_encoder.conv1.weight"] = old_conv1
    path = tmp_path / "stcn.pth"
    torch.save(state, path)
    loaded = stcn(weights=path).state_dict()
    conv1 = loaded["value_encoder.conv1.weight"]
    assert conv1.shape == (64, 5, 7, 7)
    assert torch.equal(conv1[:, :4], old_conv1)
    assert torch.equal(conv1[:, 4], torch.zeros(64, 7, 7))
    assert all(torch.equal(loaded[key], state[key]) for key in state if key != "value_encoder.conv1.weight")


def test_exception_mismatched_checkpoint_names_the_keys(model, tmp_path):
    state = {"decoder.pred.weight": torch.zeros(1, 256, 3, 3), "extra.weight": torch.zeros(1), "key_comp.weight": torch.zeros(512, 1024, 1, 1)}
    path = tmp_path / "bad.pth"
    torch.save(state, path)
    before = model.state_dict()["decoder.pred.weight"].clone()
    with pytest.raises(VosvfiError) as error:
        load_stcn_weights(model, path)
    message = str(error.value)
    assert message == (
        f"{path} is not an STCN state dict: missing key_encoder.conv1.weight, key_encoder.bn1.weight, key_encoder.bn1.bias, "
        "key_encoder.bn1.running_mean (+399 more); unexpected extra.weight; wrong shape key_comp.weight [512, 1024, 1, 1] (want [512, 1024, 3, 3])"
    )
    assert torch.equal(model.state_dict()["decoder.pred.weight"], before)  # refused before anything was copied


def test_gradcheck_query_gets_gradient_and_the_frozen_teacher_none(model):
    model.train()  # an owner switching to training mode must not unfreeze BatchNorm
    assert not model.training and not any(module.training for module in model.modules())
    assert not any(p.requires_grad for p in model.parameters())
    frames = torch.rand(1, 1, 3, 64, 64)
    masks = torch.zeros(1, 1, 1, 64, 64)
    masks[..., 16:40, 20:44] = 1
    query = torch.rand(1, 3, 64, 64, requires_grad=True)
    probs = model.propagate(frames, masks, query)
    assert probs.shape == (1, 1, 64, 64)
    assert probs.min() >= 0 and probs.max() <= 1
    F.binary_cross_entropy(probs, masks[:, 0]).backward()
    assert query.grad is not None and torch.isfinite(query.grad).all() and query.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.parameters())


def test_cardinality_batched_clips_at_sizes_not_multiple_of_16_and_items_independent(model):
    frames = torch.rand(2, 2, 3, 40, 56)
    masks = (torch.rand(2, 2, 1, 40, 56) > 0.5).float()
    query = torch.rand(2, 3, 40, 56)
    with torch.no_grad():
        batched = model.propagate(frames, masks, query)
        alone = model.propagate(frames[1:], masks[1:], query[1:])
    assert batched.shape == (2, 1, 40, 56)
    torch.testing.assert_close(batched[1:], alone, rtol=1e-4, atol=1e-5)


def test_feature_probability_is_stcn_softmax_aggregation_of_object_and_background():
    logits = torch.tensor([-40.0, -16.5, -3.0, -0.2, 0.0, 0.7, 5.0, 16.5, 40.0])
    p = torch.sigmoid(logits.double())
    with_background = torch.stack([1 - p, p]).clamp(1e-7, 1 - 1e-7)
    expected = torch.softmax(torch.log(with_background / (1 - with_background)), dim=0)[1]
    torch.testing.assert_close(stcn_probability(logits).double(), expected, rtol=1e-5, atol=1e-7)


def test_feature_padding_to_16_is_zero_and_split_between_sides():
    x = torch.ones(1, 1, 41, 48)
    padded, pad = _pad_to_multiple(x, 16)
    assert pad == (0, 0, 3, 4)  # left, right, top, bottom: the odd pixel goes to the bottom
    assert padded.shape == (1, 1, 48, 48)
    assert padded[..., :3, :].eq(0).all() and padded[..., 44:, :].eq(0).all() and padded[..., 3:44, :].eq(1).all()


def test_feature_key_encoder_is_torchvision_resnet50_to_layer3(model):
    with torch.device("meta"):  # skips the random initialisation: every weight used is loaded below
        reference = resnet50(weights=None)
    reference = reference.to_empty(device="cpu").eval()
    ours = model.key_encoder
    names = {"conv1": ours.conv1, "bn1": ours.bn1, "layer1": ours.res2, "layer2": ours.layer2, "layer3": ours.layer3}
    for name, module in names.items():
        getattr(reference, name).load_state_dict(module.state_dict())
    image = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        f16, f8, f4 = ours(image)
        x = reference.maxpool(reference.relu(reference.bn1(reference.conv1(image))))
        r4 = reference.layer1(x)
        r8 = reference.layer2(r4)
        r16 = reference.layer3(r8)
    assert f4.shape == (1, 256, 16, 16) and f8.shape == (1, 512, 8, 8) and f16.shape == (1, 1024, 4, 4)
    for a, b in ((f4, r4), (f8, r8), (f16, r16)):
        torch.testing.assert_close(a, b)
