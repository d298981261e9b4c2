"""The DAVIS J&F and tracking checks end to end on tiny synthetic DAVIS- and OTB-layout trees, and their plot."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from torch import Tensor

from vosvfi_core.data.datasets import DavisSequences, TrackingSequences
from vosvfi_core.data.synthetic import write_davis_sequences, write_tracking_sequences
from vosvfi_core.downstream.davis_check import DAVIS_CHECK, davis_jf
from vosvfi_core.downstream.davis_measures import f_measure, j_measure
from vosvfi_core.downstream.plots import plot_tracking_curves, tracking_curves
from vosvfi_core.downstream.tracking_check import TRACKING_CHECK, tracking_accuracy
from vosvfi_core.errors import VosvfiError

HEIGHT, WIDTH = 48, 64
ROW_KEYS = {"model", "dataset", "sample", "frame", "check", "metric", "value", "convention"}


@pytest.fixture(scope="module")
def davis(tmp_path_factory: pytest.TempPathFactory) -> DavisSequences:
    root = write_davis_sequences(tmp_path_factory.mktemp("davis"), count=2, frames=7, height=HEIGHT, width=WIDTH, seed=3)
    return DavisSequences(root)


@pytest.fixture(scope="module")
def tracking(tmp_path_factory: pytest.TempPathFactory) -> TrackingSequences:
    root = write_tracking_sequences(tmp_path_factory.mktemp("tracking"), count=2, frames=9, height=HEIGHT, width=WIDTH, seed=3)
    return TrackingSequences(root)


@pytest.fixture(scope="module")
def tracking_rows(tracking: TrackingSequences) -> list[dict]:
    return tracking_accuracy(tracking, {"original": None, "oracle": _oracle(tracking), "frame_average": _average}, tracker="csrt")


def _oracle(sequences: Sequence) -> Callable:
    """An interpolator that returns the true middle frame, found by its two neighbours' pixels."""
    middles = {}
    for seq in sequences:
        for index in range(1, len(seq) - 1):
            middles[(seq.frame(index - 1).numpy().tobytes(), seq.frame(index + 1).numpy().tobytes())] = seq.frame(index)

    def interpolate(frame0: Tensor, frame2: Tensor) -> Tensor:
        return middles[(frame0[0].numpy().tobytes(), frame2[0].numpy().tobytes())][None].clone()

    return interpolate


def _average(frame0: Tensor, frame2: Tensor) -> Tensor:
    return (frame0 + frame2) / 2


def _colour_propagator(frames: Sequence[Tensor], first_mask: Tensor) -> list[Tensor]:
    """A deterministic stand-in for a VOS network: each pixel goes to the nearer of frame 0's object and background mean colours."""
    first = frames[0]
    object_colour = first[:, first_mask].mean(dim=1)[:, None, None]
    background_colour = first[:, ~first_mask].mean(dim=1)[:, None, None]
    return [((f - object_colour) ** 2).sum(0) < ((f - background_colour) ** 2).sum(0) for f in frames]


def _annotation_propagator(sequences: DavisSequences) -> Callable:
    """The perfect propagator: the annotations of the sequence whose first frame it is given."""
    truth = {seq.frame(0).numpy().tobytes(): [seq.mask(i)[0] > 0 for i in range(len(seq))] for seq in sequences}

    def segment(frames: Sequence[Tensor], first_mask: Tensor) -> list[Tensor]:
        return truth[frames[0].numpy().tobytes()]

    return segment


def _values(rows: list[dict], model: str) -> dict[tuple, float]:
    return {(r["sample"], r["frame"], r["metric"]): r["value"] for r in rows if r["model"] == model}


def test_feature_davis_rebuilt_equal_to_original_scores_the_same(davis: DavisSequences) -> None:
    interpolators = {"original": None, "oracle": _oracle(davis), "frame_average": _average}
    rows = davis_jf(davis, interpolators, _colour_propagator, propagator_name="colour")
    original, oracle = _values(rows, "original"), _values(rows, "oracle")
    assert original == {key: value for key, value in oracle.items() if key[2] != "psnr_foreground"}
    assert all(value == math.inf for key, value in oracle.items() if key[2] == "psnr_foreground")
    assert 0 < original[("seq000", None, "JF_mean")] < 1  # the colour propagator is imperfect, so the equality means something
    average = _values(rows, "frame_average")
    assert all(math.isfinite(value) for key, value in average.items() if key[2] == "psnr_foreground")


def test_cardinality_davis_rows(davis: DavisSequences) -> None:
    rows = davis_jf(davis, {"original": None, "frame_average": _average}, _colour_propagator, propagator_name="colour", dataset="synthetic_davis")
    assert all(set(row) == ROW_KEYS for row in rows)
    assert {row["check"] for row in rows} == {DAVIS_CHECK}
    assert {row["convention"] for row in rows} == {"propagator=colour"}
    assert {row["dataset"] for row in rows} == {"synthetic_davis"}
    # 7 frames: frames 1, 3, 5 rebuilt and scored; the original has no PSNR rows.
    for model, per_frame in (("original", ["J", "F"]), ("frame_average", ["J", "F", "psnr_foreground"])):
        for sample in ("seq000", "seq001"):
            mine = [(r["frame"], r["metric"]) for r in rows if r["model"] == model and r["sample"] == sample]
            assert mine == [(f, m) for f in (1, 3, 5) for m in per_frame] + [(None, "J_mean"), (None, "F_mean"), (None, "JF_mean")]
    rows = davis_jf(davis, {"original": None}, _colour_propagator, propagator_name="colour", max_sequences=1)
    assert {row["sample"] for row in rows} == {"seq000"}


