"""Weight-free propagator: follows a moving synthetic object, is differentiable in the query, keeps shapes."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from vosvfi_core.data.synthetic import SceneOptions, random_scene, render_frame
from vosvfi_core.vos.pixel_affinity import PixelAffinityPropagator

pytestmark = pytest.mark.usefixtures("one_thread")


def _moving_object_scene(seed: int, shift: tuple[float, float], height: int = 64, width: int = 96):
    """One textured object crossing the frame centre by ``shift`` pixels per unit of t over a panning textured background."""
    rng = np.random.default_rng(seed)
    options = SceneOptions(n_objects=(1, 1), max_shift=0.0, background_max_shift=0.0, max_rotation_deg=0.0, max_scale_change=0.0, object_size=(0.25, 0.3))
    scene = random_scene(rng, height, width, options)
    start = (width / 2 - shift[0] / 2, height / 2 - shift[1] / 2)
    moving = dataclasses.replace(scene.objects[0], center=start, velocity=shift)
    panning = dataclasses.replace(scene.background, velocity=(3.0, -2.0))
    return dataclasses.replace(scene, objects=(moving,), background=panning)


def _tensors(scene, t: float) -> tuple[torch.Tensor, torch.Tensor]:
    image, mask = render_frame(scene, t)
    return torch.from_numpy(image).permute(2, 0, 1).float() / 255, torch.from_numpy(mask > 0)


def _iou(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a & b).sum()) / max(float((a | b).sum()), 1.0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_feature_propagates_a_moving_object_onto_the_true_middle_frame(seed):
    scene = _moving_object_scene(seed, shift=(24.0, 10.0))
    frame0, mask0 = _tensors(scene, 0.0)
    middle, middle_mask = _tensors(scene, 0.5)
    with torch.no_grad():
        probs = PixelAffinityPropagator().propagate(frame0[None, None], mask0[None, None, None].float(), middle[None])
    propagated, copied = _iou(probs[0, 0] > 0.5, middle_mask), _iou(mask0, middle_mask)
    assert propagated > copied + 0.3 and propagated > 0.7, f"IoU propagated {propagated:.3f} vs copying frame 0's mask {copied:.3f}"


def test_feature_query_equal_to_memory_frame_returns_its_mask():
    frame = torch.rand(1, 1, 3, 16, 20)
    mask = (torch.rand(1, 1, 1, 16, 20) > 0.5).float()
    probs = PixelAffinityPropagator(stride=1, temperature=1e-4).propagate(frame, mask, frame[:, 0])
    torch.testing.assert_close(probs, mask[:, 0], atol=1e-3, rtol=0)


def test_gradcheck_gradient_reaches_the_query():
    scene = _moving_object_scene(0, shift=(12.0, 4.0))
    frame0, mask0 = _tensors(scene, 0.0)
    middle, middle_mask = _tensors(scene, 0.5)
    query = middle[None].clone().requires_grad_(True)
    probs = PixelAffinityPropagator().propagate(frame0[None, None], mask0[None, None, None].float(), query)
    torch.nn.functional.binary_cross_entropy(probs, middle_mask[None, None].float()).backward()
    assert query.grad is not None and torch.isfinite(query.grad).all() and query.grad.abs().sum() > 0


def test_gradcheck_float64_on_a_tiny_clip():
    propagator = PixelAffinityPropagator(stride=2, top_k=4, temperature=0.05)
    frames = torch.rand(1, 2, 3, 4, 6, dtype=torch.float64)
    masks = torch.rand(1, 2, 1, 4, 6, dtype=torch.float64)
    query = torch.rand(1, 3, 4, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda q: propagator.propagate(frames, masks, q), (query,), fast_mode=True)


@pytest.mark.parametrize(("size", "stride"), [((37, 50), 2), ((32, 32), 3), ((9, 13), 1)])
def test_cardinality_any_size_batch_and_memory_length(size, stride):
    frames = torch.rand(2, 3, 3, *size)
    masks = torch.rand(2, 3, 1, *size)
    probs = PixelAffinityPropagator(stride=stride).propagate(frames, masks, torch.rand(2, 3, *size))
    assert probs.shape == (2, 1, *size)
    assert probs.min() >= 0 and probs.max() <= 1


def test_exception_bad_parameters_and_shapes():
    for kwargs in ({"patch_size": 2}, {"position_weight": -1.0}, {"top_k": 0}, {"temperature": 0.0}, {"stride": 0}):
        with pytest.raises(ValueError, match=next(iter(kwargs))):
            PixelAffinityPropagator(**kwargs)
    with pytest.raises(ValueError, match="memory frames"):
        PixelAffinityPropagator().propagate(torch.rand(1, 3, 8, 8), torch.rand(1, 1, 8, 8), torch.rand(1, 3, 8, 8))
    with pytest.raises(ValueError, match="query"):
        PixelAffinityPropagator().propagate(torch.rand(1, 1, 3, 8, 8), torch.rand(1, 1, 1, 8, 8), torch.rand(3, 8, 8))
