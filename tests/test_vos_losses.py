"""The seg and cons loss terms: their values, that their gradients reach the interpolator and never the teacher, and their data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vosvfi_core.config import TrainConfig, load_profile
from vosvfi_core.data.datasets import VimeoTriplets
from vosvfi_core.errors import VosvfiError
from vosvfi_core.models.registry import MODELS
from vosvfi_core.training import LOSS_TERMS, TrainStep, check_trainable, needs_masks, train
from vosvfi_core.training.losses import loss_blocks
from vosvfi_core.training.vos_losses import PROPAGATED
from vosvfi_core.vos.pixel_affinity import PixelAffinityPropagator
from vosvfi_core.vos.stcn import stcn, stcn_probability

ORIGINAL = "1*Charb+0.01*g_Spatial+0.005*g_Occlusion+1*Seg+1*Cons"
PLAIN = ("charbonnier", "g_spatial", "g_occlusion")


def _square_clip(batch: int = 2, size: int = 32) -> dict[str, torch.Tensor]:
    """A bright textured square moving right by 4 px a frame over a dark noisy background, with its exact masks."""
    generator = torch.Generator().manual_seed(0)
    background = torch.rand(batch, 3, size, size, generator=generator) * 0.3
    texture = 0.6 + 0.4 * torch.rand(batch, 3, 10, 10, generator=generator)
    clip: dict[str, torch.Tensor] = {}
    for k in range(3):
        frame, mask = background.clone(), torch.zeros(batch, 1, size, size)
        left = 8 + 4 * k
        frame[..., 11:21, left : left + 10] = texture
        mask[..., 11:21, left : left + 10] = 1.0
        clip[f"frame{k}"], clip[f"mask{k}"] = frame, mask
    return clip


def _terms(names: tuple[str, ...]) -> list:
    return [LOSS_TERMS.build({"type": name}) for name in names]


def _gradients(network: torch.nn.Module, teacher: object, names: tuple[str, ...]) -> tuple[dict[str, torch.Tensor], dict[str, float]]:
    """The interpolator's parameter gradients of the weighted sum of ``names`` on the square clip, and the term values."""
    clip = _square_clip(batch=1)
    network.zero_grad(set_to_none=True)
    step = TrainStep(network.forward_train(clip["frame0"], clip["frame2"]), clip, teacher=teacher)
    terms = _terms(names)
    values = {term.name: term.compute(step) for term in terms}
    sum(term.weight * values[term.name] for term in terms).backward()
    grads = {name: p.grad.clone() if p.grad is not None else torch.zeros_like(p) for name, p in network.named_parameters()}
    return grads, {name: value.item() for name, value in values.items()}


def _bce(prediction: torch.Tensor, target: torch.Tensor) -> float:
    """Binary cross-entropy from its formula (not torch.nn.functional)."""
    p, t = prediction.double(), target.double()
    return float(-(t * p.log() + (1 - t) * (1 - p).log()).mean())


def test_feature_the_original_loss_string_reads_as_the_same_list() -> None:
    from_string = TrainConfig(losses=ORIGINAL, teacher={"type": "pixel_affinity"}).losses
    explicit = TrainConfig(
        losses=[
            {"type": "charbonnier", "weight": 1.0},
            {"type": "g_spatial", "weight": 0.01},
            {"type": "g_occlusion", "weight": 0.005},
            {"type": "seg", "weight": 1.0},
            {"type": "cons", "weight": 1.0},
        ],
        teacher={"type": "pixel_affinity"},
    ).losses
    assert from_string == explicit
    assert [block["type"] for block in loss_blocks(ORIGINAL)][3:] == ["Seg", "Cons"]  # the original's names, resolved as aliases
    seg, cons = _terms(("seg", "cons"))
    assert (seg.needs_masks, seg.needs_teacher, cons.needs_masks, cons.needs_teacher) == (True, True, True, True)
    assert needs_masks(TrainConfig(losses=ORIGINAL, teacher={"type": "pixel_affinity"}))


