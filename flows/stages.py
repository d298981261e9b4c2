"""One run function per stage of :mod:`vosvfi_core.stages`, and the loop that runs a plan.

Every stage reads only its own config section(s) and what earlier stages left in the
:class:`RunState`, so a stage's cache key changes exactly when its settings, its input data or
the code change. A new stage is declared in ``vosvfi_core/stages.py`` and gets one ``@runs``
function here; nothing else changes.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prefect import get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.tasks import Task

from flows.logs import StageFailure
from tasks.caching import for_run
from tasks.data import fetch_dataset, generate_demo_data, use_local_copy, use_local_folder
from tasks.downstream import downstream_check
from tasks.evaluation import evaluate_dataset
from tasks.masks import masks_shard
from tasks.progress import artifact_key
from tasks.report import ReportOutput, write_report, write_tables
from tasks.training import train_model
from vosvfi_core.data.catalog import data_root
from vosvfi_core.data.local import prepared_folder
from vosvfi_core.data.sets import PAPER_VALIDATION_SET, data_set
from vosvfi_core.devices import set_task_threads
from vosvfi_core.downstream.registry import check_dataset
from vosvfi_core.errors import VosvfiError
from vosvfi_core.masks import frames_for_evaluation, frames_for_training, mask_subpath, masks_folder, segmenter_key, shard, shipped_mask_path
from vosvfi_core.masks.evaluation_sets import evaluation_masks_root
from vosvfi_core.masks.frames import VIMEO_SEQUENCES, FrameRef
from vosvfi_core.plan import RunPlan, plan_run
from vosvfi_core.provenance import DataRef, Produced
from vosvfi_core.registry import Block
from vosvfi_core.results.tables import exclusive_run, existing_tables, remove_partial_files, run_dir
from vosvfi_core.stages import STAGE_NAMES
from vosvfi_core.training import TrainResult, needs_masks

__all__ = ["RUNNERS", "RunState", "run_stages", "runs"]


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


RUNNERS: dict[str, Callable[[RunState], None]] = {}


def runs(stage: str) -> Callable[[Callable[[RunState], None]], Callable[[RunState], None]]:
    """Attach the run function of a declared stage."""
    if stage not in STAGE_NAMES or stage in RUNNERS:
        raise ValueError(f"stage {stage!r} is not declared in vosvfi_core.stages, or has a run function already")

    def decorator(function: Callable[[RunState], None]) -> Callable[[RunState], None]:
        RUNNERS[stage] = function
        return function

    return decorator


def _prepared(state: RunState, task: Task, stage: str) -> Task:
    return for_run(task, state.run_folder, refresh=stage in state.plan.refresh)


def _verified(state: RunState, task: Task, produced: Produced, args: tuple[Any, ...]) -> Any:
    """The value of a task's result; recomputed if the files it wrote changed since it was cached."""
    if produced.outputs.intact():
        return produced.value
    get_run_logger().warning("%s: its outputs changed on disk since it ran; recomputing", task.name)
    return for_run(task, state.run_folder, refresh=True)(*args).value


def _call(state: RunState, task: Task, stage: str, *args: Any) -> Any:
    try:
        return _verified(state, task, _prepared(state, task, stage)(*args), args)
    except Exception as error:
        raise StageFailure(stage, task.name, error) from error


def _map(state: RunState, task: Task, stage: str, calls: list[tuple[Any, ...]]) -> list[Any]:
    """Submit one task run per argument tuple (in parallel under the task runner); values in order."""
    prepared = _prepared(state, task, stage)
    futures = [prepared.submit(*args) for args in calls]
    try:
        return [_verified(state, task, future.result(), args) for future, args in zip(futures, calls)]
    except Exception as error:
        raise StageFailure(stage, task.name, error) from error


@runs("data")
def run_data(state: RunState) -> None:
    """The data sets the planned stages read: generated, adopted from ``data.local``, or downloaded."""
    config, names = state.profile.data, state.plan.datasets()
    specs = [data_set(name) for name in names]
    for spec in specs:
        if spec.local_folder:
            state.refs[spec.name] = _call(state, use_local_folder, "data", spec.name)
    if any(spec.generated for spec in specs):
        demo = _call(state, generate_demo_data, "data", config.synthetic, state.data_root)
        state.refs.update({spec.name: demo for spec in specs if spec.generated})
    local = {spec.name: config.local.get(spec.name) or config.local.get(spec.catalog) for spec in specs if not spec.generated and not spec.local_folder}
    for name, folder in local.items():
        if folder is not None:
            state.refs[name] = _call(state, use_local_copy, "data", name, data_set(name).catalog, folder)
    catalog = sorted({data_set(name).catalog for name, folder in local.items() if folder is None})
    fetched = dict(zip(catalog, _map(state, fetch_dataset, "data", [(entry, state.data_root) for entry in catalog])))
    state.refs.update({name: fetched[data_set(name).catalog] for name, folder in local.items() if folder is None})


