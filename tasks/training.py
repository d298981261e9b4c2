"""Training stage task: train (or resume) the model; checkpoints live under the run's folder."""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task
from prefect.context import TaskRunContext
from prefect.runtime import task_run

from tasks.caching import CACHED, fingerprint
from tasks.progress import ProgressArtifact, artifact_key
from vosvfi_core.config import TrainConfig
from vosvfi_core.devices import set_task_threads
from vosvfi_core.provenance import DataRef, Produced, Snapshot
from vosvfi_core.registry import Block
from vosvfi_core.training import TrainProgress, train
from vosvfi_core.training.checkpoint_folder import training_folder
from vosvfi_core.training.inputs import open_training_inputs

__all__ = ["checkpoint_dir", "train_model"]


def checkpoint_dir(run_folder: Path, name: str, config: TrainConfig, model: Block, data: DataRef) -> Path:
    """The library's training folder, the data identified by its contents and the code version (a new code version trains anew)."""
    return training_folder(run_folder, name, config, model, fingerprint("train-data", {"data": data}))


@task(name="train", **CACHED)
def train_model(
    name: str,
    config: TrainConfig,
    model: Block,
    data: DataRef,
    masks: DataRef | None,
    validation: DataRef | None,
    monitors: tuple[DataRef, ...],
    run_id: str,
    run_folder: Path,
    threads: int,
) -> Produced:
    """A :class:`TrainResult` and the snapshot of its final files.

    ``masks``: the masks stage's folder, for loss terms that read masks. ``validation`` and
    ``monitors``: the scoring sets in place (see :mod:`vosvfi_core.training.inputs`).
    """
    set_task_threads(threads)
    folder = checkpoint_dir(run_folder, name, config, model, data)
    progress = ProgressArtifact(artifact_key("train-progress", run_id), f"training {run_id} (task run {task_run.get_name()})")

    def report(p: TrainProgress) -> None:
        progress.update(p.step, p.total_steps, f"step {p.step}/{p.total_steps} epoch {p.epoch} loss {p.loss:.5f} lr {p.lr:g}")

    context = TaskRunContext.get()
    restart = bool(context and context.task.refresh_cache)  # --refresh train: train again from step 0
    inputs = open_training_inputs(
        config, data.root, masks_dir=masks.root if masks is not None else None,
        validation=(validation.name, validation.root) if validation is not None else None, monitors={ref.name: ref.root for ref in monitors},
    )  # fmt: skip
    get_run_logger().info("validation: %s; learning curves: %s", inputs.validation_name, ", ".join(inputs.monitors) or "none")
    result = train(config, model, inputs.dataset, folder, validation=inputs.validation, monitors=inputs.monitors, progress=report, restart=restart)
    get_run_logger().info("trained %d steps (resumed from step %d); checkpoint %s", result.steps, result.start_step, result.checkpoint)
    return Produced(result, Snapshot.of(result.checkpoint, result.model))
