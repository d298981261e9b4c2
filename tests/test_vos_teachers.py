"""Teacher registry and whole-video propagation: config blocks, weights resolution, the memory schedule."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

import vosvfi_core.vos.stcn as stcn_module
from vosvfi_core.data.synthetic import random_scene, render_frame
from vosvfi_core.data.synthetic.config import SEQUENCE_OPTIONS
from vosvfi_core.errors import VosvfiError
from vosvfi_core.vos.memory import Memory
from vosvfi_core.vos.pixel_affinity import PixelAffinityPropagator
from vosvfi_core.vos.stcn import STCN, STCN_WEIGHTS, stcn
from vosvfi_core.vos.teachers import TEACHERS, Teacher, aggregate_objects, propagate_video, propagate_video_objects
from vosvfi_core.weights import WeightsEntry

pytestmark = pytest.mark.usefixtures("one_thread")


def test_feature_registry_builds_both_teachers_from_config_blocks():
    assert {"stcn", "pixel_affinity"} <= set(TEACHERS.names())
    teacher = TEACHERS.build({"type": "pixel_affinity", "stride": 3, "top_k": 7}, torch.device("cpu"))
    assert isinstance(teacher, PixelAffinityPropagator) and isinstance(teacher, Teacher)
    assert (teacher.stride, teacher.top_k, teacher.name) == (3, 7, "pixel_affinity")
    assert TEACHERS.check({"type": "stcn"}).kwargs == {"weights": None, "top_k": 20}


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ({"type": "pixel_affinity", "strid": 3}, "strid: unknown argument"),
        ({"type": "pixel_affinity", "stride": 0}, "stride: Input should be greater than 0"),
        ({"type": "pixel_affinity", "patch_size": 4}, "patch_size: must be odd"),
        ({"type": "stcn", "top_k": -1}, "top_k: Input should be greater than 0"),
    ],
)
def test_exception_bad_teacher_argument_is_one_line_naming_the_field(block, message):
    with pytest.raises(VosvfiError, match=f"^teacher {block['type']}: {message}"):
        TEACHERS.build(block, "cpu")


def test_exception_stcn_offline_without_file_says_which_file_to_place_where(tmp_path, monkeypatch):
    monkeypatch.setenv("VOSVFI_WEIGHTS_DIR", str(tmp_path))
    offline = WeightsEntry(STCN_WEIGHTS.name, STCN_WEIGHTS.file_name, None, "http://nonexistent.invalid/stcn.pth", STCN_WEIGHTS.description)
    monkeypatch.setattr(stcn_module, "STCN_WEIGHTS", offline)
    start = time.monotonic()
    with pytest.raises(VosvfiError) as error:
        TEACHERS.build({"type": "stcn"}, "cpu")
    message = str(error.value)
    assert message.startswith(
        f"STCN weights: no file; place stcn.pth (sha256 not published) at {tmp_path / 'stcn.pth'} or pass its path in train.teacher.weights; "
    )
    assert "download from http://nonexistent.invalid/stcn.pth failed: cannot resolve host 'nonexistent.invalid' (offline" in message
    assert time.monotonic() - start < 5


def test_feature_stcn_teacher_loads_the_file_from_the_weights_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("VOSVFI_WEIGHTS_DIR", str(tmp_path))
    monkeypatch.setattr(stcn_module, "STCN_WEIGHTS", WeightsEntry("STCN", "stcn.pth", None, None, ""))
    source = stcn().state_dict()
    torch.save(source, tmp_path / "stcn.pth")
    teacher = TEACHERS.build({"type": "stcn"}, "cpu")
    assert isinstance(teacher, STCN) and isinstance(teacher, Teacher) and teacher.top_k == 20
    assert torch.equal(teacher.state_dict()["decoder.pred.weight"], source["decoder.pred.weight"])
    assert not any(p.requires_grad for p in teacher.parameters())


class _RecordingTeacher:
    """Frames are constant images whose value is their index; memory keys remember those indices."""

    name = "recording"

    def __init__(self) -> None:
        self.read: list[tuple[int, list[int]]] = []

    def memorize(self, frames: torch.Tensor, masks: torch.Tensor) -> Memory:
        index = frames[:, :, 0, 0, 0].reshape(1, 1, -1)  # [1, 1, T]
        return Memory(index, masks.flatten(3).mean(-1).reshape(1, 1, -1))

    def segment(self, memory: Memory, query: torch.Tensor) -> torch.Tensor:
        self.read.append((int(query[0, 0, 0, 0]), [int(i) for i in memory.keys.flatten()]))
        return torch.full((1, 1, *query.shape[-2:]), 0.9)

    def propagate(self, memory_frames: torch.Tensor, memory_masks: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
        return self.segment(self.memorize(memory_frames, memory_masks), query)


@pytest.mark.parametrize("include_last", [True, False])
def test_cardinality_video_memory_is_first_frame_every_kth_and_previous(include_last):
    teacher = _RecordingTeacher()
    frames = [torch.full((3, 4, 5), float(i)) for i in range(8)]
    masks = propagate_video(teacher, frames, torch.ones(4, 5, dtype=torch.bool), memory_every=3, include_last=include_last)
    assert len(masks) == 8 and all(m.dtype == torch.bool and m.shape == (4, 5) and m.all() for m in masks)
    expected = [(i, [0] + [j for j in range(1, i) if j % 3 == 0] + ([i - 1] if include_last and i - 1 > 0 and (i - 1) % 3 else [])) for i in range(1, 8)]
    assert teacher.read == expected


def test_feature_video_propagation_follows_a_moving_object():
    rng = np.random.default_rng(3)
    options = SEQUENCE_OPTIONS.model_copy(update={"n_objects": (1, 1), "max_shift": 4.0, "object_size": (0.25, 0.3)})
    scene = random_scene(rng, 48, 64, options, duration=6.0, keep_inside=True)
    rendered = [render_frame(scene, float(t)) for t in range(7)]
    frames = [torch.from_numpy(image).permute(2, 0, 1).float() / 255 for image, _ in rendered]
    truth = [torch.from_numpy(mask > 0) for _, mask in rendered]
    masks = propagate_video(PixelAffinityPropagator(), frames, truth[0], memory_every=5)
    assert torch.equal(masks[0], truth[0])

    def iou(a, b):
        return float((a & b).sum()) / max(float((a | b).sum()), 1.0)

    propagated = [iou(m, t) for m, t in zip(masks[1:], truth[1:])]
    copied = [iou(truth[0], t) for t in truth[1:]]
    assert min(propagated) > 0.8 and np.mean(propagated) > np.mean(copied) + 0.3, (
        f"IoU per frame {np.round(propagated, 2)} vs copying frame 0 {np.round(copied, 2)}"
    )


def test_feature_video_memory_defaults_to_stcn_evaluation():
    """STCN's eval scripts: first frame, every 5th, no include_last."""
    default, explicit = _RecordingTeacher(), _RecordingTeacher()
    frames = [torch.full((3, 4, 5), float(i)) for i in range(12)]
    propagate_video(default, frames, torch.ones(4, 5, dtype=torch.bool))
    propagate_video(explicit, frames, torch.ones(4, 5, dtype=torch.bool), memory_every=5, include_last=False)
    assert default.read == explicit.read
    assert default.read[-1] == (11, [0, 5, 10])