def _shard_calls(state: RunState, name: str, frames: list[FrameRef], segmenter: Block, masks_root: Path | None) -> list[tuple[Any, ...]]:
    """The masks_shard calls covering ``frames`` of data set ``name``, ``masks.shard_size`` frames each."""
    config, data = state.profile.masks, state.refs[name]
    weights = segmenter.kwargs.get("weights")
    weights_ref = DataRef("segmenter-weights", Path(weights).absolute()) if weights is not None else None
    count = max(1, math.ceil(len(frames) / config.shard_size))
    calls = []
    for index in range(count):
        part = tuple(shard(frames, index, count))
        reads = [f.path for f in part] + ([shipped_mask_path(f.path) for f in part] if segmenter.type == "ground_truth" else [])
        calls.append((DataRef(name, data.root, tuple(reads)), index, part, segmenter, config.device, masks_root, weights_ref, state.plan.threads_per_task))
    return calls


def _keyed_folder(state: RunState, name: str, rows: list[dict[str, Any]], masks_root: Path | None) -> Path:
    """The keyed folder the masks of ``rows`` (one data set, one segmenter) went to."""
    return masks_folder(state.refs[name].root, segmenter_key(rows[0]["segmenter"], rows[0]["weights_sha256"]), masks_root)


@runs("masks")
def run_masks(state: RunState) -> None:
    """Masks of the training sets a loss term reads them from, and of the middle frames of evaluation
    sets without annotations that an object-aware metric scores; one task per shard of frames.

    Training cannot go on without its masks, so their failure ends the run. Evaluation can: where
    an evaluation set's masks cannot be made for a reason stated in one line (say, the segmenter's
    weights are not in place offline), one warning names it and the object-aware values of that
    set are null with that reason as their note.
    """
    config = state.profile.masks
    training, evaluation = state.plan.masked_sets()
    manifest: list[dict[str, Any]] = []
    training_frames = {name: frames_for_training(state.refs[name].root) for name in training}
    calls = [call for name in training for call in _shard_calls(state, name, training_frames[name], config.segmenter, None)]
    shards = _map(state, masks_shard, "masks", calls)
    for name in training:
        rows = [row for call, rows in zip(calls, shards, strict=True) if call[0].name == name for row in rows]
        if rows:
            state.training_masks[name] = DataRef("masks", _keyed_folder(state, name, rows, None) / VIMEO_SEQUENCES)
        manifest += rows
    for name in evaluation:
        root, spec = state.refs[name].root, data_set(name)
        frames = frames_for_evaluation(spec.open_triplets(root), root)
        masks_root = evaluation_masks_root(state.data_root, spec.catalog, root)
        try:
            rows = [
                row for rows in _map(state, masks_shard, "masks", _shard_calls(state, name, frames, config.evaluation_segmenter, masks_root)) for row in rows
            ]
        except StageFailure as failure:
            if not isinstance(failure.error, VosvfiError):
                raise
            state.evaluation_masks_problems[name] = str(failure.error)
            get_run_logger().warning("%s: no object masks, so its object-aware metrics are null: %s", name, failure.error)
            continue
        if rows:
            state.evaluation_masks[name] = DataRef("masks", _keyed_folder(state, name, rows, masks_root), tuple(mask_subpath(f.path) for f in frames))
        manifest += rows
    state.rows["masks_manifest"] = manifest


@runs("train")
def run_train(state: RunState) -> None:
    """One task per trained model (the profile's variants, in parallel under the task runner).

    Training validates on Middlebury "other" where it is in place (``data.local`` or the data
    root), as the paper did; else on each training set's own test split.
    """
    trainings, plan = state.profile.trainings(), state.plan
    middlebury = prepared_folder(state.profile, PAPER_VALIDATION_SET, state.data_root)
    validation = DataRef(PAPER_VALIDATION_SET, middlebury) if middlebury is not None else None
    calls = []
    for config in trainings.values():
        masks_ref = state.training_masks.get(config.dataset) if needs_masks(config) else None
        data = state.refs[config.dataset]
        calls.append((config, state.profile.model, data, masks_ref, validation, plan.run_id, state.run_folder, plan.threads_per_task))
    state.trained = dict(zip(trainings, _map(state, train_model, "train", calls)))
    state.rows["train_history"] = [{"model": name, **row} for name, result in state.trained.items() for row in result.history]


