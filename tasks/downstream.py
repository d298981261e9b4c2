"""Downstream stage task: one registered check of the models and the baselines on its data set."""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task

from tasks.caching import CACHED
from vosvfi_core.config import DownstreamConfig
from vosvfi_core.devices import resolve_device, set_task_threads
from vosvfi_core.downstream.registry import DOWNSTREAM_CHECKS, CheckContext
from vosvfi_core.evaluation import InterpolatorContext, build_interpolators
from vosvfi_core.provenance import DataRef, Produced, Snapshot
from vosvfi_core.registry import Block
from vosvfi_core.results.tables import FIGURES_FOLDER

__all__ = ["downstream_check"]


@task(name="downstream", task_run_name="downstream-{check.type}", **CACHED)
def downstream_check(check: Block, data: DataRef, models: dict[str, DataRef], config: DownstreamConfig, run_folder: Path, threads: int) -> Produced:
    """downstream_results rows (without run_id) of one check over the models and the baselines, and its figures."""
    set_task_threads(threads)
    device = resolve_device(config.device, field="downstream.device")
    interpolators = build_interpolators({model: ref.root for model, ref in models.items()}, config.baselines, InterpolatorContext(device))
    built = DOWNSTREAM_CHECKS.build(check, CheckContext(device))
    rows = built.run(interpolators, data.root)
    figures = built.figures(rows, run_folder / FIGURES_FOLDER) if built.figures is not None else []
    get_run_logger().info("%s on %s: %d rows, %d figure(s)", built.name, built.dataset, len(rows), len(figures))
    return Produced(rows, Snapshot.of(*figures))
