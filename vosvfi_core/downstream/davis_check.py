"""The DAVIS downstream check: does a VOS propagator still segment the objects in a rebuilt video?

For each sequence the odd frames are rebuilt from their even neighbours by each interpolator
(``None`` stands for the original video), the propagator runs from the first frame's annotation
over the whole video, and the rebuilt frames are scored against their annotations with J, F and
J&F (the semi-supervised protocol: never the first or the last frame). The original video is
scored on the same frames, so its rows are the reference the rebuilt videos are compared with.
The rebuilt frames' PSNR inside the annotated foreground is reported beside.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import PositiveInt
from torch import Tensor

from vosvfi_core.data.datasets import DavisSequence, DavisSequences
from vosvfi_core.data.sets import data_set
from vosvfi_core.downstream.davis_measures import sequence_scores
from vosvfi_core.downstream.rebuild import FrameInterpolator, lazy_frames, rebuild_sequence, rebuilt_indices
from vosvfi_core.downstream.registry import DOWNSTREAM_CHECKS, CheckContext, DownstreamCheck, downstream_row, with_original
from vosvfi_core.errors import VosvfiError
from vosvfi_core.evaluation.interpolators import Interpolator
from vosvfi_core.evaluation.metrics import masked_psnr
from vosvfi_core.vos.teachers import TEACHERS, Teacher, propagate_video
from vosvfi_core.weights import weights_dir

__all__ = ["DAVIS_CHECK", "VOID_LABEL", "SegmentVideo", "davis_check", "davis_jf"]

DAVIS_CHECK = "davis_jf"
VOID_LABEL = 255  # DAVIS annotations mark pixels that no measure counts with this index

# frames ([3, H, W] float RGB, full length), the first frame's mask ([H, W] bool) → one [H, W] bool mask per frame.
SegmentVideo = Callable[[Sequence[Tensor], Tensor], Sequence[Tensor]]


_row = functools.partial(downstream_row, DAVIS_CHECK)


def _annotations(seq: DavisSequence, frames: Sequence[int]) -> tuple[dict[int, Tensor], dict[int, Tensor]]:
    """Foreground (any object) and void masks, ``[H, W]`` bool, of the listed frames."""
    missing = [seq.frame_paths[i].name for i in frames if seq.annotation_paths[i] is None]
    if missing:
        raise VosvfiError(f"DAVIS sequence {seq.name}: the check needs annotations of frame 0 and the rebuilt frames; missing for {missing[0]}")
    foreground, void = {}, {}
    for index in frames:
        labels = seq.labels(index)
        void[index] = labels == VOID_LABEL
        foreground[index] = (labels > 0) & ~void[index]
    return foreground, void


def _segment(segment_video: SegmentVideo, frames: Sequence[Tensor], first_mask: Tensor, propagator: str, where: str) -> list[Tensor]:
    masks = list(segment_video(frames, first_mask))
    if len(masks) != len(frames):
        raise VosvfiError(f"propagator {propagator} returned {len(masks)} masks for the {len(frames)} frames of {where}")
    for index, mask in enumerate(masks):
        if tuple(mask.shape) != tuple(first_mask.shape):
            raise VosvfiError(f"propagator {propagator}: mask {index} of {where} is {tuple(mask.shape)}, expected {tuple(first_mask.shape)}")
    return masks


def davis_jf(
    sequences: DavisSequences,
    interpolators: Mapping[str, FrameInterpolator | None],
    segment_video: SegmentVideo,
    *,
    propagator_name: str,
    dataset: str = "davis",
    max_sequences: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[dict[str, Any]]:
    """Rows of the ``davis_jf`` check (``downstream_results`` without run_id) for every sequence and model.

    ``interpolators`` maps a model name to its interpolator, or to None for the original video.
    Per rebuilt frame: ``J``, ``F`` and, for rebuilt videos, ``psnr_foreground``; per sequence
    (``frame`` None): ``J_mean``, ``F_mean`` and ``JF_mean`` over those frames. Every row carries
    ``convention = "propagator=<propagator_name>"``.
    """
    count = len(sequences) if not max_sequences else min(len(sequences), max_sequences)
    convention = f"propagator={propagator_name}"
    rows: list[dict[str, Any]] = []
    for number in range(count):
        seq = sequences[number]
        scored = rebuilt_indices(len(seq))
        if not scored:
            raise VosvfiError(f"DAVIS sequence {seq.name} has {len(seq)} frames; the check needs at least 3")
        foreground, void = _annotations(seq, [0, *scored])
        truths = [foreground.get(i) for i in range(len(seq))]
        voids = [void.get(i) for i in range(len(seq))]
        original = lazy_frames(seq)
        for model, interpolator in interpolators.items():
            frames = original if interpolator is None else rebuild_sequence(original, interpolator)
            masks = _segment(segment_video, frames, foreground[0], propagator_name, f"{seq.name} ({model})")
            scores = sequence_scores(masks, truths, frames=scored, voids=voids)
            for index, j, f in zip(scores.frames, scores.j, scores.f):
                rows.append(_row(model, dataset, seq.name, index, "J", j, convention))
                rows.append(_row(model, dataset, seq.name, index, "F", f, convention))
                if interpolator is not None:
                    psnr = masked_psnr(frames[index], original[index], foreground[index])
                    rows.append(_row(model, dataset, seq.name, index, "psnr_foreground", psnr, convention))
            for metric, value in (("J_mean", scores.j_mean), ("F_mean", scores.f_mean), ("JF_mean", scores.jf_mean)):
                rows.append(_row(model, dataset, seq.name, None, metric, value, convention))
        if progress is not None:
            progress(number + 1, count)
    return rows


def _propagator(context: CheckContext, propagator: str, stcn_weights: Path | None) -> tuple[str, Teacher]:
    """STCN where its weights are at hand (``auto``: on disk, without downloading), else the weight-free propagator."""
    if propagator == "auto":
        from vosvfi_core.vos.stcn import STCN_WEIGHTS

        local = stcn_weights if stcn_weights is not None else weights_dir() / STCN_WEIGHTS.file_name
        propagator = "stcn" if Path(local).is_file() else "pixel_affinity"
    arguments = {"weights": stcn_weights} if propagator == "stcn" else {}
    return propagator, TEACHERS.build({"type": propagator, **arguments}, context.device)


@DOWNSTREAM_CHECKS.register(DAVIS_CHECK)
def davis_check(
    context: CheckContext,
    *,
    dataset: str = "synthetic_davis",
    propagator: Literal["auto", "stcn", "pixel_affinity"] = "auto",
    stcn_weights: Path | None = None,
    max_sequences: PositiveInt | None = None,
) -> DownstreamCheck:
    """DAVIS J, F and J&F of a VOS propagator on original and rebuilt videos (odd frames rebuilt)."""
    spec = data_set(dataset)

    def run(interpolators: Sequence[Interpolator], root: Path) -> list[dict[str, Any]]:
        name, teacher = _propagator(context, propagator, stcn_weights)

        @torch.no_grad()
        def segment(frames: Sequence[Tensor], first_mask: Tensor) -> list[Tensor]:
            return propagate_video(teacher, [f.to(context.device) for f in frames], first_mask.to(context.device))

        sequences = spec.open_sequences(root)
        return davis_jf(sequences, with_original(interpolators), segment, propagator_name=name, dataset=dataset, max_sequences=max_sequences)

    return DownstreamCheck(DAVIS_CHECK, dataset, run)
