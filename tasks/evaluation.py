"""Evaluation stage task: score the models and the baselines on one data set."""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task

from tasks.caching import CACHED
from tasks.progress import ProgressArtifact, artifact_key
from vosvfi_core.config import EvaluateConfig
from vosvfi_core.devices import set_task_threads
from vosvfi_core.evaluation.scoring import score_dataset
from vosvfi_core.provenance import DataRef, Produced, Snapshot
from vosvfi_core.results.tables import pictures_dir

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
    """Rows (without run_id) by table, ``eval_results`` and ``sample_strata`` (:func:`score_dataset`); pictures in the run's folder."""
    set_task_threads(threads)
    pictures = pictures_dir(run_folder, name)
    progress = ProgressArtifact(artifact_key("evaluate-progress", name, run_folder.name), f"evaluation of {name} in run {run_folder.name}")
    tables = score_dataset(
        name,
        data.root,
        {model: ref.root for model, ref in models.items()},
        config,
        masks_dir=masks.root if masks is not None else None,
        masks_problem=masks_problem,
        pictures=pictures,
        progress=progress.update,
    )
    get_run_logger().info("%s: %d rows", name, len(tables["eval_results"]))
    return Produced(tables, Snapshot.of(pictures))
