"""The OTB one-pass evaluation measures of a tracker: box overlap, centre error, success and precision curves.

Boxes are ``(x, y, w, h)`` with (x, y) the top-left corner. Overlap is the IoU of the two
rectangles (OTB's pixel-inclusive formula ``min(r1, r2) - max(l1, l2) + 1`` with ``r = l + w - 1``
is the same number). The centre is ``(x + w/2, y + h/2)``; OTB's ``x + (w-1)/2`` shifts both boxes
alike and gives the same distances.

- success(t) = fraction of frames with IoU > t, for t in ``linspace(0, 1, 21)``; the AUC is the
  mean of that curve, so a perfect tracker scores 20/21 (no IoU exceeds 1), as in OTB.
- precision(t) = fraction of frames with centre error <= t pixels, for t = 0..50; OTB reports t = 20.
- Frames whose ground truth is absent (a NaN row, or a non-positive width or height) are left out
  of every curve.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from torch import Tensor

__all__ = [
    "PRECISION_PIXELS",
    "PRECISION_THRESHOLDS",
    "SUCCESS_THRESHOLDS",
    "TrackingScores",
    "auc",
    "box_iou",
    "center_error",
    "precision_at",
    "precision_curve",
    "success_curve",
    "tracking_scores",
    "valid_boxes",
]

SUCCESS_THRESHOLDS = np.linspace(0.0, 1.0, 21)
PRECISION_THRESHOLDS = np.arange(0, 51, dtype=np.float64)
PRECISION_PIXELS = 20.0

BoxesLike = Tensor | np.ndarray | list | tuple


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
    """``[T]`` bool: frames whose ground-truth box is present (finite, positive width and height)."""
    boxes = _boxes(truth, "ground-truth boxes")
    return np.isfinite(boxes).all(axis=1) & (boxes[:, 2] > 0) & (boxes[:, 3] > 0)


def box_iou(pred: BoxesLike, truth: BoxesLike) -> np.ndarray:
    """``[T]`` IoU of paired boxes; NaN where the ground truth is absent."""
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
    """``[T]`` Euclidean distance in pixels between the box centres; NaN where the ground truth is absent."""
    pred, truth = _pair(pred, truth)
    offset = (pred[:, :2] + pred[:, 2:] / 2) - (truth[:, :2] + truth[:, 2:] / 2)
    error = np.hypot(offset[:, 0], offset[:, 1])
    error[~valid_boxes(truth)] = np.nan
    return error


def _present(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    return values[~np.isnan(values)]


def success_curve(ious: np.ndarray, thresholds: np.ndarray = SUCCESS_THRESHOLDS) -> np.ndarray:
    """Fraction of frames (NaN left out) with IoU strictly above each threshold; NaN with no frame."""
    present = _present(ious)
    if present.size == 0:
        return np.full(len(thresholds), np.nan)
    return (present[None, :] > np.asarray(thresholds)[:, None]).mean(axis=1)


def precision_curve(errors: np.ndarray, thresholds: np.ndarray = PRECISION_THRESHOLDS) -> np.ndarray:
    """Fraction of frames (NaN left out) with centre error at most each threshold; NaN with no frame."""
    present = _present(errors)
    if present.size == 0:
        return np.full(len(thresholds), np.nan)
    return (present[None, :] <= np.asarray(thresholds)[:, None]).mean(axis=1)


def auc(curve: np.ndarray) -> float:
    """Area under a success curve sampled at evenly spaced thresholds: its mean."""
    return float(np.mean(curve))


def precision_at(errors: np.ndarray, pixels: float = PRECISION_PIXELS) -> float:
    """Fraction of frames (NaN left out) whose centre error is at most ``pixels``."""
    present = _present(errors)
    return float(np.mean(present <= pixels)) if present.size else math.nan


@dataclass(frozen=True)
class TrackingScores:
    """Per-frame IoU and centre error (NaN where the truth is absent) and the sequence's curves."""

    iou: np.ndarray
    center_error: np.ndarray
    success: np.ndarray
    precision: np.ndarray

    @property
    def valid(self) -> np.ndarray:
        return ~np.isnan(self.iou)

    @property
    def auc(self) -> float:
        return auc(self.success)

    @property
    def precision_20(self) -> float:
        return precision_at(self.center_error, PRECISION_PIXELS)


def tracking_scores(pred: BoxesLike, truth: BoxesLike) -> TrackingScores:
    """Everything the OTB protocol reports of one tracked sequence."""
    iou = box_iou(pred, truth)
    error = center_error(pred, truth)
    return TrackingScores(iou, error, success_curve(iou), precision_curve(error))
