"""OTB box IoU, centre error, success/precision curves and AUC against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vosvfi_core.downstream.tracking_measures import (
    ABSENT_CONVENTIONS,
    PRECISION_THRESHOLDS,
    SUCCESS_THRESHOLDS,
    absent_rule,
    auc,
    box_iou,
    center_error,
    precision_at,
    precision_curve,
    success_curve,
    tracking_scores,
    valid_boxes,
)


@pytest.mark.parametrize(
    ("pred", "truth", "expected"),
    [
        ((0, 0, 10, 10), (0, 0, 10, 10), 1.0),
        ((0, 0, 10, 10), (5, 0, 10, 10), 50 / 150),
        ((0, 0, 10, 10), (2, 2, 5, 5), 25 / 100),
        ((0, 0, 10, 10), (10, 0, 10, 10), 0.0),  # touching edges share no pixel
        ((0, 0, 4, 6), (2, 3, 4, 6), (2 * 3) / (24 + 24 - 6)),
        ((0, 0, 0, 0), (0, 0, 10, 10), 0.0),  # a tracker's empty box
    ],
)
def test_feature_box_iou_known(pred: tuple, truth: tuple, expected: float) -> None:
    assert box_iou(pred, truth)[0] == pytest.approx(expected, abs=1e-12)


def _raster(box: np.ndarray, size: int = 40) -> np.ndarray:
    x, y, w, h = (int(v) for v in box)
    grid = np.zeros((size, size), dtype=bool)
    grid[y : y + h, x : x + w] = True
    return grid


def test_feature_box_iou_matches_pixel_count() -> None:
    rng = np.random.default_rng(0)
    pred = np.concatenate([rng.integers(0, 20, (50, 2)), rng.integers(1, 20, (50, 2))], axis=1).astype(float)
    truth = np.concatenate([rng.integers(0, 20, (50, 2)), rng.integers(1, 20, (50, 2))], axis=1).astype(float)
    expected = [(_raster(p) & _raster(t)).sum() / (_raster(p) | _raster(t)).sum() for p, t in zip(pred, truth)]
    assert box_iou(pred, truth) == pytest.approx(expected, abs=1e-12)
    assert box_iou(torch.from_numpy(pred), torch.from_numpy(truth)) == pytest.approx(expected, abs=1e-12)


def test_feature_center_error_known() -> None:
    assert center_error((0, 0, 10, 10), (3, 4, 10, 10))[0] == pytest.approx(5.0)
    assert center_error((0, 0, 10, 10), (6, 9, 2, 4))[0] == pytest.approx(math.sqrt(2**2 + 6**2))  # centres (5, 5), (7, 11)


def test_feature_absent_ground_truth_skip_rule_leaves_frames_out() -> None:
    truth = np.array([[0, 0, 10, 10], [np.nan] * 4, [0, 0, 0, 5], [0, 0, 10, 10]], dtype=float)
    pred = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10], [5, 0, 10, 10]], dtype=float)
    assert valid_boxes(truth).tolist() == [True, False, False, True]
    scores = tracking_scores(pred, truth, absent="skip")
    assert scores.iou[0] == 1.0 and math.isnan(scores.iou[1]) and math.isnan(scores.iou[2])
    assert scores.iou[3] == pytest.approx(1 / 3)
    assert math.isnan(scores.center_error[1])
    assert scores.success[0] == 1.0  # both present frames overlap: 2 of 2, not 2 of 4
    assert scores.success[10] == 0.5  # IoU > 0.5: frame 0 only
    assert scores.precision_20 == 1.0  # errors 0 and 5


def test_feature_absent_ground_truth_toolkit_rule_counts_every_frame() -> None:
    truth = np.array([[0, 0, 10, 10], [np.nan] * 4, [0, 0, 0, 5], [0, 0, 10, 10]], dtype=float)
    pred = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10], [50, 0, 10, 10]], dtype=float)
    scores = tracking_scores(pred, truth)  # the default: pysot's rule
    assert scores.success[0] == 0.25  # IoU > 0 in frame 0 only, out of 4 frames: absent frames fail
    # Frame 2's box (0, 0, 0, 5) has OTB centre (-0.5, 2): not positive, so pysot counts it a hit.
    assert math.isnan(scores.center_error[2])
    assert scores.precision_20 == 0.75  # frames 0, 1 (NaN), 2 (centre not positive) hit; frame 3 is 50 px off
    assert scores.precision[0] == 0.75


def _pysot_overlap_ratio(rect1: np.ndarray, rect2: np.ndarray) -> np.ndarray:
    left = np.maximum(rect1[:, 0], rect2[:, 0])
    right = np.minimum(rect1[:, 0] + rect1[:, 2], rect2[:, 0] + rect2[:, 2])
    top = np.maximum(rect1[:, 1], rect2[:, 1])
    bottom = np.minimum(rect1[:, 1] + rect1[:, 3], rect2[:, 1] + rect2[:, 3])
    intersect = np.maximum(0, right - left) * np.maximum(0, bottom - top)
    union = rect1[:, 2] * rect1[:, 3] + rect2[:, 2] * rect2[:, 3] - intersect
    return np.maximum(np.minimum(1, intersect / union), 0)


def _pysot_success(gt: np.ndarray, result: np.ndarray) -> np.ndarray:
    """pysot toolkit/utils/statistics.py success_overlap, written out again."""
    thresholds = np.arange(0, 1.05, 0.05)
    iou = np.ones(len(gt)) * (-1)
    with np.errstate(invalid="ignore"):
        mask = np.sum(gt[:, 2:] > 0, axis=1) == 2
    iou[mask] = _pysot_overlap_ratio(gt[mask], result[mask])
    return np.array([np.sum(iou > t) / float(len(gt)) for t in thresholds])


def _pysot_precision(gt: np.ndarray, result: np.ndarray) -> np.ndarray:
    """pysot's OPEBenchmark.eval_precision (convert_bb_to_center, success_error), written out again."""

    def centre(b: np.ndarray) -> np.ndarray:
        return np.array([b[:, 0] + (b[:, 2] - 1) / 2, b[:, 1] + (b[:, 3] - 1) / 2]).T

    gt_centre, result_centre = centre(gt), centre(result)
    dist = np.ones(len(gt)) * (-1)
    with np.errstate(invalid="ignore"):
        mask = np.sum(gt_centre > 0, axis=1) == 2
    dist[mask] = np.sqrt(np.sum(np.power(gt_centre[mask] - result_centre[mask], 2), axis=1))
    return np.array([np.sum(dist <= t) / float(len(gt)) for t in np.arange(0, 51, 1)])