def test_feature_paper_profiles_train_with_and_without_the_vos_terms() -> None:
    paper, baseline = load_profile("paper"), load_profile("paper_baseline")
    assert [b.type for b in paper.train.losses] == ["charbonnier", "g_spatial", "g_occlusion", "seg", "cons"]
    assert paper.train.teacher is not None and paper.train.teacher.type == "stcn"
    assert [b.type for b in baseline.train.losses] == ["charbonnier", "g_spatial", "g_occlusion"] and baseline.train.teacher is None
    # The original's hyper-parameters, in both.
    settings = ("dataset", "crop", "augment", "batch_size", "epochs", "optimizer", "lr", "lr_schedule", "lr_step_epochs", "lr_gamma", "lr_update")
    assert [getattr(paper.train, s) for s in settings] == ["vimeo90k", 256, True, 1, 50, "adamax", 1e-3, "step", 20, 0.5, "epoch"]
    # Everything but the loss and the teacher is the same (paper_baseline.yaml copies paper.yaml: this catches drift).
    assert paper.train.model_dump(exclude={"losses", "teacher"}) == baseline.train.model_dump(exclude={"losses", "teacher"})
    for section in ("task_runner", "data", "masks", "model", "variants", "evaluate", "downstream"):
        assert getattr(paper, section) == getattr(baseline, section), section


def test_feature_seg_and_cons_values_are_the_bce_of_the_propagated_masks() -> None:
    clip = _square_clip()
    teacher = PixelAffinityPropagator()
    interpolated = (clip["frame0"] + clip["frame2"]) / 2
    step = TrainStep(type("Output", (), {"frame": interpolated})(), clip, teacher=teacher)
    seg, cons = _terms(("seg", "cons"))
    forward = teacher.propagate(clip["frame0"][:, None], clip["mask0"][:, None], interpolated)
    backward = teacher.propagate(clip["frame2"][:, None], clip["mask2"][:, None], interpolated)
    assert seg.compute(step).item() == pytest.approx(_bce(forward, clip["mask1"]) + _bce(backward, clip["mask1"]), rel=1e-5)
    assert cons.compute(step).item() == pytest.approx(_bce(backward, forward), rel=1e-5)


def test_feature_cons_learns_through_the_backward_mask_only() -> None:
    """The forward mask is the detached target; the gradient reaches the backward logits as d/dz BCE(σ(z), t) = (σ(z) − t) / N."""
    forward = torch.tensor([[[[2.2, -1.4], [0.4, -2.2]]]], requires_grad=True)  # logits
    backward = torch.tensor([[[[0.8, -0.4], [0.0, -0.8]]]], requires_grad=True)
    step = TrainStep(None, {}, teacher=object())  # type: ignore[arg-type]
    step.shared(PROPAGATED, lambda: (forward, backward))
    _terms(("cons",))[0].compute(step).backward()
    assert forward.grad is None
    p, t = torch.sigmoid(backward.detach()), torch.sigmoid(forward.detach())
    torch.testing.assert_close(backward.grad, (p - t) / 4)


