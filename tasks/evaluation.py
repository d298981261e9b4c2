"""Evaluation stage task: score the model and the baselines on one data set."""

from __future__ import annotations

import re
from pathlib import Path

from prefect import get_run_logger, task

from tasks.caching import CACHED
from tasks.progress import ProgressArtifact, artifact_key
from vosvfi_core.config import EvaluateConfig
from vosvfi_core.data.sets import data_set
from vosvfi_core.devices import resolve_device, set_task_threads
from vosvfi_core.evaluation import INTERPOLATORS, METRICS, InterpolatorContext, evaluate
from vosvfi_core.evaluation.pictures import sample_pictures
from vosvfi_core.evaluation.strata import strata_rows
from vosvfi_core.masks import frames_for_evaluation
from vosvfi_core.masks.evaluation_sets import MaskedTriplets
from vosvfi_core.provenance import DataRef, Produced, Snapshot

__all__ = ["evaluate_dataset"]


@task(name="evaluate", task_run_name="evaluate-{name}", **CACHED)
def evaluate_dataset(
    name: str,
    data: DataRef,
    masks: DataRef | None,
    masks_problem: str | None,
    models: dict[str, DataRef],
    config: EvaluateConfig,
    run_folder: Path,
    threads: int,
) -> Produced:
    """Rows (without run_id) by table: ``eval_results`` of the models and baselines on ``name``, and its ``sample_strata``.

    ``masks``: the masks stage's folder of middle-frame masks, for a set that ships none; where the
    masks stage could not make them, ``masks_problem`` says why (the note of the null values).
    Pictures of a few samples go to ``run_folder/pictures/<name>``.
    """
    set_task_threads(threads)
    spec, pictures = data_set(name), run_folder / "pictures" / re.sub(r"[^A-Za-z0-9._-]+", "_", name)
    dataset = spec.open_triplets(data.root, with_masks=spec.has_masks)
    if masks is not None:
        dataset = MaskedTriplets(dataset, frames_for_evaluation(dataset, data.root), masks.root)
    context = InterpolatorContext(resolve_device(config.device, field="evaluate.device"), tile=config.tile, overlap=config.overlap)
    metrics = [METRICS.build(block) for block in config.metrics]
    common = {"metrics": metrics, "dataset_name": name, "split": spec.split, "protocols": config.protocols, "max_samples": config.max_samples}
    common["absent"] = {"mask1": f"no object masks: {masks_problem}"} if masks_problem else {}
    scored = [INTERPOLATORS.build({"type": "checkpoint", "path": ref.root, "name": model}, context) for model, ref in models.items()]
    scored += [INTERPOLATORS.build(block, context) for block in config.baselines]
    progress = ProgressArtifact(artifact_key("evaluate-progress", name, run_folder.name), f"evaluation of {name} in run {run_folder.name}")
    rows = []
    for number, interpolator in enumerate(scored):

        def report(done: int, total: int, number: int = number, model: str = interpolator.name) -> None:
            progress.update(number * total + done, len(scored) * total, f"{name}: {model} {done}/{total}")

        rows += evaluate(interpolator, dataset, progress=report, **common)
    sample_pictures(scored, dataset, pictures, count=config.pictures)
    strata = strata_rows(dataset, dataset_name=name, split=spec.split, max_samples=config.max_samples)
    get_run_logger().info("%s: %d rows", name, len(rows))
    return Produced({"eval_results": rows, "sample_strata": strata}, Snapshot.of(pictures))
