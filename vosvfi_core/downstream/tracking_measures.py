"""The OTB one-pass evaluation measures of a tracker: box overlap, centre error, success and precision curves.

Boxes are ``(x, y, w, h)`` with (x, y) the top-left corner. Overlap is the IoU of the two
rectangles (OTB's pixel-inclusive formula ``min(r1, r2) - max(l1, l2) + 1`` with ``r = l + w - 1``
is the same number). The centre is ``(x + w/2, y + h/2)``; OTB's ``x + (w-1)/2`` shifts both boxes
alike and gives the same distances.

- success(t) = fraction of frames with IoU > t, for t in ``linspace(0, 1, 21)``; the AUC is the
  mean of that curve, so a perfect tracker scores 20/21 (no IoU exceeds 1), as in OTB.
- precision(t) = fraction of frames with centre error <= t pixels, for t = 0..50; OTB reports t = 20.

Frames without a usable ground-truth box follow pysot's OTB statistics
(``toolkit/utils/statistics.py``: ``success_overlap``, ``success_error``) by default
(``absent="toolkit"``): every frame of the sequence is counted, and such a frame gets overlap −1
(a failure at every threshold) and centre distance −1 (a hit at every threshold). pysot decides
"usable" separately for the two curves: for success, a box with positive width and height; for
precision, a box whose OTB centre ``(x + (w−1)/2, y + (h−1)/2)`` is positive in both coordinates.
A NaN row fails both tests. Per frame, :func:`box_iou` and :func:`center_error` hold NaN for such
frames, and the curves read NaN by the chosen rule; ``absent="skip"`` leaves them out of the
curves instead (dividing by the frames that have a box).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from torch import Tensor

__all__ = [
    "ABSENT_CONVENTIONS",
    "PRECISION_PIXELS",
    "PRECISION_THRESHOLDS",
    "SUCCESS_THRESHOLDS",
    "TRACKING_CHECK",
    "AbsentFrames",
    "TrackingScores",
    "absent_rule",
    "auc",
    "box_iou",
    "center_error",
    "centre_boxes",
    "precision_at",
    "precision_curve",
    "success_curve",
    "tracking_scores",
    "valid_boxes",
]

TRACKING_CHECK = "tracking_accuracy"  # the registered check whose rows these measures fill
SUCCESS_THRESHOLDS = np.linspace(0.0, 1.0, 21)
PRECISION_THRESHOLDS = np.arange(0, 51, dtype=np.float64)
PRECISION_PIXELS = 20.0

# How frames without a usable ground-truth box enter the curves.
AbsentFrames = Literal["toolkit", "skip"]
# The words the ``convention`` column carries for each rule (read back by :func:`absent_rule`).
ABSENT_CONVENTIONS: dict[str, str] = {
    "toolkit": "absent truth=success miss, precision hit, all frames counted (pysot OTB)",
    "skip": "absent truth=frame left out",
}

BoxesLike = Tensor | np.ndarray | list | tuple


def absent_rule(convention: str | None) -> AbsentFrames:
    """The rule a row's ``convention`` names (rows written before the rule was recorded left absent frames out)."""
    text = convention or ""
    if ABSENT_CONVENTIONS["toolkit"] in text:
        return "toolkit"
    return "skip"


def _boxes(boxes: BoxesLike, what: str) -> np.ndarray:
    """``[4]`` or ``[T, 4]`` boxes as ``[T, 4]`` float64."""
    array = boxes.detach().cpu().numpy() if isinstance(boxes, Tensor) else np.asarray(boxes)
    array = np.asarray(array, dtype=np.float64)
    if array.ndim == 1:
        array = array[None]
    if array.ndim != 2 or array.shape[1] != 4:
        raise ValueError(f"{what}: expected (x, y, w, h) boxes of shape [T, 4], got {array.shape}")
    return array


def _pair(pred: BoxesLike, truth: BoxesLike) -> tuple[np.ndarray, np.ndarray]:
    pred_boxes, true_boxes = _boxes(pred, "predicted boxes"), _boxes(truth, "ground-truth boxes")
    if pred_boxes.shape != true_boxes.shape:
        raise ValueError(f"{len(pred_boxes)} predicted boxes but {len(true_boxes)} ground-truth boxes")
    return pred_boxes, true_boxes


def valid_boxes(truth: BoxesLike) -> np.ndarray:
    """``[T]`` bool: frames whose ground-truth box counts for success (finite, positive width and height)."""
    boxes = _boxes(truth, "ground-truth boxes")
    with np.errstate(invalid="ignore"):
        return np.isfinite(boxes).all(axis=1) & (boxes[:, 2] > 0) & (boxes[:, 3] > 0)


def centre_boxes(truth: BoxesLike) -> np.ndarray:
    """``[T]`` bool: frames whose ground-truth box counts for precision (pysot: OTB centre positive in x and y)."""
    boxes = _boxes(truth, "ground-truth boxes")
    centre = boxes[:, :2] + (boxes[:, 2:] - 1) / 2
    with np.errstate(invalid="ignore"):
        return np.isfinite(boxes).all(axis=1) & (centre > 0).all(axis=1)


