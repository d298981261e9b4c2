"""Per-sample motion and occlusion on known translations; motion bins; the stratified summary of a hand-made table."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from vosvfi_core.errors import VosvfiError
from vosvfi_core.evaluation.strata import motion_bin, motion_bin_labels, sample_motion, stratified_summary


def _texture(seed: int, size: int = 80) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return F.interpolate(torch.rand(1, 3, 16, 16, generator=generator), size=(size, size), mode="bicubic", align_corners=False)[0].clamp(0, 1)


@pytest.mark.parametrize(("dx", "dy"), [(4, 0), (0, 4), (-3, 4)])
def test_feature_motion_of_a_translation(dx: int, dy: int) -> None:
    texture = _texture(0)
    frame0 = texture[:, 8:72, 8:72]
    frame2 = texture[:, 8 - dy : 72 - dy, 8 - dx : 72 - dx]  # the content moves by (dx, dy)
    strata = sample_motion(frame0, frame2)
    assert strata["motion_px"] == pytest.approx(math.hypot(dx, dy), abs=0.25)
    # the content leaving the frame: |dx| columns and |dy| rows of 64, in each direction
    leaving = 1 - (64 - abs(dx)) * (64 - abs(dy)) / 64**2
    assert leaving - 0.01 < strata["occluded_fraction"] < leaving + 0.06
    assert sample_motion(frame2, frame0) == pytest.approx(strata)  # symmetric in the two frames


def test_feature_still_frames_have_no_motion() -> None:
    frame = _texture(1)[:, :64, :64]
    assert sample_motion(frame, frame) == {"motion_px": 0.0, "occluded_fraction": 0.0}


def test_feature_motion_bins() -> None:
    assert motion_bin_labels() == ["0-2px", "2-5px", "5-10px", "10-20px", ">=20px"]
    assert [motion_bin(value) for value in (0, 1.99, 2, 4.2, 10, 19.5, 20, 1e6)] == [
        "0-2px",
        "0-2px",
        "2-5px",
        "2-5px",
        "10-20px",
        "10-20px",
        ">=20px",
        ">=20px",
    ]
    assert motion_bin(3.0, edges=(0, 2.5, 8)) == "2.5-8px"
    for bad in (-0.1, math.nan):
        with pytest.raises(ValueError, match="outside the bins"):
            motion_bin(bad)
    with pytest.raises(ValueError, match="increasing"):
        motion_bin(1, edges=(0, 5, 5))


def _row(model: str, sample: str, metric: str, value: float | None, dataset: str = "toy") -> dict:
    return {
        "run_id": "r",
        "model": model,
        "dataset": dataset,
        "split": "test",
        "sample": sample,
        "protocol": "float",
        "metric": metric,
        "value": value,
        "convention": "c",
        "note": None,
    }


def test_feature_stratified_summary_of_a_hand_made_table() -> None:
    strata = pd.DataFrame(
        [
            {"dataset": "toy", "sample": "a", "motion_px": 1.0, "occluded_fraction": 0.0},
            {"dataset": "toy", "sample": "b", "motion_px": 3.0, "occluded_fraction": 0.1},
            {"dataset": "toy", "sample": "c", "motion_px": 4.0, "occluded_fraction": 0.3},
            {"dataset": "toy", "sample": "d", "motion_px": 25.0, "occluded_fraction": 0.5},
            {"dataset": "other", "sample": "a", "motion_px": 12.0, "occluded_fraction": 0.2},  # same sample name, another data set
        ]
    )
    rows = [
        _row("m", "a", "psnr", 30.0),
        _row("m", "b", "psnr", 20.0),
        _row("m", "c", "psnr", 26.0),
        _row("m", "d", "psnr", 10.0),
        _row("m", "b", "lpips", None),  # a null value counts in no mean
        _row("m", "c", "lpips", 0.4),
        _row("avg", "c", "psnr", 18.0),
        _row("m", "a", "psnr", 15.0, dataset="other"),
    ]
    summary = stratified_summary(pd.DataFrame(rows), strata)
    compact = [(s["model"], s["dataset"], s["metric"], s["motion_bin"], s["samples"], s["mean"], s["motion_px"], s["occluded_fraction"]) for s in summary]
    assert compact == [
        ("avg", "toy", "psnr", "2-5px", 1, 18.0, 4.0, 0.3),
        ("m", "other", "psnr", "10-20px", 1, 15.0, 12.0, 0.2),
        ("m", "toy", "lpips", "2-5px", 1, 0.4, 4.0, 0.3),
        ("m", "toy", "psnr", "0-2px", 1, 30.0, 1.0, 0.0),
        ("m", "toy", "psnr", "2-5px", 2, 23.0, 3.5, pytest.approx(0.2)),
        ("m", "toy", "psnr", ">=20px", 1, 10.0, 25.0, 0.5),
    ]
    assert all(s["protocol"] == "float" and isinstance(s["samples"], int) for s in summary)


def test_exception_stratified_summary_needs_every_sample() -> None:
    strata = pd.DataFrame([{"dataset": "toy", "sample": "a", "motion_px": 1.0, "occluded_fraction": 0.0}])
    with pytest.raises(VosvfiError, match="no motion for sample 'b' of 'toy'"):
        stratified_summary(pd.DataFrame([_row("m", "a", "psnr", 1.0), _row("m", "b", "psnr", 2.0)]), strata)
    with pytest.raises(VosvfiError, match="appears more than once"):
        stratified_summary(pd.DataFrame([_row("m", "a", "psnr", 1.0)]), pd.concat([strata, strata]))
    with pytest.raises(VosvfiError, match="missing column"):
        stratified_summary(pd.DataFrame([_row("m", "a", "psnr", 1.0)]), strata.drop(columns="occluded_fraction"))