class _SharpTeacher:
    """A stand-in with STCN's output form: decoder logits x = 40·(mean colour − 0.5), probability sigmoid(2·clamp(x))."""

    def _x(self, query: torch.Tensor) -> torch.Tensor:
        return 40 * (query.mean(dim=1, keepdim=True) - 0.5)

    def propagate(self, memory_frames: torch.Tensor, memory_masks: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
        return stcn_probability(self._x(query))

    def propagate_logits(self, memory_frames: torch.Tensor, memory_masks: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
        return 2 * self._x(query)


def test_feature_a_confidently_wrong_pixel_still_has_a_gradient() -> None:
    """Seg on logits: the pixel a probability clamp to [1e-7, 1 - 1e-7] would cut off gets its gradient, and its full loss."""
    clip = {f"{kind}{k}": torch.zeros(1, 3 if kind == "frame" else 1, 8, 8) for kind in ("frame", "mask") for k in range(3)}
    frame = torch.full((1, 3, 8, 8), 0.5)  # x = 0 elsewhere: loss log 2 against background
    frame[..., 0, 0] = 0.1  # x = -16: p = sigmoid(-32), far past the clamp, and the truth says object
    frame[..., 0, 1] = 0.45  # x = -2: an ordinary pixel
    truth = torch.zeros(1, 1, 8, 8)
    truth[..., 0, :2] = 1.0
    clip["mask1"] = truth
    frame.requires_grad_(True)
    step = TrainStep(type("Output", (), {"frame": frame})(), clip, teacher=_SharpTeacher())
    seg = _terms(("seg",))[0].compute(step)
    (grad,) = torch.autograd.grad(seg, frame)
    # The probability form, computed apart: clamp, then the BCE formula; its gradient at the wrong pixel is exactly 0.
    leaf = frame.detach().clone().requires_grad_(True)
    clamped = stcn_probability(40 * (leaf.mean(dim=1, keepdim=True) - 0.5)).clamp(1e-7, 1 - 1e-7)
    old = 2 * -(truth * clamped.log() + (1 - truth) * (1 - clamped).log()).mean()
    (old_grad,) = torch.autograd.grad(old, leaf)
    assert old_grad[..., 0, 0].abs().max() == 0  # the dead zone
    assert grad[..., 0, 0].abs().min() > 0.1  # d/dx of BCE(sigmoid(2x), 1) = 2(p - 1) ≈ -2, times 40/3 per channel, over 64 pixels, twice
    torch.testing.assert_close(grad[..., 0, 0], torch.full_like(grad[..., 0, 0], 2 * 2 * (-1) * 40 / 3 / 64), rtol=1e-5, atol=0)
    torch.testing.assert_close(grad[..., 0, 1], old_grad[..., 0, 1], rtol=1e-4, atol=1e-9)  # where both are finite, the same
    # Per propagation, the mean over 64 pixels: the wrong pixel's own loss is log(1 + e^32) ≈ 32 nats (the clamp capped it at 16.1).
    per_pixel = np.log1p(np.exp(32.0)) + np.log1p(np.exp(4.0)) + 62 * np.log(2.0)
    assert seg.item() == pytest.approx(2 * per_pixel / 64, rel=1e-5)


def test_feature_stcn_logits_are_its_probability_without_the_clamp() -> None:
    torch.manual_seed(0)
    teacher = stcn()  # random weights
    clip = _square_clip(batch=1)
    args = (clip["frame0"][:, None], clip["mask0"][:, None], clip["frame1"])
    with torch.no_grad():
        logits, probability = teacher.propagate_logits(*args), teacher.propagate(*args)
        raw = teacher.segment_logits(teacher.memorize(*args[:2]), args[2])
    torch.testing.assert_close(logits, 2 * raw)
    torch.testing.assert_close(torch.sigmoid(logits), probability, rtol=1e-6, atol=1e-7)


class _CountingTeacher:
    """A teacher that counts its propagations."""

    def __init__(self, teacher: object) -> None:
        self.teacher, self.calls = teacher, 0

    def propagate(self, *args: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.teacher.propagate(*args)  # type: ignore[attr-defined]

    def propagate_logits(self, *args: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.teacher.propagate_logits(*args)  # type: ignore[attr-defined]


def test_feature_both_terms_share_one_propagation_per_step() -> None:
    torch.manual_seed(0)
    teacher = _CountingTeacher(PixelAffinityPropagator())
    _gradients(MODELS.build({"type": "adacof"}), teacher, ("seg", "cons"))
    assert teacher.calls == 1


@pytest.fixture(scope="module")
def network() -> torch.nn.Module:
    torch.manual_seed(0)
    return MODELS.build({"type": "adacof"})


@pytest.mark.parametrize("teacher_name", ["pixel_affinity", "stcn"])
def test_gradcheck_seg_and_cons_reach_the_interpolator_and_not_the_teacher(network: torch.nn.Module, teacher_name: str) -> None:
    teacher = PixelAffinityPropagator() if teacher_name == "pixel_affinity" else stcn()  # STCN with random weights
    plain, _ = _gradients(network, teacher, PLAIN)
    with_vos, values = _gradients(network, teacher, (*PLAIN, "seg", "cons"))
    only_seg, _ = _gradients(network, teacher, ("seg",))
    only_cons, _ = _gradients(network, teacher, ("cons",))
    assert values["seg"] > 0 and values["cons"] > 0
    # The same step with the VOS terms on moves the interpolator differently ...
    assert any(not torch.equal(plain[name], with_vos[name]) for name in plain)
    # ... because each of them alone has a gradient on its parameters (the original's argmax gave none).
    for alone in (only_seg, only_cons):
        norm = sum(g.double().pow(2).sum() for g in alone.values()).sqrt().item()
        assert norm > 0 and all(torch.isfinite(g).all() for g in alone.values())
        assert sum(1 for g in alone.values() if g.abs().sum() > 0) >= len(alone) // 2
    if isinstance(teacher, torch.nn.Module):
        assert all(p.grad is None and not p.requires_grad for p in teacher.parameters())


def test_exception_vos_terms_need_masks_and_a_teacher_in_the_batch() -> None:
    clip = _square_clip()
    interpolated = type("Output", (), {"frame": clip["frame1"]})()
    seg = _terms(("seg",))[0]
    with pytest.raises(VosvfiError, match="need a VOS teacher: set train.teacher"):
        seg.compute(TrainStep(interpolated, clip, teacher=None))  # type: ignore[arg-type]
    without_masks = {key: value for key, value in clip.items() if not key.startswith("mask")}
    with pytest.raises(VosvfiError, match="need object masks; the batch has no mask0, mask1, mask2"):
        seg.compute(TrainStep(interpolated, without_masks, teacher=PixelAffinityPropagator()))  # type: ignore[arg-type]


class _NoMasks(torch.utils.data.Dataset):
    def __len__(self) -> int:
        return 4

    def __getitem__(self, index: int) -> dict:
        return {f"frame{k}": torch.rand(3, 32, 32) for k in range(3)}


def test_exception_a_training_set_without_masks_is_one_line_before_any_work(tmp_path: Path) -> None:
    config = TrainConfig(crop=None, batch_size=2, device="cpu", losses=ORIGINAL, teacher={"type": "pixel_affinity"})
    check_trainable(config)  # the synthetic set has exact masks
    with pytest.raises(VosvfiError) as caught:
        train(config, MODELS.check("adacof"), _NoMasks(), tmp_path / "run")
    assert str(caught.value) == "train.losses: the seg term needs object masks but the training set's items have no mask0, mask1, mask2"
    assert not (tmp_path / "run").exists()


# ---- masks follow the frames through the training augmentation ------------------------------------


def _vimeo_with_masks(root: Path, size: tuple[int, int] = (20, 24)) -> None:
    """One triplet: frame k's red channel is its mask (an L shape at a place that depends on k), its green channel 40·k."""
    height, width = size
    name = "00001/0001"
    for k in range(3):
        mask = np.zeros(size, dtype=np.uint8)
        mask[3 + 2 * k : 12 + 2 * k, 4 + 3 * k : 7 + 3 * k] = 255  # the L's stem ...
        mask[9 + 2 * k : 12 + 2 * k, 4 + 3 * k : 14 + 3 * k] = 255  # ... and foot: no flip leaves it unchanged
        frame = np.zeros((height, width, 3), dtype=np.uint8)
        frame[..., 0], frame[..., 1] = mask, 40 * k
        for folder, image in (("sequences", frame), ("masks", mask)):
            path = root / "vimeo_triplet" / folder / name / f"im{k + 1}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(path)
    for split in ("train", "test"):
        (root / "vimeo_triplet" / f"tri_{split}list.txt").write_text(name + "\n")


def _transform(item: dict, source: dict, prefix: str, dims: tuple[int, ...], reverse: bool) -> bool:
    """Whether ``item``'s ``prefix``0..2 are ``source``'s flipped along ``dims`` and, with ``reverse``, in reverse order."""
    order = (2, 1, 0) if reverse else (0, 1, 2)
    return all(torch.equal(item[f"{prefix}{k}"], source[f"{prefix}{order[k]}"].flip(dims) if dims else source[f"{prefix}{order[k]}"]) for k in range(3))


def test_feature_masks_follow_the_frames_through_crops_flips_and_reversal(tmp_path: Path) -> None:
    _vimeo_with_masks(tmp_path)
    augmented = VimeoTriplets(tmp_path, "train", crop=16, augment=True, with_masks=True)
    plain = VimeoTriplets(tmp_path, "train", crop=16, augment=False, with_masks=True)
    seen = set()
    for seed in range(64):
        torch.manual_seed(seed)
        item = augmented[0]
        torch.manual_seed(seed)  # the same crop window: it is drawn before the flips
        source = plain[0]
        for k in range(3):
            assert torch.equal(item[f"mask{k}"][0], (item[f"frame{k}"][0] > 0.5).float()), (seed, k)  # the mask is its frame's
        candidates = [(dims, reverse) for dims in ((), (-2,), (-1,), (-2, -1)) for reverse in (False, True)]
        found = [c for c in candidates if _transform(item, source, "frame", *c)]
        assert len(found) == 1, seed  # the frames tell the augmentation apart (an asymmetric L, a code per frame)
        assert _transform(item, source, "mask", *found[0]), (seed, found[0])
        seen.add(found[0])
    assert len(seen) == 8  # every combination of the two flips and the reversal was drawn
