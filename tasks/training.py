"""Training stage task: train (or resume) the model; checkpoints live under the run's folder."""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task
from prefect.context import TaskRunContext
from prefect.runtime import task_run

from tasks.caching import CACHED, fingerprint
from tasks.progress import ProgressArtifact, artifact_key
from vosvfi_core.config import TrainConfig
from vosvfi_core.data.sets import data_set
from vosvfi_core.devices import set_task_threads
from vosvfi_core.provenance import DataRef, Produced, Snapshot
from vosvfi_core.registry import Block
from vosvfi_core.training import TrainProgress, needs_masks, train

__all__ = ["checkpoint_dir", "train_model"]


# Settings that change how training is run or logged, not the weights it produces.
_NOT_IN_IDENTITY = {"num_workers", "checkpoint_every", "log_every", "device", "keep_last", "validate_every"}


def checkpoint_dir(run_folder: Path, config: TrainConfig, model: Block, data: DataRef) -> Path:
    """One folder per training identity (settings that shape the weights, data, code), so a resume never mixes runs."""
    identity = config.model_dump(mode="json", exclude=_NOT_IN_IDENTITY)
    key = fingerprint("train", {"config": identity, "model": model.model_dump(mode="json"), "data": data})
    return run_folder / "checkpoints" / key[:16]


@task(name="train", **CACHED)
def train_model(
    config: TrainConfig, model: Block, data: DataRef, masks: DataRef | None, validation: DataRef | None, run_id: str, run_folder: Path, threads: int
) -> Produced:
    """A :class:`TrainResult` and the snapshot of its final files.

    ``masks``: the masks stage's folder, for loss terms that read masks. ``validation``: the data
    set (its name and folder) to validate on; None validates on the training set's own test split.
    """
    set_task_threads(threads)
    folder = checkpoint_dir(run_folder, config, model, data)
    progress = ProgressArtifact(artifact_key("train-progress", run_id), f"training {run_id} (task run {task_run.get_name()})")

    def report(p: TrainProgress) -> None:
        progress.update(p.step, p.total_steps, f"step {p.step}/{p.total_steps} epoch {p.epoch} loss {p.loss:.5f} lr {p.lr:g}")

    context = TaskRunContext.get()
    restart = bool(context and context.task.refresh_cache)  # --refresh train: train again from step 0
    options = {"crop": config.crop, "augment": config.augment, **({"masks_dir": masks.root} if masks is not None else {})}
    spec = data_set(config.dataset)
    dataset = spec.open_triplets(data.root, with_masks=needs_masks(config), train=True, **options)
    if validation is None:
        validation_set = spec.open_triplets(data.root)  # the set's evaluation split, in the same (cache-keyed) folder
    else:
        validation_set = data_set(validation.name).open_triplets(validation.root)
    get_run_logger().info("validation: %s", validation.name if validation is not None else f"{config.dataset} ({spec.split} split)")
    result = train(config, model, dataset, folder, validation=validation_set, progress=report, restart=restart)
    get_run_logger().info("trained %d steps (resumed from step %d); checkpoint %s", result.steps, result.start_step, result.checkpoint)
    return Produced(result, Snapshot.of(result.checkpoint, result.model))
