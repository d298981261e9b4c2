"""The DAVIS J&F and tracking checks end to end on tiny synthetic DAVIS- and OTB-layout trees, and their plot."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import Tensor

from vosvfi_core.data.datasets import DavisSequences, TrackingSequences
from vosvfi_core.data.synthetic import write_davis_sequences, write_tracking_sequences
from vosvfi_core.downstream.davis_check import DAVIS_CHECK, davis_jf
from vosvfi_core.downstream.davis_measures import f_measure
from vosvfi_core.downstream.plots import plot_tracking_curves, tracking_curves
from vosvfi_core.downstream.registry import DOWNSTREAM_CHECKS, CheckContext
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


def _colour_propagator(frames: Sequence[Tensor], first_labels: Tensor, ids: Sequence[int]) -> list[Tensor]:
    """A deterministic stand-in for a VOS network: each pixel takes the label (background or object) whose frame-0 mean colour is nearest."""
    first = frames[0]
    labels = [0, *(k for k in ids if (first_labels == k).any())]
    colours = torch.stack([first[:, first_labels == k].mean(dim=1) for k in labels])[:, :, None, None]  # [L, 3, 1, 1]
    return [torch.tensor(labels)[((f[None] - colours) ** 2).sum(1).argmin(0)] for f in frames]


def _annotation_propagator(sequences: DavisSequences) -> Callable:
    """The perfect propagator: the annotations of the sequence whose first frame it is given."""
    truth = {seq.frame(0).numpy().tobytes(): [seq.labels(i) for i in range(len(seq))] for seq in sequences}

    def segment(frames: Sequence[Tensor], first_labels: Tensor, ids: Sequence[int]) -> list[Tensor]:
        return truth[frames[0].numpy().tobytes()]

    return segment


def _toolkit_iou(gt: np.ndarray, pred: np.ndarray) -> float:
    """davis2017-evaluation's db_eval_iou for one frame, no void."""
    gt, pred = gt.astype(bool), pred.astype(bool)
    union = np.sum(gt | pred)
    return 1.0 if np.isclose(union, 0) else float(np.sum(gt & pred) / union)


def _stored(frame: Tensor) -> Tensor:
    """A frame as an 8-bit video holds it, computed apart: clip, scale, round half to even."""
    return torch.from_numpy(np.rint(np.clip(frame.numpy(), 0, 1) * np.float32(255)).astype(np.float32) / 255)  # float32, as stored


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
    common = "propagator=colour; DAVIS 2017 semi-supervised: void=background; scored=rebuilt odd frames 1,3,.. (toolkit: 1..T-2); rebuilt frames=uint8"
    assert {row["convention"] for row in rows} == {f"{common}; objects=union", f"{common}; objects=each (toolkit)"}
    assert {row["dataset"] for row in rows} == {"synthetic_davis"}
    # 7 frames: frames 1, 3, 5 rebuilt and scored; the original has no PSNR rows.
    for model, per_frame in (("original", ["J", "F"]), ("frame_average", ["J", "F", "psnr_foreground"])):
        for number, seq in enumerate(davis):
            sample = f"seq{number:03d}"
            mine = [(r["frame"], r["metric"]) for r in rows if r["model"] == model and r["sample"] == sample]
            assert mine == [(f, m) for f in (1, 3, 5) for m in per_frame] + [(None, "J_mean"), (None, "F_mean"), (None, "JF_mean")]
            ids = range(1, int(seq.labels(0).max()) + 1)
            objects = sorted({r["sample"] for r in rows if r["model"] == model and r["sample"].startswith(f"{sample}_")})
            assert objects == [f"{sample}_{k}" for k in ids] and len(objects) >= 1
            for name in objects:
                mine = [(r["frame"], r["metric"]) for r in rows if r["model"] == model and r["sample"] == name]
                assert mine == [(f, m) for f in (1, 3, 5) for m in ("J_object", "F_object")] + [
                    (None, "J_object_mean"),
                    (None, "F_object_mean"),
                    (None, "JF_object_mean"),
                ]
    rows = davis_jf(davis, {"original": None}, _colour_propagator, propagator_name="colour", max_sequences=1)
    assert {row["sample"].split("_")[0] for row in rows} == {"seq000"}


def test_feature_davis_scores_against_the_right_annotations(davis: DavisSequences) -> None:
    rows = davis_jf(davis, {"original": None}, _annotation_propagator(davis), propagator_name="annotations")
    assert {row["value"] for row in rows} == {1.0}  # any off-by-one frame, or a swapped object id, would miss the moving objects