def _models(state: RunState) -> dict[str, DataRef]:
    """The models evaluate and downstream score: ``evaluate.checkpoint``, else every model trained in this run."""
    checkpoint = state.profile.evaluate.checkpoint
    if checkpoint is not None:
        path = checkpoint.absolute()
        if not path.is_file():
            raise VosvfiError(f"evaluate.checkpoint: file not found: {path}")
        generic = path.stem in ("model", "last", "best")  # our file names: the folder says which model
        return {f"{path.parent.name}-{path.stem}" if generic else path.stem: DataRef("checkpoint", path)}
    if not state.trained:  # the plan puts train before evaluate when there is no checkpoint
        raise VosvfiError("no model to score: set evaluate.checkpoint or plan the train stage")
    return {name: DataRef("checkpoint", result.model) for name, result in state.trained.items()}  # the weights-only file


@runs("evaluate")
def run_evaluate(state: RunState) -> None:
    """One task per data set (in parallel under the task runner)."""
    config, models, threads = state.profile.evaluate, _models(state), state.plan.threads_per_task
    calls = []
    for name in config.datasets:
        masks, problem = state.evaluation_masks.get(name), state.evaluation_masks_problems.get(name)
        calls.append((name, state.refs[name], masks, problem, models, config, state.run_folder, threads))
    for tables in _map(state, evaluate_dataset, "evaluate", calls):
        for table, rows in tables.items():
            state.rows.setdefault(table, []).extend(rows)


@runs("downstream")
def run_downstream(state: RunState) -> None:
    """One task per registered check (in parallel under the task runner)."""
    config, models, threads = state.profile.downstream, _models(state), state.plan.threads_per_task
    calls = [(check, state.refs[check_dataset(check)], models, config, state.run_folder, threads) for check in config.checks]
    state.rows["downstream_results"] = [row for rows in _map(state, downstream_check, "downstream", calls) for row in rows]


missing = [name for name in STAGE_NAMES if name not in RUNNERS]
if missing:
    raise ImportError(f"stages without a run function: {', '.join(missing)}")


def run_report(state: RunState) -> ReportOutput:
    _call(state, write_tables, "report", state.plan.run_id, state.run_folder, state.rows)
    tables = {name: DataRef(name, path) for name, path in existing_tables(state.run_folder).items()}
    args = (state.plan.run_id, state.profile.name, state.run_folder, tables, sorted(state.rows), state.profile.comparisons)
    return _call(state, write_report, "report", *args)


def _json_safe(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()} for row in rows]


def publish(state: RunState, report: ReportOutput) -> None:
    """The run's artifacts, published on every run (also when the report came from cache)."""
    run_id = state.plan.run_id
    create_markdown_artifact(report.markdown, key=artifact_key("report", run_id), description=f"vosvfi report of run {run_id}")
    for table, rows in report.summaries.items():
        if rows:
            key = artifact_key(table.replace("_", "-"), "summary", run_id)
            create_table_artifact(_json_safe(rows), key=key, description=f"{table} summary of run {run_id}")
    for figure in report.figures:
        image = base64.b64encode(figure.read_bytes()).decode()
        # A check's plot (figures/<name>.png) by its name; an example picture (pictures/<data set>/…) by its data set.
        key = artifact_key("figure", figure.stem, run_id) if figure.parent.name == "figures" else artifact_key("picture", figure.parent.name, run_id)
        create_markdown_artifact(f"![{figure.stem}](data:image/png;base64,{image})", key=key, description=f"{figure.stem} of run {run_id} ({figure})")


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
    publish(state, report)
    logger.info("report: %s", report.path)
    return {
        "run_id": state.plan.run_id,
        "run_folder": str(state.run_folder),
        "stages": state.plan.names,
        "tables": {name: str(path) for name, path in existing_tables(state.run_folder).items()},
        "pictures": str(state.run_folder / "pictures"),
        "report": str(report.path),
        "train_start_step": {name: result.start_step for name, result in state.trained.items()},
        "train_steps": {name: result.steps for name, result in state.trained.items()},
    }