def box_iou(pred: BoxesLike, truth: BoxesLike) -> np.ndarray:
    """``[T]`` IoU of paired boxes; NaN where the ground truth does not count (see :func:`valid_boxes`)."""
    pred, truth = _pair(pred, truth)
    width = np.minimum(pred[:, 0] + pred[:, 2], truth[:, 0] + truth[:, 2]) - np.maximum(pred[:, 0], truth[:, 0])
    height = np.minimum(pred[:, 1] + pred[:, 3], truth[:, 1] + truth[:, 3]) - np.maximum(pred[:, 1], truth[:, 1])
    inter = np.clip(width, 0, None) * np.clip(height, 0, None)
    union = np.clip(pred[:, 2], 0, None) * np.clip(pred[:, 3], 0, None) + truth[:, 2] * truth[:, 3] - inter
    valid = valid_boxes(truth)
    iou = np.full(len(truth), np.nan)
    iou[valid] = inter[valid] / union[valid]
    return iou


def center_error(pred: BoxesLike, truth: BoxesLike) -> np.ndarray:
    """``[T]`` Euclidean distance in pixels between the box centres; NaN where the truth does not count (:func:`centre_boxes`)."""
    pred, truth = _pair(pred, truth)
    offset = (pred[:, :2] + pred[:, 2:] / 2) - (truth[:, :2] + truth[:, 2:] / 2)
    error = np.hypot(offset[:, 0], offset[:, 1])
    error[~centre_boxes(truth)] = np.nan
    return error


def _values(values: np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=np.float64).reshape(-1)


def _check_rule(absent: str) -> None:
    if absent not in ABSENT_CONVENTIONS:
        raise ValueError(f"absent must be one of {sorted(ABSENT_CONVENTIONS)}, got {absent!r}")


def _counted(per_frame: np.ndarray, absent: AbsentFrames) -> np.ndarray:
    """The per-frame values a curve counts: all of them (``toolkit``), or those that are not NaN (``skip``)."""
    _check_rule(absent)
    values = _values(per_frame)
    return values[~np.isnan(values)] if absent == "skip" else values


def success_curve(ious: np.ndarray, thresholds: np.ndarray = SUCCESS_THRESHOLDS, *, absent: AbsentFrames = "toolkit") -> np.ndarray:
    """Fraction of frames with IoU strictly above each threshold; NaN frames fail (``toolkit``) or are left out (``skip``).

    NaN when no frame is counted.
    """
    values = _counted(ious, absent)
    if values.size == 0:
        return np.full(len(thresholds), np.nan)
    overlap = np.where(np.isnan(values), -1.0, values)  # pysot: -1 never exceeds a threshold
    return (overlap[None, :] > np.asarray(thresholds)[:, None]).mean(axis=1)


def precision_curve(errors: np.ndarray, thresholds: np.ndarray = PRECISION_THRESHOLDS, *, absent: AbsentFrames = "toolkit") -> np.ndarray:
    """Fraction of frames with centre error at most each threshold; NaN frames hit (``toolkit``) or are left out (``skip``).

    NaN when no frame is counted.
    """
    values = _counted(errors, absent)
    if values.size == 0:
        return np.full(len(thresholds), np.nan)
    distance = np.where(np.isnan(values), -1.0, values)  # pysot: -1 is within every threshold
    return (distance[None, :] <= np.asarray(thresholds)[:, None]).mean(axis=1)


def auc(curve: np.ndarray) -> float:
    """Area under a success curve sampled at evenly spaced thresholds: its mean."""
    return float(np.mean(curve))


def precision_at(errors: np.ndarray, pixels: float = PRECISION_PIXELS, *, absent: AbsentFrames = "toolkit") -> float:
    """Fraction of frames whose centre error is at most ``pixels`` (NaN frames as :func:`precision_curve` reads them)."""
    curve = precision_curve(errors, np.array([pixels], dtype=np.float64), absent=absent)
    return float(curve[0]) if not np.isnan(curve[0]) else math.nan


@dataclass(frozen=True)
class TrackingScores:
    """Per-frame IoU and centre error (NaN where the truth does not count) and the sequence's curves."""

    iou: np.ndarray
    center_error: np.ndarray
    success: np.ndarray
    precision: np.ndarray
    absent: AbsentFrames = "toolkit"

    @property
    def valid(self) -> np.ndarray:
        """Frames whose box counts for success."""
        return ~np.isnan(self.iou)

    @property
    def auc(self) -> float:
        return auc(self.success)

    @property
    def precision_20(self) -> float:
        return precision_at(self.center_error, PRECISION_PIXELS, absent=self.absent)


def tracking_scores(pred: BoxesLike, truth: BoxesLike, *, absent: AbsentFrames = "toolkit") -> TrackingScores:
    """Everything the OTB protocol reports of one tracked sequence."""
    iou = box_iou(pred, truth)
    error = center_error(pred, truth)
    return TrackingScores(iou, error, success_curve(iou, absent=absent), precision_curve(error, absent=absent), absent)