def test_feature_davis_values_match_independent_scoring(davis: DavisSequences) -> None:
    def weighted(frame0: Tensor, frame2: Tensor) -> Tensor:
        return 0.37 * frame0 + 0.63 * frame2  # no output falls on a rounding tie between two 8-bit levels

    rows = davis_jf(davis, {"frame_average": weighted}, _colour_propagator, propagator_name="colour", max_sequences=1)
    seq = davis[0]
    frames = [seq.frame(i) for i in range(len(seq))]
    for i in (1, 3, 5):
        frames[i] = _stored(weighted(frames[i - 1][None], frames[i + 1][None])[0])  # what reaches the propagator: 8 bits
    labels = _colour_propagator(frames, seq.labels(0), list(range(1, int(seq.labels(0).max()) + 1)))
    truth = [seq.labels(i).numpy() for i in range(len(seq))]
    values = _values(rows, "frame_average")
    j = [_toolkit_iou(truth[i] > 0, labels[i].numpy() > 0) for i in (1, 3, 5)]
    f = [f_measure(labels[i] > 0, seq.mask(i)) for i in (1, 3, 5)]
    assert [values[("seq000", i, "J")] for i in (1, 3, 5)] == pytest.approx(j)
    assert [values[("seq000", i, "F")] for i in (1, 3, 5)] == pytest.approx(f)
    assert values[("seq000", None, "JF_mean")] == pytest.approx((np.mean(j) + np.mean(f)) / 2)
    for k in range(1, int(truth[0].max()) + 1):
        j_k = [_toolkit_iou(truth[i] == k, labels[i].numpy() == k) for i in (1, 3, 5)]
        f_k = [f_measure(labels[i] == k, torch.from_numpy(truth[i] == k)) for i in (1, 3, 5)]
        assert [values[(f"seq000_{k}", i, "J_object")] for i in (1, 3, 5)] == pytest.approx(j_k)
        assert values[(f"seq000_{k}", None, "JF_object_mean")] == pytest.approx((np.mean(j_k) + np.mean(f_k)) / 2)
    mask = seq.mask(3)[0] > 0
    mse = ((frames[3] - seq.frame(3)) ** 2)[:, mask].double().mean().item()
    assert values[("seq000", 3, "psnr_foreground")] == pytest.approx(-10 * math.log10(mse))


