"""Scoring the models and the baselines on one data set: the evaluate stage's work, one data set at a time."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from vosvfi_core.config import EvaluateConfig
from vosvfi_core.data.sets import data_set
from vosvfi_core.devices import resolve_device
from vosvfi_core.evaluation.benchmark import evaluate
from vosvfi_core.evaluation.interpolators import InterpolatorContext, build_interpolators
from vosvfi_core.evaluation.metric_registry import METRICS
from vosvfi_core.evaluation.pictures import sample_pictures
from vosvfi_core.evaluation.strata import strata_rows
from vosvfi_core.masks.evaluation_sets import MaskedTriplets
from vosvfi_core.masks.frames import frames_for_evaluation
from vosvfi_core.precision import resolve_precision

__all__ = ["score_dataset"]

Progress = Callable[[int, int, str], None]  # (done, total, message) over every interpolator's samples


def score_dataset(
    name: str,
    root: Path,
    models: Mapping[str, Path],
    config: EvaluateConfig,
    *,
    masks_dir: Path | None = None,
    masks_problem: str | None = None,
    pictures: Path | None = None,
    progress: Progress | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Rows (without run_id) by table: ``eval_results`` of ``models`` (name → checkpoint) and the baselines on the
    data set ``name`` in ``root``, and its ``sample_strata``.

    ``masks_dir``: the keyed folder of middle-frame masks the masks stage made for a set that ships
    none; where they could not be made, ``masks_problem`` says why (the note of the null
    object-aware values). Grids of ``config.pictures`` samples go to ``pictures``, where given.
    """
    spec = data_set(name)
    dataset = spec.open_triplets(root, with_masks=spec.has_masks)
    if masks_dir is not None:
        dataset = MaskedTriplets(dataset, frames_for_evaluation(dataset, root), masks_dir)
    device = resolve_device(config.device, field="evaluate.device")
    precision = resolve_precision(config.precision, device, field="evaluate.precision")
    context = InterpolatorContext(device, tile=config.tile, overlap=config.overlap, precision=precision)
    scored = build_interpolators(models, config.baselines, context)
    metrics = [METRICS.build(block) for block in config.metrics]
    absent = {"mask1": f"no object masks: {masks_problem}"} if masks_problem else {}
    rows: list[dict[str, Any]] = []
    for number, interpolator in enumerate(scored):

        def report(done: int, total: int, number: int = number, model: str = interpolator.name) -> None:
            if progress is not None:
                progress(number * total + done, len(scored) * total, f"{name}: {model} {done}/{total}")

        common = {"dataset_name": name, "split": spec.split, "protocols": config.protocols, "max_samples": config.max_samples}
        rows += evaluate(interpolator, dataset, metrics=metrics, progress=report, absent=absent, **common)
    if pictures is not None:
        sample_pictures(scored, dataset, pictures, count=config.pictures)
    strata = strata_rows(dataset, dataset_name=name, split=spec.split, max_samples=config.max_samples)
    return {"eval_results": rows, "sample_strata": strata}
