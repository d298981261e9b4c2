"""OpenCV CSRT/KCF wrappers: they follow a moving patch, repeat exactly, and refuse bad input in one line."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vosvfi_core.downstream.trackers import TRACKERS, OpenCVTracker, build_tracker
from vosvfi_core.downstream.tracking_measures import box_iou
from vosvfi_core.errors import VosvfiError

SIZE, PATCH, STEP, FRAMES = 64, 14, 2, 10


def _moving_patch() -> tuple[list[np.ndarray], np.ndarray]:
    """A textured patch moving diagonally over a smooth background; uint8 RGB frames and the true boxes."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    background = np.stack([xx * 2, yy * 2, np.full_like(xx, 90)], axis=-1).astype(np.uint8)
    patch = rng.integers(0, 256, (PATCH, PATCH, 3), dtype=np.uint8)
    frames, boxes = [], []
    for k in range(FRAMES):
        x = y = 8 + STEP * k
        frame = background.copy()
        frame[y : y + PATCH, x : x + PATCH] = patch
        frames.append(frame)
        boxes.append((x, y, PATCH, PATCH))
    return frames, np.array(boxes, dtype=np.float64)


def test_smoke_registry_names() -> None:
    assert {"csrt", "kcf"} <= set(TRACKERS.names())


def test_feature_csrt_follows_a_moving_patch() -> None:
    frames, truth = _moving_patch()
    boxes = build_tracker("csrt")(frames, truth[0])
    assert boxes.shape == (FRAMES, 4)
    assert np.array_equal(boxes[0], truth[0])  # the first box is the given one, as OTB records it
    assert box_iou(boxes, truth).min() > 0.6


@pytest.mark.parametrize("name", ["csrt", "kcf"])
def test_feature_deterministic_on_the_same_frames(name: str) -> None:
    frames, truth = _moving_patch()
    first = build_tracker(name)(frames, truth[0])
    second = build_tracker({"type": name})(frames, truth[0])
    assert np.array_equal(first, second)


def test_feature_tensor_frames_track_like_uint8_arrays() -> None:
    frames, truth = _moving_patch()
    tensors = [torch.from_numpy(f).permute(2, 0, 1).float() / 255 for f in frames]
    tracker = build_tracker("csrt")
    assert np.array_equal(tracker(tensors, truth[0]), tracker(frames, truth[0]))


def test_exception_unknown_tracker() -> None:
    with pytest.raises(VosvfiError, match="unknown tracker 'goturn'"):
        build_tracker("goturn")


def test_exception_missing_opencv_class() -> None:
    with pytest.raises(VosvfiError, match=r"no cv2\.TrackerNope; install opencv-contrib"):
        OpenCVTracker("nope", "TrackerNope")


def test_exception_bad_first_box_and_frames() -> None:
    frames, _ = _moving_patch()
    tracker = build_tracker("csrt")
    with pytest.raises(VosvfiError, match="first box"):
        tracker(frames, (np.nan, 0, 10, 10))
    with pytest.raises(VosvfiError, match="first box"):
        tracker(frames, (0, 0, 0, 10))
    with pytest.raises(ValueError, match="frame 0"):
        tracker([f.astype(np.float32) for f in frames], (8, 8, 14, 14))


class _LosesAfterTwo:
    """An OpenCV-like tracker that finds the target in frames 1 and 2, then reports it lost."""

    def __init__(self) -> None:
        self.calls = 0

    def init(self, frame: np.ndarray, box: tuple[int, int, int, int]) -> None:
        self.box = box

    def update(self, frame: np.ndarray) -> tuple[bool, tuple[int, int, int, int]]:
        self.calls += 1
        if self.calls <= 2:
            return True, (self.box[0] + self.calls, self.box[1], self.box[2], self.box[3])
        return False, (0, 0, 0, 0)


def test_feature_lost_target_repeats_the_last_box() -> None:
    frames, truth = _moving_patch()
    tracker = OpenCVTracker("csrt", "TrackerCSRT")
    tracker._create = _LosesAfterTwo
    boxes = tracker(frames[:5], truth[0])
    x, y, w, h = truth[0]
    assert boxes.tolist() == [[x, y, w, h], [x + 1, y, w, h], [x + 2, y, w, h], [x + 2, y, w, h], [x + 2, y, w, h]]


def test_feature_track_says_which_frames_were_lost() -> None:
    frames, truth = _moving_patch()
    tracker = OpenCVTracker("csrt", "TrackerCSRT")
    tracker._create = _LosesAfterTwo
    result = tracker.track(frames[:5], truth[0])
    assert result.lost.tolist() == [False, False, False, True, True]
    assert np.array_equal(result.boxes, tracker(frames[:5], truth[0]))
