"""The tracking downstream check: does a classical tracker still follow the target through a rebuilt video?

For each sequence the odd frames are rebuilt by each interpolator (``None`` stands for the
original video); the tracker starts from the first ground-truth box and runs over the whole
video, and its boxes are scored as OTB's one-pass evaluation does, over every frame with a
ground-truth box (the rebuilt frames and the untouched even frames alike: drift caused by a
rebuilt frame shows in the frames after it).

The success and precision curves are not stored: they follow from the per-frame ``iou`` and
``center_error`` rows (:func:`vosvfi_core.downstream.plots.tracking_curves`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import PositiveInt

from vosvfi_core.data.datasets import TrackingSequences
from vosvfi_core.data.sets import data_set
from vosvfi_core.downstream.rebuild import FrameInterpolator, lazy_frames, rebuild_sequence
from vosvfi_core.downstream.registry import DOWNSTREAM_CHECKS, CheckContext, DownstreamCheck, downstream_row, with_original
from vosvfi_core.downstream.trackers import Tracker, build_tracker
from vosvfi_core.downstream.tracking_measures import tracking_scores, valid_boxes
from vosvfi_core.errors import VosvfiError
from vosvfi_core.evaluation.interpolators import Interpolator
from vosvfi_core.registry import Block

__all__ = ["TRACKING_CHECK", "tracking_accuracy", "tracking_check"]

TRACKING_CHECK = "tracking_accuracy"


_row = functools.partial(downstream_row, TRACKING_CHECK)


def tracking_accuracy(
    sequences: TrackingSequences,
    interpolators: Mapping[str, FrameInterpolator | None],
    *,
    tracker: str | Block | Mapping[str, Any] | Tracker = "csrt",
    dataset: str = "tracking",
    max_sequences: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[dict[str, Any]]:
    """Rows of the ``tracking_accuracy`` check (``downstream_results`` without run_id) for every sequence and model.

    ``tracker`` is a registry name or block (``"csrt"``, ``{type: kcf}``) or a tracker callable.
    Per frame with a ground-truth box: ``iou`` and ``center_error`` (pixels); per sequence
    (``frame`` None): ``auc`` (mean of the success curve) and ``precision_20``. Every row carries
    ``convention = "tracker=<name>"``.
    """
    if callable(tracker):
        run, tracker_name = tracker, getattr(tracker, "name", type(tracker).__name__)
    else:
        run = build_tracker(tracker)
        tracker_name = getattr(run, "name", str(tracker))
    convention = f"tracker={tracker_name}"
    count = len(sequences) if not max_sequences else min(len(sequences), max_sequences)
    rows: list[dict[str, Any]] = []
    for number in range(count):
        seq = sequences[number]
        truth = seq.boxes.numpy()
        if not valid_boxes(truth[:1])[0]:
            raise VosvfiError(f"tracking sequence {seq.name}: no ground-truth box in the first frame to start the tracker from")
        original = lazy_frames(seq)
        for model, interpolator in interpolators.items():
            frames = original if interpolator is None else rebuild_sequence(original, interpolator)
            boxes = run(frames, truth[0])
            scores = tracking_scores(boxes, truth)
            for index in np.flatnonzero(scores.valid):
                rows.append(_row(model, dataset, seq.name, int(index), "iou", scores.iou[index], convention))
                rows.append(_row(model, dataset, seq.name, int(index), "center_error", scores.center_error[index], convention))
            rows.append(_row(model, dataset, seq.name, None, "auc", scores.auc, convention))
            rows.append(_row(model, dataset, seq.name, None, "precision_20", scores.precision_20, convention))
        if progress is not None:
            progress(number + 1, count)
    return rows


@DOWNSTREAM_CHECKS.register(TRACKING_CHECK)
def tracking_check(
    context: CheckContext, *, dataset: str = "synthetic_tracking", tracker: str = "csrt", max_sequences: PositiveInt | None = None
) -> DownstreamCheck:
    """OTB success AUC and precision at 20 px of a classical tracker on original and rebuilt sequences."""
    spec = data_set(dataset)

    def run(interpolators: Sequence[Interpolator], root: Path) -> list[dict[str, Any]]:
        sequences = spec.open_sequences(root)
        return tracking_accuracy(sequences, with_original(interpolators), tracker=tracker, dataset=dataset, max_sequences=max_sequences)

    def figures(rows: list[dict[str, Any]], folder: Path) -> list[Path]:
        from vosvfi_core.downstream.plots import plot_tracking_curves  # plots reads this module's names

        return [plot_tracking_curves(rows, Path(folder) / f"tracking_curves_{dataset}.png", title=f"{dataset}, tracker {tracker}")]

    return DownstreamCheck(TRACKING_CHECK, dataset, run, figures)
