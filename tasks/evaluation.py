"""Evaluation stage task: score the model and the baselines on one data set."""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task

from tasks.caching import CACHED
from vosvfi_core.config import EvaluateConfig
from vosvfi_core.data.sets import data_set
from vosvfi_core.devices import resolve_device, set_task_threads
from vosvfi_core.evaluation import INTERPOLATORS, METRICS, InterpolatorContext, evaluate
from vosvfi_core.provenance import DataRef, Produced, Snapshot

__all__ = ["evaluate_dataset"]


@task(name="evaluate", task_run_name="evaluate-{name}", **CACHED)
def evaluate_dataset(name: str, data: DataRef, checkpoint: DataRef, config: EvaluateConfig, run_folder: Path, threads: int) -> Produced:
    """eval_results rows (without run_id) of ``name``, and the model's pictures in ``run_folder/pictures/<name>``."""
    set_task_threads(threads)
    spec, pictures = data_set(name), run_folder / "pictures" / name
    dataset = spec.open_triplets(data.root, with_masks=spec.has_masks)
    context = InterpolatorContext(resolve_device(config.device, field="evaluate.device"))
    metrics = [METRICS.build(block) for block in config.metrics]
    common = {"metrics": metrics, "dataset_name": name, "split": spec.split, "protocols": config.protocols, "max_samples": config.max_samples}
    model = INTERPOLATORS.build({"type": "checkpoint", "path": checkpoint.root, "name": "adacof"}, context)
    rows = evaluate(model, dataset, pictures_dir=pictures, pictures=config.pictures, **common)
    for block in config.baselines:
        rows += evaluate(INTERPOLATORS.build(block, context), dataset, **common)
    get_run_logger().info("%s: %d rows", name, len(rows))
    return Produced(rows, Snapshot.of(pictures))
