"""Classical single-object trackers that need no downloaded weights (OpenCV CSRT and KCF), one box per frame.

A tracker is a callable ``(frames, first_box) -> boxes``: ``frames`` a sequence of ``[3, H, W]``
float RGB tensors in [0, 1] or ``[H, W, 3]`` uint8 RGB arrays (read one at a time, so a lazy
sequence keeps memory flat), ``first_box`` the ``(x, y, w, h)`` box in frame 0; the result is
``[T, 4]`` float64 ``(x, y, w, h)``, row 0 being ``first_box`` itself as in OTB. Where OpenCV
reports the target lost (``update`` returns False), the previous box is repeated (``LOST_RULE``)
and OpenCV's tracker keeps searching from its last state; :meth:`OpenCVTracker.track` also says
which frames were lost, and the tracking check counts them per sequence (``lost_frames``).

Both trackers are deterministic: the same frames give the same boxes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from torch import Tensor

from vosvfi_core.errors import VosvfiError
from vosvfi_core.io.images import to_uint8
from vosvfi_core.registry import Block, Registry

__all__ = ["LOST_RULE", "TRACKERS", "OpenCVTracker", "TrackResult", "Tracker", "build_tracker", "csrt", "kcf"]

LOST_RULE = "lost target=previous box held"  # what a frame gets when OpenCV reports the target lost (the convention column says it)

Tracker = Callable[[Sequence[Tensor | np.ndarray], Sequence[float]], np.ndarray]

TRACKERS: Registry[Tracker] = Registry("tracker")


def _constructor(class_name: str) -> Callable[[], Any] | None:
    """OpenCV's factory for a tracker class: ``cv2.<Class>.create`` (4.5.1+) or ``cv2.<Class>_create``."""
    cls = getattr(cv2, class_name, None)
    if cls is not None and hasattr(cls, "create"):
        return cls.create
    return getattr(cv2, f"{class_name}_create", None)


# Looked up once at import; a missing one is reported when a tracker of that kind is built.
_CONSTRUCTORS = {name: _constructor(name) for name in ("TrackerCSRT", "TrackerKCF")}


def _bgr(frame: Tensor | np.ndarray, index: int) -> np.ndarray:
    if isinstance(frame, Tensor):
        rgb = to_uint8(frame)
    else:
        rgb = np.asarray(frame)
        if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f"frame {index}: expected a [3, H, W] float tensor or an [H, W, 3] uint8 array, got {rgb.dtype} {rgb.shape}")
    return cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR)


def _init_rect(box: Sequence[float]) -> tuple[int, int, int, int]:
    """OpenCV wants an integer rectangle of at least one pixel."""
    x, y, w, h = (float(v) for v in box)
    if not all(math.isfinite(v) for v in (x, y, w, h)) or w <= 0 or h <= 0:
        raise VosvfiError(f"tracker: the first box must be a finite (x, y, w, h) with positive size, got {tuple(box)}")
    return round(x), round(y), max(1, round(w)), max(1, round(h))


@dataclass(frozen=True)
class TrackResult:
    boxes: np.ndarray  # [T, 4] float64 (x, y, w, h)
    lost: np.ndarray  # [T] bool: OpenCV reported the target lost (the box repeats the previous frame's)


class OpenCVTracker:
    """An OpenCV tracker class run over a whole sequence from its first box."""

    def __init__(self, name: str, class_name: str) -> None:
        constructor = _CONSTRUCTORS.get(class_name) or _constructor(class_name)
        if constructor is None:
            raise VosvfiError(f"tracker {name}: this OpenCV ({cv2.__version__}) has no cv2.{class_name}; install opencv-contrib-python-headless")
        self.name = name
        self._create = constructor

    def __call__(self, frames: Sequence[Tensor | np.ndarray], first_box: Sequence[float]) -> np.ndarray:
        return self.track(frames, first_box).boxes

    def track(self, frames: Sequence[Tensor | np.ndarray], first_box: Sequence[float]) -> TrackResult:
        """The boxes of every frame, and which frames OpenCV reported the target lost in (their box is the previous one)."""
        count = len(frames)
        if count == 0:
            raise ValueError(f"tracker {self.name}: no frames")
        boxes = np.empty((count, 4), dtype=np.float64)
        boxes[0] = [float(v) for v in first_box]
        lost = np.zeros(count, dtype=bool)
        tracker = self._create()
        first = _bgr(frames[0], 0)
        try:
            tracker.init(first, _init_rect(first_box))
        except cv2.error as error:
            raise VosvfiError(
                f"tracker {self.name}: cannot start on box {tuple(first_box)} in a {first.shape[1]}x{first.shape[0]} frame: {error.err}"
            ) from None
        for index in range(1, count):
            found, box = tracker.update(_bgr(frames[index], index))
            lost[index] = not found
            boxes[index] = box if found else boxes[index - 1]
        return TrackResult(boxes, lost)


@TRACKERS.register("csrt")
def csrt() -> Tracker:
    """OpenCV's CSRT (discriminative correlation filter with channel and spatial reliability)."""
    return OpenCVTracker("csrt", "TrackerCSRT")


@TRACKERS.register("kcf")
def kcf() -> Tracker:
    """OpenCV's KCF (kernelized correlation filter): fast, loses small targets more easily than CSRT."""
    return OpenCVTracker("kcf", "TrackerKCF")


def build_tracker(spec: str | Block | Mapping[str, Any]) -> Tracker:
    """A tracker from its registry name (``"csrt"``) or a config block (``{type: csrt}``)."""
    return TRACKERS.build(spec)
