"""Foreground and boundary-band PSNR against hand-computed cases; null rows for samples without masks."""

from __future__ import annotations

import math

import pytest
import torch

from vosvfi_core.errors import VosvfiError
from vosvfi_core.evaluation import INTERPOLATORS, METRICS, InterpolatorContext, MetricUnavailable, evaluate
from vosvfi_core.evaluation.object_metrics import boundary_band, disk


def _grid(rows: list[str]) -> torch.Tensor:
    return torch.tensor([[char == "#" for char in row] for row in rows])


def test_feature_psnr_foreground_hand_computed() -> None:
    truth = torch.zeros(3, 4, 4)
    output = truth.clone()
    mask = torch.zeros(1, 4, 4)
    mask[0, 1, 1] = mask[0, 2, 3] = 1.0
    output[0, 1, 1] = output[0, 2, 3] = 0.1  # red off by 0.1 at both mask pixels
    output[1, 2, 3] = 0.3  # green off by 0.3 at one
    output[:, 0, 0] = 0.9  # outside the mask: must not count
    mse = (0.1**2 + 0.1**2 + 0.3**2) / (2 * 3)  # 2 mask pixels x 3 channels
    metric = METRICS.build("psnr_foreground")
    assert metric.score(output, truth, {"mask1": mask}) == pytest.approx(-10 * math.log10(mse))
    assert metric.score(output, truth, {"mask1": mask.to(torch.uint8) * 255}) == pytest.approx(-10 * math.log10(mse))  # 0/255 masks too
    assert metric.needs == frozenset({"mask1"})


def test_feature_boundary_band_hand_computed() -> None:
    square = torch.zeros(8, 8, dtype=torch.bool)
    square[2:6, 2:6] = True
    # radius 1: the disk is the 4-neighbourhood cross, so the dilation misses the square's corners
    expected = _grid(["........", "..####..", ".######.", ".##..##.", ".##..##.", ".######.", "..####..", "........"])
    assert torch.equal(boundary_band(square, 1), expected)

    dot = torch.zeros(9, 9, dtype=torch.bool)
    dot[4, 4] = True
    assert int(boundary_band(dot, 2).sum()) == 13  # a Euclidean disk of radius 2 (a square would give 25)
    assert int(disk(2).sum()) == 13

    left_half = torch.zeros(8, 8, dtype=torch.bool)
    left_half[:, :4] = True
    assert torch.equal(boundary_band(left_half, 1), _grid(["...##..."] * 8))  # the frame's edge is no boundary
    assert torch.equal(boundary_band(left_half, 2), _grid(["..####.."] * 8))  # r pixels on each side


def test_feature_psnr_boundary_hand_computed() -> None:
    square = torch.zeros(1, 8, 8)
    square[0, 2:6, 2:6] = 1.0
    band = _grid(["........", "..####..", ".######.", ".##..##.", ".##..##.", ".######.", "..####..", "........"])
    truth = torch.full((3, 8, 8), 0.5)
    output = truth + 0.9 * (~band).float()  # far off outside the band (the square's centre and the corners)
    output[2] = torch.where(band, truth[2] + 0.2, output[2])  # blue off by 0.2 at each of the 28 band pixels
    mse = 28 * 0.2**2 / (28 * 3)
    metric = METRICS.build({"type": "psnr_boundary", "radius": 1})
    assert metric.name == "psnr_boundary_r1" and "r=1 px" in metric.convention and "Euclidean disk of radius 1" in metric.convention
    assert metric.score(output, truth, {"mask1": square}) == pytest.approx(-10 * math.log10(mse))  # 18.75 dB
    default = METRICS.build("psnr_boundary")
    assert default.name == "psnr_boundary" and "r=5 px" in default.convention


def test_exception_empty_regions_and_bad_radius() -> None:
    image = torch.rand(3, 8, 8)
    with pytest.raises(MetricUnavailable, match="mask1 is empty"):
        METRICS.build("psnr_foreground").score(image, image, {"mask1": torch.zeros(8, 8)})
    with pytest.raises(MetricUnavailable, match="no object boundary"):
        METRICS.build("psnr_boundary").score(image, image, {"mask1": torch.ones(8, 8)})  # the object fills the frame
    with pytest.raises(VosvfiError, match="psnr_boundary: radius"):
        METRICS.build({"type": "psnr_boundary", "radius": 0})


class _Triplets(torch.utils.data.Dataset):
    def __init__(self, with_masks: bool) -> None:
        self.with_masks = with_masks

    def __len__(self) -> int:
        return 2

    def __getitem__(self, index: int) -> dict:
        frames = torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(index))
        item = {"frame0": frames[0], "frame1": frames[1], "frame2": frames[2], "name": f"s{index}"}
        if self.with_masks:
            item["mask1"] = torch.zeros(1, 16, 16)
            item["mask1"][:, 4:12, 4:12] = 1
        return item


@pytest.mark.parametrize("with_masks", [True, False])
def test_cardinality_rows_with_and_without_masks(with_masks: bool) -> None:
    metrics = [METRICS.build("psnr_foreground"), METRICS.build({"type": "psnr_boundary", "radius": 2})]
    average = INTERPOLATORS.build("frame_average", InterpolatorContext(torch.device("cpu")))
    rows = evaluate(average, _Triplets(with_masks), metrics=metrics, dataset_name="toy", split="test")
    assert len(rows) == 2 * 2 and [row["metric"] for row in rows[:2]] == ["psnr_foreground", "psnr_boundary_r2"]
    if with_masks:
        assert all(math.isfinite(row["value"]) and row["note"] is None for row in rows)
    else:
        assert all(row["value"] is None and row["note"] == "the data set gives no mask1" for row in rows)
