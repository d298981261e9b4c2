"""The DAVIS video-object-segmentation measures: J (region IoU), F (boundary F-measure) and J&F.

Definitions follow the DAVIS 2017 evaluation toolkit (davis2017-evaluation, ``metrics.py``):

- J is |pred ∩ truth| / |pred ∪ truth| outside the void pixels, and 1 when the union is empty.
- Boundaries are one pixel wide: a pixel is on the boundary when it differs from its east, south
  or south-east neighbour (so the boundary sits half a pixel towards the origin). Along the last
  row only the east neighbour counts, along the last column only the south one, and the
  bottom-right pixel is never a boundary: a mask touching the image border has no boundary there.
- F is the harmonic mean of boundary precision and recall, a boundary pixel being matched when a
  boundary pixel of the other mask lies within a disk of radius ``ceil(0.008 · image diagonal)``
  pixels (``bound_th >= 1`` is taken as the radius itself). An empty boundary against a non-empty
  one scores 0; two empty boundaries score 1.
- The semi-supervised protocol leaves out the first frame (its annotation is given) and the last.
- Masks are cast to bool as the toolkit casts them (``astype(bool)``: any non-zero value is
  foreground). A float mask must hold only 0 and 1; soft probabilities are refused rather than
  thresholded behind the caller's back.

The measures take one mask per frame. The toolkit's semi-supervised annotations
(:func:`semi_supervised_labels`): void pixels (label 255) count as background (its
``_get_all_elements`` zeroes them, and ``evaluate`` passes no void mask); DAVIS 2016 is one
object, any label above 0 (the 2016 protocol of ``davis2016-evaluation``, which STCN's author
maintains); DAVIS 2017 scores each object id ``1..max(first frame's labels)`` apart, and its
J&F-Mean is the mean over objects of the per-object means.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
import torch
from torch import Tensor

__all__ = [
    "BOUND_TH",
    "VOID_LABEL",
    "DavisYear",
    "SequenceScores",
    "boundary_map",
    "boundary_tolerance",
    "f_measure",
    "j_measure",
    "object_ids",
    "semi_supervised_frames",
    "semi_supervised_labels",
    "sequence_scores",
]

BOUND_TH = 0.008  # the toolkit's boundary tolerance, as a fraction of the image diagonal
VOID_LABEL = 255  # DAVIS annotations mark void pixels with this index
DavisYear = Literal["2016", "2017"]

MaskLike = Tensor | np.ndarray


def _plane(mask: MaskLike, what: str = "mask") -> np.ndarray:
    """``[H, W]`` (or ``[1, H, W]``) mask as a ``[H, W]`` bool array: non-zero is foreground, as the toolkit's ``astype(bool)``."""
    array = mask.detach().cpu().numpy() if isinstance(mask, torch.Tensor) else np.asarray(mask)
    if array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 2:
        raise ValueError(f"{what}: expected an [H, W] mask, got shape {array.shape}")
    if array.dtype == np.bool_:
        return array
    if np.issubdtype(array.dtype, np.floating) and not np.isin(array, (0.0, 1.0)).all():
        raise ValueError(f"{what}: a float mask must hold only 0 and 1 (the DAVIS toolkit casts masks to bool); threshold probabilities first")
    return array != 0