def _stcn_aggregate(prob: np.ndarray) -> np.ndarray:
    """STCN's model/aggregate.py, written out again in NumPy: [K, 1, H, W] → [K + 1, 1, H, W]."""
    new_prob = np.concatenate([np.prod(1 - prob, axis=0, keepdims=True), prob], axis=0).clip(1e-7, 1 - 1e-7)
    logits = np.log(new_prob / (1 - new_prob))
    exp = np.exp(logits - logits.max(axis=0, keepdims=True))
    return exp / exp.sum(axis=0, keepdims=True)


def test_feature_aggregate_objects_is_stcns():
    prob = torch.rand(3, 1, 5, 6, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    prob[0, 0, 0, 0] = 0.0  # clamped
    np.testing.assert_allclose(aggregate_objects(prob).numpy(), _stcn_aggregate(prob.numpy()), rtol=1e-12, atol=1e-15)


class _ObjectTeacher:
    """Per-object probabilities fixed by object (batch row) and frame; records what each memory write received."""

    name = "objects"
    reads_other_objects = True

    def __init__(self, table: torch.Tensor) -> None:
        self.table = table  # [T, K, 1, H, W]
        self.writes: list[tuple[int, torch.Tensor, torch.Tensor]] = []

    def memorize(self, frames, masks, other_objects=None):
        index = int(frames[0, 0, 0, 0, 0])
        self.writes.append((index, masks[:, 0].clone(), other_objects[:, 0].clone()))
        return Memory(frames[:, :, 0, :1, 0].reshape(frames.shape[0], 1, -1), masks.flatten(2)[:, :, :1])

    def segment(self, memory, query):
        raise AssertionError("object propagation reads object_probability where a teacher has it")

    def object_probability(self, memory, query):
        return self.table[int(query[0, 0, 0, 0])]


def test_feature_object_propagation_aggregates_and_writes_memory_as_stcn():
    generator = torch.Generator().manual_seed(1)
    frames = [torch.full((3, 4, 5), float(i)) for i in range(7)]
    table = torch.rand(7, 2, 1, 4, 5, generator=generator)
    first = torch.zeros(4, 5, dtype=torch.int64)
    first[:2, :2], first[2:, 3:] = 1, 3  # ids 1 and 3 (2 absent)
    teacher = _ObjectTeacher(table[:, [0, 0, 1]])  # three objects: 1, 2 (a copy of 1), 3
    labels = propagate_video_objects(teacher, frames, first, [1, 2, 3], memory_every=5)
    assert torch.equal(labels[0], first)
    for t in range(1, 7):
        expected = _stcn_aggregate(teacher.table[t].numpy())
        assert torch.equal(labels[t], torch.tensor([0, 1, 2, 3])[torch.from_numpy(expected[:, 0].argmax(axis=0))]), t
    assert [index for index, _, _ in teacher.writes] == [0, 5]  # the first frame and every 5th
    _, masks, others = teacher.writes[0]
    assert torch.equal(masks[:, 0], torch.stack([first == k for k in (1, 2, 3)]).float())
    _, masks, others = teacher.writes[1]
    aggregated = torch.from_numpy(_stcn_aggregate(teacher.table[5].numpy()))[1:, 0]
    torch.testing.assert_close(masks[:, 0], aggregated)
    torch.testing.assert_close(others[:, 0], aggregated.sum(0, keepdim=True) - aggregated)


def test_feature_stcn_one_object_propagates_as_the_single_object_path():
    torch.manual_seed(0)
    teacher = stcn()  # random weights
    generator = torch.Generator().manual_seed(2)
    frames = [torch.rand(3, 32, 32, generator=generator) for _ in range(7)]
    first = torch.zeros(32, 32, dtype=torch.bool)
    first[8:20, 6:18] = True
    single = propagate_video(teacher, frames, first)
    objects = propagate_video_objects(teacher, frames, first.to(torch.int64), [1])
    assert all(torch.equal(a, b > 0) for a, b in zip(single, objects))
