"""The DAVIS downstream check: does a VOS propagator still segment the objects in a rebuilt video?

For each sequence the odd frames are rebuilt from their even neighbours by each interpolator
(``None`` stands for the original video), the propagator runs from the first frame's annotation
over the whole video, and frames are scored against their annotations with J, F and J&F. The
original video is scored on the same frames, so its rows are the reference the rebuilt videos
are compared with. The rebuilt frames' PSNR inside the annotated foreground is reported beside.

What is scored, and how, follows STCN's evaluation and the DAVIS toolkit, and every row's
``convention`` says it:

- Propagation: the memory as STCN's evaluation keeps it (the first frame, every 5th frame,
  ``include_last`` off, top-k 20). DAVIS 2017 videos are propagated object by object and
  aggregated as STCN does (:func:`~vosvfi_core.vos.teachers.propagate_video_objects`); DAVIS 2016
  is one object.
- Annotations: the toolkit's semi-supervised protocol for the data set's year
  (:func:`~vosvfi_core.downstream.davis_measures.semi_supervised_labels`): void pixels count as
  background; 2016 merges the objects.
- Scores: ``J``/``F`` of the union of the objects per frame, and for DAVIS 2017 also per object
  (``J_object``/``F_object``, sample ``<sequence>_<object id>`` as the toolkit names it), whose
  per-object means average to the toolkit's J&F-Mean.
- Frames: by default the rebuilt odd frames 1, 3, …; the toolkit scores every frame 1..T−2
  (``scored="toolkit"``), which also counts untouched even frames.
- Storage: rebuilt frames reach the propagator as a video holds them (8-bit, or JPEG:
  :func:`~vosvfi_core.downstream.rebuild.rebuild_sequence`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import torch
from pydantic import Field, PositiveInt
from torch import Tensor

from vosvfi_core.data.datasets import DavisSequence, DavisSequences
from vosvfi_core.data.sets import data_set
from vosvfi_core.downstream.davis_measures import VOID_LABEL, DavisYear, object_ids, semi_supervised_frames, semi_supervised_labels, sequence_scores
from vosvfi_core.downstream.rebuild import JPEG_QUALITY, FrameInterpolator, FrameStorage, lazy_frames, rebuild_sequence, rebuilt_indices, storage_convention
from vosvfi_core.downstream.registry import DOWNSTREAM_CHECKS, CheckContext, DownstreamCheck, downstream_row, with_original
from vosvfi_core.errors import VosvfiError
from vosvfi_core.evaluation.interpolators import Interpolator
from vosvfi_core.evaluation.metrics import masked_psnr
from vosvfi_core.vos.teachers import STCN_INCLUDE_LAST, STCN_MEMORY_EVERY, TEACHERS, Teacher, propagate_video, propagate_video_objects
from vosvfi_core.weights import weights_dir

__all__ = ["DAVIS_CHECK", "VOID_LABEL", "SegmentVideo", "davis_check", "davis_jf", "davis_year"]

DAVIS_CHECK = "davis_jf"

# frames ([3, H, W] float RGB, full length), the first frame's object ids ([H, W] int64, 0 = background)
# and the ids to follow → one [H, W] label map per frame (int64 ids; a bool mask stands for id 1).
SegmentVideo = Callable[[Sequence[Tensor], Tensor, Sequence[int]], Sequence[Tensor]]
ScoredFrames = Literal["rebuilt", "toolkit"]

_SCORED = {
    "rebuilt": "scored=rebuilt odd frames 1,3,.. (toolkit: 1..T-2)",
    "toolkit": "scored=frames 1..T-2 (toolkit)",
}

_row = functools.partial(downstream_row, DAVIS_CHECK)


def davis_year(catalog: str) -> DavisYear:
    """The DAVIS edition a data set's annotations follow: 2016 for the ``davis2016`` catalog entry, else 2017 (indexed multi-object)."""
    return "2016" if "2016" in catalog else "2017"


