"""The run function of each stage of :mod:`vosvfi_core.stages`, and the loop that runs a plan.

Every stage reads only its own config section(s) and what earlier stages left in the
:class:`RunState`, so a stage's cache key changes exactly when its settings, its input data or
the code change. A runner decides nothing itself: it asks the library what to do (where a data
set comes from, how frames are sharded, which models are scored) and calls the stage's tasks.
A new stage is declared in ``vosvfi_core/stages.py`` and gets one runner in :data:`RUNNERS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prefect import get_run_logger
from prefect.tasks import Task

from flows.artifacts import publish
from flows.logs import StageFailure
from flows.task_calls import call_task, map_task
from tasks.data import fetch_dataset, generate_demo_data, use_local_copy, use_local_folder
from tasks.downstream import downstream_check
from tasks.evaluation import evaluate_dataset
from tasks.masks import masks_shard
from tasks.report import write_report, write_tables
from tasks.training import train_model
from vosvfi_core.checkpoint_format import scored_models
from vosvfi_core.data.catalog import data_root
from vosvfi_core.data.local import data_source, prepared_folder
from vosvfi_core.devices import set_task_threads
from vosvfi_core.downstream.registry import check_dataset
from vosvfi_core.masks.evaluation_sets import evaluation_set_frames, unmade_masks_reason
from vosvfi_core.masks.frames import FrameRef, frames_for_training
from vosvfi_core.masks.precompute import mask_subpath, masks_folder, vimeo_masks_dir
from vosvfi_core.masks.shards import frame_shards, manifest_key, shard_inputs
from vosvfi_core.plan import RunPlan, plan_run
from vosvfi_core.provenance import DataRef
from vosvfi_core.registry import Block
from vosvfi_core.results.run_report import ReportOutput
from vosvfi_core.results.tables import PICTURES_FOLDER, exclusive_run, existing_tables, remove_partial_files, run_dir
from vosvfi_core.training import TrainResult, needs_masks
from vosvfi_core.training.inputs import scoring_folders

__all__ = ["RUNNERS", "RunState", "run_stages"]


@dataclass
class RunState:
    """What a run has produced so far; each stage reads its inputs from here and adds its outputs."""

    plan: RunPlan
    run_folder: Path
    data_root: Path
    refs: dict[str, DataRef] = field(default_factory=dict)  # data set name → its folder
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # table → rows (without run_id)
    trained: dict[str, TrainResult] = field(default_factory=dict)  # variant → its training
    # Data set name → what the masks stage left, for training and for evaluation apart (one set
    # may be both: Vimeo-90K's training triplets and its test triplets' middle frames).
    training_masks: dict[str, DataRef] = field(default_factory=dict)  # the folder VimeoTriplets reads <sample>/imK.png from
    evaluation_masks: dict[str, DataRef] = field(default_factory=dict)  # the keyed folder, its members the middle frames' masks
    evaluation_masks_problems: dict[str, str] = field(default_factory=dict)  # data set name → why its masks could not be made

    @property
    def profile(self) -> Any:
        return self.plan.profile

    def call(self, stage: str, task: Task, *args: Any) -> Any:
        return call_task(task, stage, args, run_folder=self.run_folder, refresh=stage in self.plan.refresh)

    def map(self, stage: str, task: Task, calls: list[tuple[Any, ...]]) -> list[Any]:
        return map_task(task, stage, calls, run_folder=self.run_folder, refresh=stage in self.plan.refresh)

    def models(self) -> dict[str, DataRef]:
        """The models evaluate and downstream score: ``evaluate.checkpoint``, else every model trained in this run."""
        trained = {name: result.model for name, result in self.trained.items()}  # the weights-only files
        return {name: DataRef("checkpoint", path) for name, path in scored_models(self.profile.evaluate.checkpoint, trained).items()}


def run_data(state: RunState) -> None:
    """The data sets the planned stages read: a folder of triplets, generated, adopted from ``data.local``, or downloaded."""
    sources = [data_source(state.profile, name) for name in state.plan.datasets()]
    for source in (s for s in sources if s.kind == "folder"):
        state.refs[source.name] = state.call("data", use_local_folder, source.name)
    if any(s.kind == "generated" for s in sources):
        demo = state.call("data", generate_demo_data, state.profile.data.synthetic, state.data_root)
        state.refs.update({s.name: demo for s in sources if s.kind == "generated"})
    for source in (s for s in sources if s.kind == "local"):
        state.refs[source.name] = state.call("data", use_local_copy, source.name, source.catalog, source.folder)
    entries = sorted({s.catalog for s in sources if s.kind == "catalog"})
    fetched = dict(zip(entries, state.map("data", fetch_dataset, [(entry, state.data_root) for entry in entries])))
    state.refs.update({s.name: fetched[s.catalog] for s in sources if s.kind == "catalog"})


def _shard_calls(state: RunState, name: str, frames: list[FrameRef], segmenter: Block, masks_root: Path | None) -> list[tuple[Any, ...]]:
    """The masks_shard calls covering ``frames`` of data set ``name``, ``masks.shard_size`` frames each."""
    config, root = state.profile.masks, state.refs[name].root
    weights = segmenter.kwargs.get("weights")
    weights_ref = DataRef("segmenter-weights", Path(weights).absolute()) if weights is not None else None
    return [
        (
            DataRef(name, root, tuple(shard_inputs(part, segmenter.type))),
            index,
            part,
            segmenter,
            config.device,
            masks_root,
            weights_ref,
            state.plan.threads_per_task,
        )
        for index, part in enumerate(frame_shards(frames, config.shard_size))
    ]


def run_masks(state: RunState) -> None:
    """Masks of the training sets a loss term reads them from, and of the middle frames of evaluation
    sets without annotations that an object-aware metric scores; one task per shard of frames.

    A training set's masks that cannot be made end the run; an evaluation set's may not end it
    (:func:`~vosvfi_core.masks.evaluation_sets.unmade_masks_reason`), and then its object-aware
    values are null with the reason as their note.
    """
    config = state.profile.masks
    training, evaluation = state.plan.masked_sets()
    manifest: list[dict[str, Any]] = []
    calls = [call for name in training for call in _shard_calls(state, name, frames_for_training(state.refs[name].root), config.segmenter, None)]
    shards = state.map("masks", masks_shard, calls)
    for name in training:
        rows = [row for call, rows in zip(calls, shards, strict=True) if call[0].name == name for row in rows]
        if rows:
            state.training_masks[name] = DataRef("masks", vimeo_masks_dir(state.refs[name].root, manifest_key(rows)))
        manifest += rows
    for name in evaluation:
        root = state.refs[name].root
        frames, masks_root = evaluation_set_frames(name, root, state.data_root)
        try:
            rows = [row for rows in state.map("masks", masks_shard, _shard_calls(state, name, frames, config.evaluation_segmenter, masks_root)) for row in rows]
        except StageFailure as failure:
            reason = unmade_masks_reason(failure.error)
            if reason is None:
                raise
            state.evaluation_masks_problems[name] = reason
            get_run_logger().warning("%s: no object masks, so its object-aware metrics are null: %s", name, reason)
            continue
        if rows:
            state.evaluation_masks[name] = DataRef("masks", masks_folder(root, manifest_key(rows), masks_root), tuple(mask_subpath(f.path) for f in frames))
        manifest += rows
    state.rows["masks_manifest"] = manifest


def run_train(state: RunState) -> None:
    """One task per trained model (the profile's variants, in parallel under the task runner)."""
    trainings, plan = state.profile.trainings(), state.plan
    calls = []
    models = state.profile.models()
    for name, config in trainings.items():
        masks_ref = state.training_masks.get(config.dataset) if needs_masks(config) else None
        data = state.refs[config.dataset]
        located, monitors, notes = scoring_folders(config, lambda name: prepared_folder(state.profile, name, state.data_root))
        for note in notes:
            get_run_logger().warning("%s", note)
        validation = DataRef(*located) if located is not None else None
        monitor_refs = tuple(DataRef(name, folder) for name, folder in monitors.items())
        calls.append((name, config, models[name], data, masks_ref, validation, monitor_refs, plan.run_id, state.run_folder, plan.threads_per_task))
    state.trained = dict(zip(trainings, state.map("train", train_model, calls)))
    state.rows["train_history"] = [{"model": name, **row} for name, result in state.trained.items() for row in result.history]


def run_evaluate(state: RunState) -> None:
    """One task per data set (in parallel under the task runner)."""
    config, models, threads = state.profile.evaluate, state.models(), state.plan.threads_per_task
    calls = []
    for name in config.datasets:
        masks, problem = state.evaluation_masks.get(name), state.evaluation_masks_problems.get(name)
        calls.append((name, state.refs[name], masks, problem, models, config, state.run_folder, threads))
    for tables in state.map("evaluate", evaluate_dataset, calls):
        for table, rows in tables.items():
            state.rows.setdefault(table, []).extend(rows)


def run_downstream(state: RunState) -> None:
    """One task per registered check (in parallel under the task runner)."""
    config, models, threads = state.profile.downstream, state.models(), state.plan.threads_per_task
    calls = [(check, state.refs[check_dataset(check)], models, config, state.run_folder, threads) for check in config.checks]
    state.rows["downstream_results"] = [row for rows in state.map("downstream", downstream_check, calls) for row in rows]


def run_report(state: RunState) -> ReportOutput:
    """The result tables, then the report built from them (both cached like the stages' tasks)."""
    state.call("report", write_tables, state.plan.run_id, state.run_folder, state.rows)
    tables = {name: DataRef(name, path) for name, path in existing_tables(state.run_folder).items()}
    args = (state.plan.run_id, state.profile.name, state.run_folder, tables, sorted(state.rows), state.profile.comparisons)
    return state.call("report", write_report, *args)


def run_stages(
    profile: str,
    targets: list[str] | None,
    run_id: str | None = None,
    overrides: list[str] | None = None,
    refresh: list[str] | None = None,
) -> dict[str, Any]:
    """Run ``targets`` (default: the profile's stages) and what they need; write tables and report."""
    plan = plan_run(profile, targets, overrides or [], run_id=run_id, refresh=refresh or [])
    run_folder = run_dir(plan.run_id).absolute()
    with exclusive_run(run_folder):  # partial-file clean-up must not hit another live run
        return _run_planned(RunState(plan, run_folder, data_root()))


def _run_planned(state: RunState) -> dict[str, Any]:
    logger = get_run_logger()
    logger.info("%s\nfolder %s", state.plan.describe(), state.run_folder)
    set_task_threads(state.plan.threads_per_task)
    for path in remove_partial_files(state.run_folder):
        logger.warning("removed a partial file left by an interrupted run: %s", path)
    for planned in state.plan.stages:
        RUNNERS[planned.name](state)
    report = run_report(state)
    publish(state.plan.run_id, report)
    logger.info("report: %s", report.path)
    return {
        "run_id": state.plan.run_id,
        "run_folder": str(state.run_folder),
        "stages": state.plan.names,
        "tables": {name: str(path) for name, path in existing_tables(state.run_folder).items()},
        "pictures": str(state.run_folder / PICTURES_FOLDER),
        "report": str(report.path),
        "train_start_step": {name: result.start_step for name, result in state.trained.items()},
        "train_steps": {name: result.steps for name, result in state.trained.items()},
    }


# One runner per stage of vosvfi_core.stages (a test checks that the two lists agree).
RUNNERS: dict[str, Callable[[RunState], None]] = {
    "data": run_data,
    "masks": run_masks,
    "train": run_train,
    "evaluate": run_evaluate,
    "downstream": run_downstream,
}
