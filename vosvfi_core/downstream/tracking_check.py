"""The tracking downstream check: does a classical tracker still follow the target through a rebuilt video?

For each sequence the odd frames are rebuilt by each interpolator (``None`` stands for the
original video); the tracker starts from the first ground-truth box and runs over the whole
video, and its boxes are scored as OTB's one-pass evaluation does, over every frame (the rebuilt
frames and the untouched even frames alike: drift caused by a rebuilt frame shows in the frames
after it). Frames without a usable ground-truth box count as pysot's statistics count them
(:mod:`~vosvfi_core.downstream.tracking_measures`: a miss for success, a hit for precision,
every frame in the denominator) unless ``absent="skip"``. The rebuilt frames reach the tracker
as a video file would hold them (8-bit, or re-encoded as JPEG: ``storage``); where OpenCV reports
the target lost, the previous box is held and the frame counts in ``lost_frames``. Every row's
``convention`` says all of this.

The success and precision curves are not stored: they follow from the per-frame ``iou`` and
``center_error`` rows (:func:`vosvfi_core.downstream.plots.tracking_curves`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field, PositiveInt

from vosvfi_core.data.datasets import TrackingSequences
from vosvfi_core.data.sets import data_set
from vosvfi_core.downstream.rebuild import JPEG_QUALITY, FrameInterpolator, FrameStorage, lazy_frames, rebuild_sequence, storage_convention
from vosvfi_core.downstream.registry import DOWNSTREAM_CHECKS, CheckContext, DownstreamCheck, downstream_row, with_original
from vosvfi_core.downstream.trackers import LOST_RULE, Tracker, build_tracker
from vosvfi_core.downstream.tracking_measures import ABSENT_CONVENTIONS, TRACKING_CHECK, AbsentFrames, tracking_scores, valid_boxes
from vosvfi_core.errors import VosvfiError
from vosvfi_core.evaluation.interpolators import Interpolator
from vosvfi_core.registry import Block

__all__ = ["TRACKING_CHECK", "tracking_accuracy", "tracking_check"]

_row = functools.partial(downstream_row, TRACKING_CHECK)


def tracking_accuracy(
    sequences: TrackingSequences,
    interpolators: Mapping[str, FrameInterpolator | None],
    *,
    tracker: str | Block | Mapping[str, Any] | Tracker = "csrt",
    dataset: str = "tracking",
    max_sequences: int | None = None,
    absent: AbsentFrames = "toolkit",
    storage: FrameStorage = "uint8",
    jpeg_quality: int = JPEG_QUALITY,
    progress: Callable[[int, int], None] | None = None,
) -> list[dict[str, Any]]:
    """Rows of the ``tracking_accuracy`` check (``downstream_results`` without run_id) for every sequence and model.

    ``tracker`` is a registry name or block (``"csrt"``, ``{type: kcf}``) or a tracker callable.
    Per frame: ``iou`` and ``center_error`` (pixels; NaN where the ground truth does not count);
    per sequence (``frame`` None): ``auc`` (mean of the success curve), ``precision_20`` and
    ``lost_frames`` (frames where the tracker reported the target lost; 0 for a tracker that never
    says). Every row carries ``convention = "tracker=<name>; <absent rule>; <lost rule>; <storage>"``.
    """
    if callable(tracker):
        run, tracker_name = tracker, getattr(tracker, "name", type(tracker).__name__)
    else:
        run = build_tracker(tracker)
        tracker_name = getattr(run, "name", str(tracker))
    if absent not in ABSENT_CONVENTIONS:
        raise VosvfiError(f"tracking check: absent must be one of {sorted(ABSENT_CONVENTIONS)}, got {absent!r}")
    convention = "; ".join([f"tracker={tracker_name}", ABSENT_CONVENTIONS[absent], LOST_RULE, storage_convention(storage, jpeg_quality)])
    track = getattr(run, "track", None)
    count = len(sequences) if not max_sequences else min(len(sequences), max_sequences)
    rows: list[dict[str, Any]] = []
    for number in range(count):
        seq = sequences[number]
        truth = seq.boxes.numpy()
        if not valid_boxes(truth[:1])[0]:
            raise VosvfiError(f"tracking sequence {seq.name}: no ground-truth box in the first frame to start the tracker from")
        original = lazy_frames(seq)
        for model, interpolator in interpolators.items():
            frames = original if interpolator is None else rebuild_sequence(original, interpolator, storage=storage, jpeg_quality=jpeg_quality)
            if track is not None:
                result = track(frames, truth[0])
                boxes, lost = result.boxes, int(np.count_nonzero(result.lost))
            else:
                boxes, lost = run(frames, truth[0]), 0
            scores = tracking_scores(boxes, truth, absent=absent)
            for index in range(len(truth)):  # every frame: the curves are rebuilt from these rows (plots.tracking_curves)
                rows.append(_row(model, dataset, seq.name, index, "iou", scores.iou[index], convention))
                rows.append(_row(model, dataset, seq.name, index, "center_error", scores.center_error[index], convention))
            rows.append(_row(model, dataset, seq.name, None, "auc", scores.auc, convention))
            rows.append(_row(model, dataset, seq.name, None, "precision_20", scores.precision_20, convention))
            rows.append(_row(model, dataset, seq.name, None, "lost_frames", lost, convention))
        if progress is not None:
            progress(number + 1, count)
    return rows


@DOWNSTREAM_CHECKS.register(TRACKING_CHECK)
def tracking_check(
    context: CheckContext,
    *,
    dataset: str = "synthetic_tracking",
    tracker: str = "csrt",
    max_sequences: PositiveInt | None = None,
    absent: Literal["toolkit", "skip"] = "toolkit",
    storage: Literal["float", "uint8", "jpeg"] = "uint8",
    jpeg_quality: Annotated[int, Field(ge=1, le=95)] = JPEG_QUALITY,
) -> DownstreamCheck:
    """OTB success AUC and precision at 20 px of a classical tracker on original and rebuilt sequences."""
    spec = data_set(dataset)

    def run(interpolators: Sequence[Interpolator], root: Path) -> list[dict[str, Any]]:
        sequences = spec.open_sequences(root)
        return tracking_accuracy(
            sequences,
            with_original(interpolators),
            tracker=tracker,
            dataset=dataset,
            max_sequences=max_sequences,
            absent=absent,
            storage=storage,
            jpeg_quality=jpeg_quality,
        )

    def figures(rows: list[dict[str, Any]], folder: Path) -> list[Path]:
        from vosvfi_core.downstream.plots import plot_tracking_curves  # matplotlib: loaded when a figure is drawn

        return [plot_tracking_curves(rows, Path(folder) / f"tracking_curves_{dataset}.png", title=f"{dataset}, tracker {tracker}")]

    return DownstreamCheck(TRACKING_CHECK, dataset, run, figures)