def _with_void(davis_root: Path, target: Path) -> DavisSequences:
    """A copy of the tree whose frame-3 annotation of seq000 marks a band of background as void (255)."""
    import shutil

    shutil.copytree(davis_root, target)
    path = target / "DAVIS" / "Annotations" / "480p" / "seq000" / "00003.png"
    with Image.open(path) as image:
        palette, labels = image.getpalette(), np.array(image)
    band = labels == 0
    band[: HEIGHT // 2] = False
    labels[band] = 255
    void = Image.fromarray(labels, mode="P")
    void.putpalette(palette)
    void.save(path)
    return DavisSequences(target)


def test_feature_davis_void_pixels_are_background_as_in_the_toolkit(davis: DavisSequences, tmp_path: Path) -> None:
    voided = _with_void(Path(davis[0].frame_paths[0]).parents[4], tmp_path / "void")
    seq = voided[0]
    raw = seq.labels(3).numpy()
    assert (raw == 255).any()

    def claims_void(frames: Sequence[Tensor], first_labels: Tensor, ids: Sequence[int]) -> list[Tensor]:
        """The annotations, with the void band predicted as object 1."""
        return [torch.where(seq.labels(i) == 255, 1, seq.labels(i)) for i in range(len(frames))]

    rows = davis_jf(voided, {"original": None}, claims_void, propagator_name="voids", max_sequences=1)
    values = _values(rows, "original")
    truth = np.where(raw == 255, 0, raw)
    expected = _toolkit_iou(truth > 0, np.where(raw == 255, 1, raw) > 0)
    assert expected < 0.9  # the case exercises the rule: leaving void out would have scored 1
    assert values[("seq000", 3, "J")] == pytest.approx(expected)
    assert values[("seq000_1", 3, "J_object")] == pytest.approx(_toolkit_iou(truth == 1, np.where(raw == 255, 1, raw) == 1))


def test_feature_davis_2016_is_one_object_and_toolkit_frames_are_all_inner_frames(davis: DavisSequences) -> None:
    rows = davis_jf(davis, {"original": None}, _colour_propagator, propagator_name="colour", year="2016", scored="toolkit", max_sequences=1)
    assert {r["sample"] for r in rows} == {"seq000"}  # no per-object rows
    assert sorted({r["frame"] for r in rows if r["frame"] is not None}) == [1, 2, 3, 4, 5]
    assert all("DAVIS 2016" in r["convention"] and "scored=frames 1..T-2 (toolkit)" in r["convention"] for r in rows)


def test_exception_davis_propagator_returns_too_few_masks(davis: DavisSequences) -> None:
    with pytest.raises(VosvfiError, match=r"propagator short returned 2 masks for the 7 frames of seq000 \(original\)"):
        davis_jf(davis, {"original": None}, lambda frames, labels, ids: [labels, labels], propagator_name="short")


def test_feature_tracking_rebuilt_equal_to_original_scores_the_same(tracking_rows: list[dict]) -> None:
    rows = tracking_rows
    assert _values(rows, "original") == _values(rows, "oracle")
    assert {row["convention"] for row in rows} == {
        "tracker=csrt; absent truth=success miss, precision hit, all frames counted (pysot OTB); lost target=previous box held; rebuilt frames=uint8"
    }
    assert all(set(row) == ROW_KEYS and row["check"] == TRACKING_CHECK for row in rows)
    for model in ("original", "frame_average"):
        for sample in ("synth000", "synth001"):
            mine = [(r["frame"], r["metric"]) for r in rows if r["model"] == model and r["sample"] == sample]
            assert mine == [(f, m) for f in range(9) for m in ("iou", "center_error")] + [(None, "auc"), (None, "precision_20"), (None, "lost_frames")]
            iou = [r["value"] for r in rows if r["model"] == model and r["sample"] == sample and r["metric"] == "iou"]
            errors = [r["value"] for r in rows if r["model"] == model and r["sample"] == sample and r["metric"] == "center_error"]
            values = _values(rows, model)
            expected_auc = sum(sum(v > k / 20 for v in iou) / len(iou) for k in range(21)) / 21
            assert values[(sample, None, "auc")] == pytest.approx(expected_auc)
            assert values[(sample, None, "precision_20")] == pytest.approx(sum(e <= 20 for e in errors) / len(errors))
            assert iou[0] == 1.0  # frame 0 is the given box


def test_feature_tracking_counts_frames_without_truth_as_pysot(tmp_path: Path) -> None:
    root = write_tracking_sequences(tmp_path, count=1, frames=9, height=HEIGHT, width=WIDTH, seed=3)
    truth = root / "synth000" / "groundtruth_rect.txt"
    lines = truth.read_text().splitlines()
    lines[4], lines[6] = "NaN,NaN,NaN,NaN", "0,0,0,0"
    truth.write_text("\n".join(lines) + "\n")
    sequences = TrackingSequences(root)
    toolkit = _values(tracking_accuracy(sequences, {"original": None}, tracker="csrt"), "original")
    skip = _values(tracking_accuracy(sequences, {"original": None}, tracker="csrt", absent="skip"), "original")
    iou = [toolkit[("synth000", f, "iou")] for f in range(9)]
    assert math.isnan(iou[4]) and math.isnan(iou[6])
    present = [v for v in iou if not math.isnan(v)]
    # pysot: every frame in the denominator, absent frames fail every overlap threshold.
    assert toolkit[("synth000", None, "auc")] == pytest.approx(sum(sum(v > k / 20 for v in present) / 9 for k in range(21)) / 21)
    assert skip[("synth000", None, "auc")] == pytest.approx(sum(sum(v > k / 20 for v in present) / 7 for k in range(21)) / 21)
    errors = [toolkit[("synth000", f, "center_error")] for f in range(9)]
    assert toolkit[("synth000", None, "precision_20")] == pytest.approx((sum(e <= 20 for e in errors if not math.isnan(e)) + 2) / 9)
    assert tracking_curves(tracking_accuracy(sequences, {"original": None}, tracker="csrt"))["original"].auc == pytest.approx(
        toolkit[("synth000", None, "auc")]
    )


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


def test_smoke_davis_check_from_its_block_propagates_as_stcn_evaluates(davis: DavisSequences) -> None:
    root = Path(davis[0].frame_paths[0]).parents[4]
    check = DOWNSTREAM_CHECKS.build(
        {"type": DAVIS_CHECK, "dataset": "synthetic_davis", "propagator": "pixel_affinity", "max_sequences": 1}, CheckContext(torch.device("cpu"))
    )
    rows = check.run([], root)
    assert {r["model"] for r in rows} == {"original"}
    assert all(r["convention"].startswith("propagator=pixel_affinity; memory=first+every 5th, include_last=false, top-k 20; DAVIS 2017") for r in rows)
    means = {r["sample"]: r["value"] for r in rows if r["metric"] in ("JF_mean", "JF_object_mean")}
    assert "seq000" in means and any(name.startswith("seq000_") for name in means)
    assert all(0 < value <= 1 for value in means.values())
    with pytest.raises(ValueError, match="downstream check davis_jf: storage: Input should be 'float', 'uint8' or 'jpeg'"):
        DOWNSTREAM_CHECKS.check({"type": DAVIS_CHECK, "storage": "png"})
