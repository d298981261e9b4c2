"""Calling a stage's tasks: results cached under the run's folder, checked against the files they wrote.

A cached result whose output files changed on disk since it ran is recomputed, not trusted. A
failed task becomes a :class:`~flows.logs.StageFailure` naming the stage and the task, for the
command's one-line error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import get_run_logger
from prefect.tasks import Task

from flows.logs import StageFailure
from tasks.caching import for_run
from vosvfi_core.provenance import Produced

__all__ = ["call_task", "map_task"]


def _verified(task: Task, produced: Produced, args: tuple[Any, ...], run_folder: Path) -> Any:
    """The value of a task's result; recomputed if the files it wrote changed since it was cached."""
    if produced.outputs.intact():
        return produced.value
    get_run_logger().warning("%s: its outputs changed on disk since it ran; recomputing", task.name)
    return for_run(task, run_folder, refresh=True)(*args).value


def call_task(task: Task, stage: str, args: tuple[Any, ...], *, run_folder: Path, refresh: bool) -> Any:
    """One run of ``task`` for ``stage``; ``refresh`` recomputes it even when cached."""
    try:
        return _verified(task, for_run(task, run_folder, refresh=refresh)(*args), args, run_folder)
    except Exception as error:
        raise StageFailure(stage, task.name, error) from error


def map_task(task: Task, stage: str, calls: list[tuple[Any, ...]], *, run_folder: Path, refresh: bool) -> list[Any]:
    """One run of ``task`` per argument tuple (in parallel under the task runner); the values in order."""
    prepared = for_run(task, run_folder, refresh=refresh)
    futures = [prepared.submit(*args) for args in calls]
    try:
        return [_verified(task, future.result(), args, run_folder) for future, args in zip(futures, calls)]
    except Exception as error:
        raise StageFailure(stage, task.name, error) from error