def test_feature_toolkit_rule_equals_pysot_on_sequences_with_absent_frames() -> None:
    rng = np.random.default_rng(7)
    differs_from_skip = 0
    for _ in range(20):
        frames = int(rng.integers(5, 40))
        gt = np.concatenate([rng.uniform(-15, 80, (frames, 2)), rng.uniform(1, 40, (frames, 2))], axis=1)
        pred = gt + rng.normal(0, 12, gt.shape)
        pred[:, 2:] = np.abs(pred[:, 2:]) + 1
        gone = rng.random(frames) < 0.25
        gt[gone & (rng.random(frames) < 0.5)] = np.nan  # absent: NaN rows
        gt[gone & ~np.isnan(gt[:, 0])] = 0  # absent: OTB's all-zero rows
        scores = tracking_scores(pred, gt)
        assert scores.success == pytest.approx(_pysot_success(gt, pred), abs=0)
        assert scores.precision == pytest.approx(_pysot_precision(gt, pred), abs=0)
        assert scores.auc == pytest.approx(np.mean(_pysot_success(gt, pred)), abs=1e-15)
        differs_from_skip += not np.allclose(tracking_scores(pred, gt, absent="skip").success, scores.success)
    assert differs_from_skip > 10  # the sequences exercise the rule


def test_feature_success_curve_and_auc_known() -> None:
    ious = np.array([1.0, 0.52, 0.27, 0.0])
    expected = np.array([0.75] * 6 + [0.5] * 5 + [0.25] * 9 + [0.0])  # t = 0..0.25, 0.30..0.50, 0.55..0.95, 1
    assert success_curve(ious) == pytest.approx(expected)
    assert auc(success_curve(ious)) == pytest.approx((6 * 0.75 + 5 * 0.5 + 9 * 0.25) / 21)


def test_feature_success_is_strictly_above_the_threshold() -> None:
    curve = success_curve(np.array([0.5]))
    assert curve[SUCCESS_THRESHOLDS.tolist().index(0.5)] == 0.0
    assert auc(success_curve(np.ones(7))) == pytest.approx(20 / 21)  # OTB: no IoU exceeds 1


def test_feature_auc_of_a_known_curve() -> None:
    assert auc(np.linspace(1, 0, 21)) == pytest.approx(0.5)
    assert auc(np.array([1.0, 0.5, 0.0])) == pytest.approx(0.5)


def test_feature_precision_curve_and_at_20_pixels() -> None:
    errors = np.array([0.0, 10.0, 20.0, 20.5, 100.0, np.nan])
    assert precision_at(errors, 20, absent="skip") == pytest.approx(3 / 5)
    assert precision_at(errors, 20) == pytest.approx(4 / 6)  # toolkit: the NaN frame is a hit
    curve = precision_curve(errors, absent="skip")
    assert len(curve) == len(PRECISION_THRESHOLDS) == 51
    assert curve[0] == pytest.approx(1 / 5)
    assert curve[10] == pytest.approx(2 / 5)
    assert curve[20] == pytest.approx(3 / 5)
    assert curve[21] == pytest.approx(4 / 5)
    assert curve[50] == pytest.approx(4 / 5)


def test_cardinality_curves_without_ground_truth() -> None:
    assert np.isnan(success_curve(np.array([np.nan, np.nan]), absent="skip")).all()
    assert math.isnan(precision_at(np.array([np.nan]), absent="skip"))
    assert (success_curve(np.array([np.nan, np.nan])) == 0).all()  # toolkit: every absent frame fails...
    assert precision_at(np.array([np.nan])) == 1.0  # ...and every one hits
    assert absent_rule(f"tracker=csrt; {ABSENT_CONVENTIONS['toolkit']}") == "toolkit"
    assert absent_rule("tracker=csrt") == "skip"  # rows from before the rule was recorded


def test_exception_box_shapes() -> None:
    with pytest.raises(ValueError, match=r"\[T, 4\]"):
        box_iou(np.zeros((3, 3)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="2 predicted boxes but 3"):
        center_error(np.zeros((2, 4)), np.ones((3, 4)))