def test_feature_davis_scores_against_the_right_annotations(davis: DavisSequences) -> None:
    rows = davis_jf(davis, {"original": None}, _annotation_propagator(davis), propagator_name="annotations")
    assert {row["value"] for row in rows} == {1.0}  # any off-by-one frame would miss the moving objects


def test_feature_davis_values_match_independent_scoring(davis: DavisSequences) -> None:
    rows = davis_jf(davis, {"frame_average": _average}, _colour_propagator, propagator_name="colour", max_sequences=1)
    seq = davis[0]
    frames = [seq.frame(i) for i in range(len(seq))]
    for i in (1, 3, 5):
        frames[i] = _average(frames[i - 1][None], frames[i + 1][None])[0]
    masks = _colour_propagator(frames, seq.mask(0)[0] > 0)
    values = _values(rows, "frame_average")
    j = [j_measure(masks[i], seq.mask(i)) for i in (1, 3, 5)]
    f = [f_measure(masks[i], seq.mask(i)) for i in (1, 3, 5)]
    assert [values[("seq000", i, "J")] for i in (1, 3, 5)] == pytest.approx(j)
    assert [values[("seq000", i, "F")] for i in (1, 3, 5)] == pytest.approx(f)
    assert values[("seq000", None, "JF_mean")] == pytest.approx((np.mean(j) + np.mean(f)) / 2)
    mask = seq.mask(3)[0] > 0
    mse = ((frames[3] - seq.frame(3)) ** 2)[:, mask].double().mean().item()
    assert values[("seq000", 3, "psnr_foreground")] == pytest.approx(-10 * math.log10(mse))


def test_exception_davis_propagator_returns_too_few_masks(davis: DavisSequences) -> None:
    with pytest.raises(VosvfiError, match=r"propagator short returned 2 masks for the 7 frames of seq000 \(original\)"):
        davis_jf(davis, {"original": None}, lambda frames, mask: [mask, mask], propagator_name="short")


def test_feature_tracking_rebuilt_equal_to_original_scores_the_same(tracking_rows: list[dict]) -> None:
    rows = tracking_rows
    assert _values(rows, "original") == _values(rows, "oracle")
    assert {row["convention"] for row in rows} == {"tracker=csrt"}
    assert all(set(row) == ROW_KEYS and row["check"] == TRACKING_CHECK for row in rows)
    for model in ("original", "frame_average"):
        for sample in ("synth000", "synth001"):
            mine = [(r["frame"], r["metric"]) for r in rows if r["model"] == model and r["sample"] == sample]
            assert mine == [(f, m) for f in range(9) for m in ("iou", "center_error")] + [(None, "auc"), (None, "precision_20")]
            iou = [r["value"] for r in rows if r["model"] == model and r["sample"] == sample and r["metric"] == "iou"]
            errors = [r["value"] for r in rows if r["model"] == model and r["sample"] == sample and r["metric"] == "center_error"]
            values = _values(rows, model)
            expected_auc = sum(sum(v > k / 20 for v in iou) / len(iou) for k in range(21)) / 21
            assert values[(sample, None, "auc")] == pytest.approx(expected_auc)
            assert values[(sample, None, "precision_20")] == pytest.approx(sum(e <= 20 for e in errors) / len(errors))
            assert iou[0] == 1.0  # frame 0 is the given box


def test_exception_tracking_without_a_first_box(tmp_path: Path) -> None:
    root = write_tracking_sequences(tmp_path, count=1, frames=3, height=HEIGHT, width=WIDTH, seed=0)
    truth = root / "synth000" / "groundtruth_rect.txt"
    lines = truth.read_text().splitlines()
    truth.write_text("\n".join(["NaN,NaN,NaN,NaN", *lines[1:]]) + "\n")
    with pytest.raises(VosvfiError, match="synth000: no ground-truth box in the first frame"):
        tracking_accuracy(TrackingSequences(root), {"original": None})


def test_feature_plot_is_written_as_png(tracking_rows: list[dict], tmp_path: Path) -> None:
    rows = tracking_rows
    curves = tracking_curves(rows)
    assert list(curves) == ["original", "oracle", "frame_average"]
    for model, curve in curves.items():
        aucs = [r["value"] for r in rows if r["model"] == model and r["metric"] == "auc"]
        precisions = [r["value"] for r in rows if r["model"] == model and r["metric"] == "precision_20"]
        assert curve.sequences == 2
        assert curve.auc == pytest.approx(np.mean(aucs))  # the mean curve's AUC is the mean of the sequences' AUCs
        assert curve.precision_20 == pytest.approx(np.mean(precisions))
    target = plot_tracking_curves(rows, tmp_path / "plots" / "tracking.png", title="synthetic")
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(target) as image:
        image.verify()
    assert [p.name for p in target.parent.iterdir()] == ["tracking.png"]  # no temporary file left beside it


def test_exception_plot_without_tracking_rows(tmp_path: Path) -> None:
    with pytest.raises(VosvfiError, match="no tracking_accuracy rows"):
        plot_tracking_curves([{"check": DAVIS_CHECK, "metric": "J", "model": "m", "dataset": "d", "sample": "s", "value": 1.0}], tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_feature_plot_reads_a_dataframe(tracking: TrackingSequences, tmp_path: Path) -> None:
    pandas = pytest.importorskip("pandas")
    rows = tracking_accuracy(tracking, {"original": None}, tracker="kcf", max_sequences=1)
    frame = pandas.DataFrame(rows)
    assert tracking_curves(frame)["original"].auc == pytest.approx(tracking_curves(rows)["original"].auc)