def _labels(seq: DavisSequence, frames: Sequence[int], year: DavisYear) -> dict[int, Tensor]:
    """The toolkit's semi-supervised object ids (``[H, W]`` int64) of the listed frames."""
    missing = [seq.frame_paths[i].name for i in frames if seq.annotation_paths[i] is None]
    if missing:
        raise VosvfiError(f"DAVIS sequence {seq.name}: the check needs annotations of frame 0 and the scored frames; missing for {missing[0]}")
    return {index: torch.from_numpy(semi_supervised_labels(seq.labels(index).numpy(), year)) for index in frames}


def _segment(segment_video: SegmentVideo, frames: Sequence[Tensor], first: Tensor, ids: list[int], propagator: str, where: str) -> list[Tensor]:
    maps = list(segment_video(frames, first, ids))
    if len(maps) != len(frames):
        raise VosvfiError(f"propagator {propagator} returned {len(maps)} masks for the {len(frames)} frames of {where}")
    for index, labels in enumerate(maps):
        if tuple(labels.shape) != tuple(first.shape):
            raise VosvfiError(f"propagator {propagator}: mask {index} of {where} is {tuple(labels.shape)}, expected {tuple(first.shape)}")
    return [labels.detach().cpu().to(torch.int64) for labels in maps]


def davis_jf(
    sequences: DavisSequences,
    interpolators: Mapping[str, FrameInterpolator | None],
    segment_video: SegmentVideo,
    *,
    propagator_name: str,
    propagation: str | None = None,
    dataset: str = "davis",
    year: DavisYear = "2017",
    scored: ScoredFrames = "rebuilt",
    storage: FrameStorage = "uint8",
    jpeg_quality: int = JPEG_QUALITY,
    max_sequences: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[dict[str, Any]]:
    """Rows of the ``davis_jf`` check (``downstream_results`` without run_id) for every sequence and model.

    ``interpolators`` maps a model name to its interpolator, or to None for the original video.
    Per scored frame: ``J``, ``F`` of the union of the objects and, on rebuilt frames of rebuilt
    videos, ``psnr_foreground``; per sequence (``frame`` None): ``J_mean``, ``F_mean`` and
    ``JF_mean``. DAVIS 2017 adds, per object (sample ``<sequence>_<id>``), ``J_object`` and
    ``F_object`` per frame and ``J_object_mean``, ``F_object_mean``, ``JF_object_mean``.
    ``propagation`` describes the propagator's memory for the ``convention`` column, which also
    names the year's annotation rule, the scored frames and the frame storage.
    """
    if scored not in _SCORED:
        raise VosvfiError(f"davis check: scored must be one of {sorted(_SCORED)}, got {scored!r}")
    count = len(sequences) if not max_sequences else min(len(sequences), max_sequences)
    common = [f"propagator={propagator_name}", *([propagation] if propagation else []), f"DAVIS {year} semi-supervised: void=background"]
    common += [_SCORED[scored], storage_convention(storage, jpeg_quality)]
    union_convention = "; ".join([*common, "objects=union"])
    object_convention = "; ".join([*common, "objects=each (toolkit)"])
    rows: list[dict[str, Any]] = []
    for number in range(count):
        seq = sequences[number]
        rebuilt = rebuilt_indices(len(seq))
        frames_scored = rebuilt if scored == "rebuilt" else semi_supervised_frames(len(seq))
        if not rebuilt:
            raise VosvfiError(f"DAVIS sequence {seq.name} has {len(seq)} frames; the check needs at least 3")
        labels = _labels(seq, [0, *frames_scored], year)
        ids = object_ids(labels[0])
        truths = [labels.get(i) for i in range(len(seq))]
        original = lazy_frames(seq)
        for model, interpolator in interpolators.items():
            frames = original if interpolator is None else rebuild_sequence(original, interpolator, storage=storage, jpeg_quality=jpeg_quality)
            maps = _segment(segment_video, frames, labels[0], ids, propagator_name, f"{seq.name} ({model})")
            union = sequence_scores([m > 0 for m in maps], [t > 0 if t is not None else None for t in truths], frames=frames_scored)
            for index, j, f in zip(union.frames, union.j, union.f):
                rows.append(_row(model, dataset, seq.name, index, "J", j, union_convention))
                rows.append(_row(model, dataset, seq.name, index, "F", f, union_convention))
                if interpolator is not None and index in rebuilt:
                    psnr = masked_psnr(frames[index], original[index], labels[index] > 0)
                    rows.append(_row(model, dataset, seq.name, index, "psnr_foreground", psnr, union_convention))
            for metric, value in (("J_mean", union.j_mean), ("F_mean", union.f_mean), ("JF_mean", union.jf_mean)):
                rows.append(_row(model, dataset, seq.name, None, metric, value, union_convention))
            if year == "2017":
                for k in ids:
                    sample = f"{seq.name}_{k}"
                    per_object = sequence_scores([m == k for m in maps], [t == k if t is not None else None for t in truths], frames=frames_scored)
                    for index, j, f in zip(per_object.frames, per_object.j, per_object.f):
                        rows.append(_row(model, dataset, sample, index, "J_object", j, object_convention))
                        rows.append(_row(model, dataset, sample, index, "F_object", f, object_convention))
                    means = (("J_object_mean", per_object.j_mean), ("F_object_mean", per_object.f_mean), ("JF_object_mean", per_object.jf_mean))
                    rows += [_row(model, dataset, sample, None, metric, value, object_convention) for metric, value in means]
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


def _video_segmenter(teacher: Teacher, device: torch.device, year: DavisYear, memory_every: int, include_last: bool) -> SegmentVideo:
    @torch.no_grad()
    def segment(frames: Sequence[Tensor], first_labels: Tensor, ids: Sequence[int]) -> list[Tensor]:
        on_device = [f.to(device) for f in frames]
        if year == "2016":  # one object: STCN's single-object propagation
            masks = propagate_video(teacher, on_device, first_labels.to(device) > 0, memory_every=memory_every, include_last=include_last)
            return [m.to(torch.int64) for m in masks]
        return propagate_video_objects(teacher, on_device, first_labels.to(device), list(ids), memory_every=memory_every, include_last=include_last)

    return segment


@DOWNSTREAM_CHECKS.register(DAVIS_CHECK)
def davis_check(
    context: CheckContext,
    *,
    dataset: str = "synthetic_davis",
    propagator: Literal["auto", "stcn", "pixel_affinity"] = "auto",
    stcn_weights: Path | None = None,
    max_sequences: PositiveInt | None = None,
    year: Literal["auto", "2016", "2017"] = "auto",
    scored: Literal["rebuilt", "toolkit"] = "rebuilt",
    storage: Literal["float", "uint8", "jpeg"] = "uint8",
    jpeg_quality: Annotated[int, Field(ge=1, le=95)] = JPEG_QUALITY,
    memory_every: PositiveInt = STCN_MEMORY_EVERY,
    include_last: bool = STCN_INCLUDE_LAST,
) -> DownstreamCheck:
    """DAVIS J, F and J&F of a VOS propagator on original and rebuilt videos (odd frames rebuilt).

    ``year`` ``auto``: 2016 for the ``davis`` set (DAVIS 2016), else 2017 (indexed multi-object annotations).
    """
    spec = data_set(dataset)
    edition: DavisYear = davis_year(spec.catalog) if year == "auto" else year

    def run(interpolators: Sequence[Interpolator], root: Path) -> list[dict[str, Any]]:
        name, teacher = _propagator(context, propagator, stcn_weights)
        top_k = getattr(teacher, "top_k", None)
        propagation = f"memory=first+every {memory_every}th, include_last={str(include_last).lower()}" + (f", top-k {top_k}" if top_k else "")
        sequences = spec.open_sequences(root)
        return davis_jf(
            sequences,
            with_original(interpolators),
            _video_segmenter(teacher, context.device, edition, memory_every, include_last),
            propagator_name=name,
            propagation=propagation,
            dataset=dataset,
            year=edition,
            scored=scored,
            storage=storage,
            jpeg_quality=jpeg_quality,
            max_sequences=max_sequences,
        )

    return DownstreamCheck(DAVIS_CHECK, dataset, run)
