"""DAVIS J and F against hand-computed cases and a per-pixel reading of the toolkit's boundary definition."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vosvfi_core.downstream.davis_measures import (
    boundary_map,
    boundary_tolerance,
    f_measure,
    j_measure,
    object_ids,
    semi_supervised_frames,
    semi_supervised_labels,
    sequence_scores,
)


def _square(height: int, width: int, top: int, left: int, size: int) -> np.ndarray:
    mask = np.zeros((height, width), dtype=bool)
    mask[top : top + size, left : left + size] = True
    return mask


def test_feature_j_known_masks() -> None:
    a = _square(40, 40, 10, 10, 10)
    b = _square(40, 40, 10, 15, 10)  # overlap 10x5 = 50, union 150
    assert j_measure(a, b) == pytest.approx(1 / 3)
    assert j_measure(a, a) == 1.0
    assert j_measure(a, _square(40, 40, 25, 25, 5)) == 0.0
    empty = np.zeros((40, 40), dtype=bool)
    assert j_measure(empty, empty) == 1.0  # as the DAVIS toolkit: nothing to find, nothing found
    assert j_measure(empty, a) == 0.0


def test_feature_j_leaves_out_void_pixels() -> None:
    a = _square(40, 40, 10, 10, 10)
    b = _square(40, 40, 10, 15, 10)
    void = b & ~a  # b's 50 pixels outside a: union drops to 100, intersection stays 50
    assert j_measure(a, b, void) == pytest.approx(0.5)


def test_feature_j_accepts_tensors_and_float_masks() -> None:
    a = _square(20, 20, 2, 2, 6)
    b = _square(20, 20, 4, 2, 6)  # overlap 4x6 = 24, union 48
    assert j_measure(torch.from_numpy(a), torch.from_numpy(b).float()[None]) == pytest.approx(0.5)


def _toolkit_iou(gt: np.ndarray, pred: np.ndarray) -> float:
    """davis2017-evaluation metrics.db_eval_iou for one frame, no void: both cast to bool first."""
    gt, pred = gt.astype(bool), pred.astype(bool)
    union = np.sum(gt | pred)
    return 1.0 if np.isclose(union, 0) else float(np.sum(gt & pred) / union)


def test_feature_masks_are_cast_to_bool_as_the_toolkit_does() -> None:
    truth = _square(20, 20, 2, 2, 8)
    pred = np.zeros((20, 20), dtype=np.int64)
    pred[4:12, 2:10] = 255
    pred[0, 0:4] = -1  # any non-zero value is foreground (a `> 0` reading dropped these)
    assert j_measure(pred, truth) == pytest.approx(_toolkit_iou(truth, pred))
    assert j_measure(pred, truth) != pytest.approx(j_measure(pred > 0, truth))
    assert j_measure(torch.from_numpy(pred.astype(np.float32)).clamp(0, 1), truth) == pytest.approx(_toolkit_iou(truth, pred.clip(0, 1)))


def test_exception_soft_float_masks_are_refused() -> None:
    truth = _square(20, 20, 2, 2, 8)
    soft = truth * 0.3  # a threshold at 0.5 read this as empty; the toolkit's bool cast as the square
    with pytest.raises(ValueError, match="prediction: a float mask must hold only 0 and 1"):
        j_measure(soft, truth)
    with pytest.raises(ValueError, match="annotation: a float mask"):
        f_measure(truth, np.full((20, 20), np.nan))


def _toolkit_object_masks(frames: list[np.ndarray], year: str) -> np.ndarray:
    """davis2016-evaluation's DAVIS.get_all_masks (the 2016/2017 fork STCN's author keeps), written out again."""
    masks = np.stack(frames).astype(np.float64)
    masks[masks == 255] = 0
    if year == "2016":
        return (masks > 0)[None]
    num_objects = int(np.max(masks[0, ...]))
    tmp = np.ones((num_objects, *masks.shape)) * np.arange(1, num_objects + 1)[:, None, None, None]
    return (tmp == masks[None, ...]) > 0


@pytest.mark.parametrize("year", ["2016", "2017"])
def test_feature_semi_supervised_labels_follow_the_toolkit(year: str) -> None:
    rng = np.random.default_rng(3)
    frames = [rng.choice([0, 1, 3, 255], size=(12, 16), p=[0.4, 0.25, 0.25, 0.1]).astype(np.uint8) for _ in range(3)]
    expected = _toolkit_object_masks(frames, year)
    labels = [semi_supervised_labels(f, year) for f in frames]
    ids = object_ids(labels[0])
    assert len(ids) == expected.shape[0]
    assert ids == ([1] if year == "2016" else [1, 2, 3])  # 2017: 1..max of the first frame, the absent id 2 included
    for k, object_masks in zip(ids, expected):
        for frame, mask in zip(labels, object_masks):
            assert np.array_equal(frame == k, mask)
    assert not any((f == 255).any() for f in labels)  # void is background, not an object nor left out


def test_feature_boundary_of_a_square_is_the_ring_shifted_towards_the_origin() -> None:
    # A square [r0, r0+s) x [c0, c0+s) has the ring from (r0-1, c0-1) to (r0+s-1, c0+s-1) as its boundary: 4s pixels.
    mask = _square(30, 30, 10, 12, 6)
    expected = np.zeros_like(mask)
    expected[9:16, 11:18] = True
    expected[10:15, 12:17] = False
    assert np.array_equal(boundary_map(mask), expected)
    assert boundary_map(mask).sum() == 4 * 6


def test_feature_boundary_ignores_the_image_border() -> None:
    mask = np.zeros((8, 10), dtype=bool)
    mask[:, :5] = True  # the left half: only the column where it ends is a boundary, not the image edges
    expected = np.zeros_like(mask)
    expected[:, 4] = True
    assert np.array_equal(boundary_map(mask), expected)
    assert not boundary_map(np.ones((8, 10), dtype=bool)).any()


def _boundary_by_pixel(mask: np.ndarray) -> np.ndarray:
    """The toolkit's rule read pixel by pixel: differs from its east, south or south-east neighbour inside the image."""
    height, width = mask.shape
    out = np.zeros_like(mask)
    for y in range(height):
        for x in range(width):
            if y == height - 1 and x == width - 1:
                continue
            if y == height - 1:
                neighbours = [mask[y, x + 1]]
            elif x == width - 1:
                neighbours = [mask[y + 1, x]]
            else:
                neighbours = [mask[y, x + 1], mask[y + 1, x], mask[y + 1, x + 1]]
            out[y, x] = any(mask[y, x] != n for n in neighbours)
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_feature_boundary_matches_per_pixel_definition(seed: int) -> None:
    mask = np.random.default_rng(seed).random((13, 17)) > 0.6
    assert np.array_equal(boundary_map(mask), _boundary_by_pixel(mask))