def _pair(pred: MaskLike, truth: MaskLike, void: MaskLike | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    pred_plane, truth_plane = _plane(pred, "prediction"), _plane(truth, "annotation")
    if pred_plane.shape != truth_plane.shape:
        raise ValueError(f"prediction {pred_plane.shape} and annotation {truth_plane.shape} differ in size")
    void_plane = np.zeros_like(truth_plane) if void is None else _plane(void, "void mask")
    if void_plane.shape != truth_plane.shape:
        raise ValueError(f"void mask {void_plane.shape} and annotation {truth_plane.shape} differ in size")
    return pred_plane, truth_plane, void_plane


def j_measure(pred: MaskLike, truth: MaskLike, void: MaskLike | None = None) -> float:
    """Region similarity J: IoU of the two masks outside ``void``; 1 when both are empty there."""
    pred, truth, void = _pair(pred, truth, void)
    keep = ~void
    union = int(np.count_nonzero((pred | truth) & keep))
    if union == 0:
        return 1.0
    return int(np.count_nonzero(pred & truth & keep)) / union


def boundary_map(mask: MaskLike) -> np.ndarray:
    """The one-pixel-wide boundary of a mask as the DAVIS toolkit draws it (``[H, W]`` bool)."""
    seg = _plane(mask)
    east = np.zeros_like(seg)
    south = np.zeros_like(seg)
    south_east = np.zeros_like(seg)
    east[:, :-1] = seg[:, 1:]
    south[:-1, :] = seg[1:, :]
    south_east[:-1, :-1] = seg[1:, 1:]
    bmap = (seg ^ east) | (seg ^ south) | (seg ^ south_east)
    # Beyond the image is not background: the last row and column compare within the image only.
    bmap[-1, :] = seg[-1, :] ^ east[-1, :]
    bmap[:, -1] = seg[:, -1] ^ south[:, -1]
    bmap[-1, -1] = False
    return bmap


def boundary_tolerance(height: int, width: int, bound_th: float = BOUND_TH) -> int:
    """The matching radius in pixels: ``ceil(bound_th · diagonal)``, or ``bound_th`` itself when >= 1."""
    if bound_th >= 1:
        return math.ceil(bound_th)
    # sqrt of the exact integer sum, as the toolkit's np.linalg.norm(shape): the same float, so the same ceil
    return math.ceil(bound_th * math.sqrt(height * height + width * width))


def _disk(radius: int) -> np.ndarray:
    """Pixels within Euclidean distance ``radius`` of the centre, ``[2r+1, 2r+1]`` uint8."""
    offsets = np.arange(-radius, radius + 1)
    return ((offsets[:, None] ** 2 + offsets[None, :] ** 2) <= radius**2).astype(np.uint8)


def f_measure(pred: MaskLike, truth: MaskLike, void: MaskLike | None = None, *, bound_th: float = BOUND_TH) -> float:
    """Boundary F-measure of ``pred`` against ``truth`` (void pixels removed from both masks first)."""
    pred, truth, void = _pair(pred, truth, void)
    pred_boundary = boundary_map(pred & ~void)
    truth_boundary = boundary_map(truth & ~void)
    disk = _disk(boundary_tolerance(*truth.shape, bound_th))
    pred_reach = cv2.dilate(pred_boundary.astype(np.uint8), disk) > 0
    truth_reach = cv2.dilate(truth_boundary.astype(np.uint8), disk) > 0
    n_pred, n_truth = int(np.count_nonzero(pred_boundary)), int(np.count_nonzero(truth_boundary))
    if n_pred == 0 and n_truth == 0:
        return 1.0
    if n_pred == 0 or n_truth == 0:
        return 0.0
    precision = np.count_nonzero(pred_boundary & truth_reach) / n_pred
    recall = np.count_nonzero(truth_boundary & pred_reach) / n_truth
    if precision + recall == 0:
        return 0.0
    return float(2 * precision * recall / (precision + recall))


def semi_supervised_labels(labels: MaskLike, year: DavisYear) -> np.ndarray:
    """An annotation's ``[H, W]`` object ids as the toolkit's semi-supervised protocol scores them (int64).

    Void pixels (255) become background; DAVIS 2016 merges every object into id 1.
    """
    if year not in ("2016", "2017"):
        raise ValueError(f"DAVIS year must be 2016 or 2017, got {year!r}")
    array = labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    if array.ndim != 2 or not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"annotation: expected [H, W] integer object ids, got {array.dtype} {array.shape}")
    ids = np.where(array == VOID_LABEL, 0, array).astype(np.int64)
    return (ids > 0).astype(np.int64) if year == "2016" else ids


def object_ids(first_labels: MaskLike) -> list[int]:
    """The objects the toolkit scores: ``1..max`` of the first frame's (void-free) ids, missing ids included."""
    array = first_labels.detach().cpu().numpy() if isinstance(first_labels, torch.Tensor) else np.asarray(first_labels)
    return list(range(1, int(array.max(initial=0)) + 1))


def semi_supervised_frames(count: int) -> list[int]:
    """The frames the semi-supervised protocol scores in a ``count``-frame sequence: all but the first and last."""
    return list(range(1, count - 1))


@dataclass(frozen=True)
class SequenceScores:
    """Per-frame J and F of the scored frames, and their means (J&F = (J_mean + F_mean) / 2)."""

    frames: tuple[int, ...]
    j: tuple[float, ...]
    f: tuple[float, ...]

    @property
    def j_mean(self) -> float:
        return float(np.mean(self.j)) if self.j else math.nan

    @property
    def f_mean(self) -> float:
        return float(np.mean(self.f)) if self.f else math.nan

    @property
    def jf_mean(self) -> float:
        return (self.j_mean + self.f_mean) / 2


def sequence_scores(
    pred_masks: Sequence[MaskLike],
    true_masks: Sequence[MaskLike | None],
    *,
    frames: Sequence[int] | None = None,
    voids: Sequence[MaskLike | None] | None = None,
    bound_th: float = BOUND_TH,
) -> SequenceScores:
    """J and F per frame of a whole sequence, the first and last frames left out.

    ``frames`` narrows the scored frames further (e.g. to the rebuilt ones); frame 0 and the last
    frame stay out even when listed. ``true_masks`` (and ``voids``) may hold None for frames that
    are not scored.
    """
    count = len(pred_masks)
    if len(true_masks) != count:
        raise ValueError(f"{count} predicted masks but {len(true_masks)} annotations")
    if voids is not None and len(voids) != count:
        raise ValueError(f"{count} predicted masks but {len(voids)} void masks")
    allowed = semi_supervised_frames(count)
    scored = allowed if frames is None else sorted(set(frames) & set(allowed))
    j_values, f_values = [], []
    for index in scored:
        truth = true_masks[index]
        if truth is None:
            raise ValueError(f"frame {index} is scored but has no annotation")
        void = voids[index] if voids is not None else None
        j_values.append(j_measure(pred_masks[index], truth, void))
        f_values.append(f_measure(pred_masks[index], truth, void, bound_th=bound_th))
    return SequenceScores(tuple(scored), tuple(j_values), tuple(f_values))