def test_feature_boundary_tolerance() -> None:
    assert boundary_tolerance(300, 300) == 4  # 0.008 * 424.26 = 3.39
    assert boundary_tolerance(480, 854) == 8  # DAVIS 480p: 0.008 * 979.65 = 7.84
    assert boundary_tolerance(48, 64) == 1  # 0.008 * 80 = 0.64
    assert boundary_tolerance(48, 64, bound_th=3) == 3  # >= 1 is a radius in pixels


SIZE, SIDE, TOP, LEFT = 300, 40, 100, 100  # tolerance 4 px


@pytest.mark.parametrize("shift", [(1, 0), (3, 0), (4, 0), (0, 4), (-4, 0), (0, -2)])
def test_feature_f_is_one_within_the_tolerance(shift: tuple[int, int]) -> None:
    dx, dy = shift
    truth = _square(SIZE, SIZE, TOP, LEFT, SIDE)
    pred = _square(SIZE, SIZE, TOP + dy, LEFT + dx, SIDE)
    assert j_measure(pred, truth) < 1
    assert f_measure(pred, truth) == 1.0


@pytest.mark.parametrize("direction", [(1, 0), (-1, 0), (0, 1), (0, -1)])
@pytest.mark.parametrize("over", [1, 2])
def test_feature_f_beyond_the_tolerance(direction: tuple[int, int], over: int) -> None:
    # Shift d = R + over along one axis (R = 4). Of the shifted ring's 4s pixels, matched are: on each of
    # the two edges across the shift the s+1-d pixels lying on the truth's edge plus the R protruding
    # ones within reach of its corner; on the trailing edge the pixels within R rows of either end (2R);
    # none on the leading edge (d away). Precision = (2(s+1-d+R) + 2R) / 4s, and recall is the same by symmetry.
    radius = 4
    d = radius + over
    truth = _square(SIZE, SIZE, TOP, LEFT, SIDE)
    pred = _square(SIZE, SIZE, TOP + direction[1] * d, LEFT + direction[0] * d, SIDE)
    expected = (2 * (SIDE + 1 - d + radius) + 2 * radius) / (4 * SIDE)  # 88/160 for d = 5, 86/160 for d = 6
    assert f_measure(pred, truth) == pytest.approx(expected, abs=1e-12)
    assert f_measure(truth, pred) == pytest.approx(expected, abs=1e-12)


def test_feature_f_empty_boundaries() -> None:
    empty = np.zeros((20, 20), dtype=bool)
    square = _square(20, 20, 5, 5, 5)
    assert f_measure(empty, empty) == 1.0
    assert f_measure(empty, square) == 0.0
    assert f_measure(square, empty) == 0.0


def test_feature_f_void_pixels_removed_from_both_masks() -> None:
    truth = _square(300, 300, 100, 100, 40)
    pred = _square(300, 300, 100, 100, 40) | _square(300, 300, 200, 200, 20)  # a spurious blob far away
    assert f_measure(pred, truth) < 1
    void = _square(300, 300, 195, 195, 30)
    assert f_measure(pred, truth, void) == 1.0


def test_feature_sequence_scores_leave_out_first_and_last() -> None:
    truth = [_square(40, 40, 10, 10, 10)] * 5
    pred = [_square(40, 40, 10, 10 + k, 10) for k in (0, 5, 0, 5, 9)]  # J: -, 1/3, 1, 1/3, -
    scores = sequence_scores(pred, truth)
    assert scores.frames == (1, 2, 3) == tuple(semi_supervised_frames(5))
    assert scores.j == pytest.approx((1 / 3, 1.0, 1 / 3))
    assert scores.j_mean == pytest.approx(5 / 9)
    assert scores.f == tuple(f_measure(pred[i], truth[i]) for i in (1, 2, 3))
    assert scores.f_mean == pytest.approx(np.mean(scores.f))
    assert scores.jf_mean == pytest.approx((scores.j_mean + scores.f_mean) / 2)


def test_feature_sequence_scores_on_chosen_frames() -> None:
    truth = [_square(40, 40, 10, 10, 10), None, _square(40, 40, 10, 10, 10), None, None]
    pred = [_square(40, 40, 10, 12, 10)] * 5
    scores = sequence_scores(pred, truth, frames=[0, 2, 4])  # 0 and 4 are first and last: left out
    assert scores.frames == (2,)
    assert scores.j == pytest.approx((80 / 120,))


def test_cardinality_sequence_scores_of_two_frames_is_empty() -> None:
    mask = _square(10, 10, 2, 2, 3)
    scores = sequence_scores([mask, mask], [mask, mask])
    assert scores.frames == () and math.isnan(scores.j_mean)


def test_exception_mask_sizes_differ() -> None:
    with pytest.raises(ValueError, match="differ in size"):
        j_measure(np.zeros((10, 10), bool), np.zeros((10, 12), bool))
    with pytest.raises(ValueError, match="annotation"):
        f_measure(np.zeros((10, 10), bool), np.zeros((2, 10, 10), bool))
    with pytest.raises(ValueError, match="no annotation"):
        sequence_scores([np.zeros((4, 4), bool)] * 3, [None] * 3)
