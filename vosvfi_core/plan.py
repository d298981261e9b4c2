"""The run plan: which stages a run executes and why, decided once, before any work starts.

:func:`plan_run` loads and validates the profile, resolves the asked stages (:mod:`vosvfi_core.stages`)
and their prerequisites (:data:`NEEDS`), checks that training can start, and fixes the run id
and the thread budget. The command line prints the plan before Prefect starts; the flows build
the same plan from their parameters (a run triggered from the UI has no command line).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from vosvfi_core.checkpoint_format import check_checkpoint
from vosvfi_core.config import DaskRunner, Profile, load_profile
from vosvfi_core.data.catalog import data_root
from vosvfi_core.data.local import check_source, data_source, prepared_folder
from vosvfi_core.data.sets import data_set
from vosvfi_core.devices import threads_per_task
from vosvfi_core.downstream.registry import check_dataset
from vosvfi_core.errors import VosvfiError
from vosvfi_core.evaluation.metric_registry import METRICS
from vosvfi_core.results.tables import check_run_id
from vosvfi_core.stages import STAGE_NAMES
from vosvfi_core.training.requirements import check_trainable, needs_masks

__all__ = [
    "NEEDS",
    "REFRESHABLE",
    "PlannedStage",
    "RunPlan",
    "check_stage_names",
    "datasets_read",
    "evaluation_sets_needing_masks",
    "metrics_reading_masks",
    "plan_run",
    "with_present_sets",
    "training_sets_needing_masks",
]

# --refresh takes a stage or the report, which every run writes.
REFRESHABLE: tuple[str, ...] = (*STAGE_NAMES, "report")


@dataclass(frozen=True)
class PlannedStage:
    name: str
    reason: str  # "asked", or which later stage needs it and why


@dataclass(frozen=True)
class RunPlan:
    profile: Profile
    profile_ref: str  # the name or path the profile was loaded from
    overrides: tuple[str, ...]
    run_id: str
    stages: tuple[PlannedStage, ...]
    refresh: frozenset[str]  # stages whose cached results are recomputed
    threads_per_task: int  # torch intra-op threads each task takes
    notes: tuple[str, ...] = ()  # what the plan left out, and why

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.stages]

    def _served(self, stage_name: str) -> set[str]:
        """The stages ``stage_name`` works for: the planned ones, and the profile's too when it was asked for itself."""
        stages = set(self.names)
        if any(s.name == stage_name and s.reason == "asked" for s in self.stages):
            stages |= set(self.profile.stages)
        return stages

    def masked_sets(self) -> tuple[list[str], list[str]]:
        """(training sets, evaluation sets) the masks stage segments: those of the stages it works for.

        Training masks only when training runs, evaluation masks only when evaluation does (or
        ``vosvfi run masks``, which works for the profile's stages).
        """
        stages = self._served("masks")
        training = training_sets_needing_masks(self.profile) if "train" in stages else []
        return training, evaluation_sets_needing_masks(self.profile) if "evaluate" in stages else []

    def datasets(self) -> list[str]:
        """The data sets the data stage prepares: those the planned stages read, in a stable order.

        When the data stage itself was asked for (``vosvfi run data``), also those of the profile's stages.
        """
        training, evaluation = self.masked_sets() if "masks" in self.names else ([], [])
        return sorted({*training, *evaluation, *(name for s in self._served("data") - {"masks"} for name in datasets_read(self.profile, s))})

    def describe(self) -> str:
        lines = [f"run {self.run_id}: profile {self.profile.name}, {self.threads_per_task} torch thread(s) per task"]
        lines += [f"  {s.name:<10} {s.reason}" for s in self.stages]
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)


def check_stage_names(names: Iterable[str], *, option: str = "", also: tuple[str, ...] = ()) -> list[str]:
    """``names`` as a list, or a one-line error naming the first unknown one."""
    known = (*STAGE_NAMES, *also)
    names = list(names)
    for name in names:
        if name not in known:
            prefix = f"{option}: " if option else ""
            raise VosvfiError(f"{prefix}unknown stage {name!r}; stages: {', '.join(known)}")
    return names


def training_sets_needing_masks(profile: Profile) -> list[str]:
    """The training sets of the models whose loss terms read object masks."""
    return sorted({config.dataset for config in profile.trainings().values() if needs_masks(config)})


def metrics_reading_masks(profile: Profile) -> list[str]:
    """The evaluation metrics (their ``metric`` names) that read the middle frame's object mask."""
    built = (METRICS.build(block) for block in profile.evaluate.metrics)
    return [metric.name for metric in built if "mask1" in metric.needs]


def evaluation_sets_needing_masks(profile: Profile) -> list[str]:
    """The evaluation sets that ship no object masks while a metric reads them: the masks stage segments their middle frames."""
    if not metrics_reading_masks(profile):
        return []
    return [name for name in profile.evaluate.datasets if not data_set(name).has_masks]


def datasets_read(profile: Profile, stage_name: str) -> list[str]:
    """The data sets (names of :mod:`vosvfi_core.data.sets`) that ``stage_name`` reads under ``profile``."""
    if stage_name == "masks":
        return sorted({*training_sets_needing_masks(profile), *evaluation_sets_needing_masks(profile)})
    if stage_name == "train":
        return sorted({config.dataset for config in profile.trainings().values()})
    if stage_name == "evaluate":
        return list(profile.evaluate.datasets)
    if stage_name == "downstream":
        return sorted({check_dataset(c) for c in profile.downstream.checks})
    return []


def _model_needs(profile: Profile) -> dict[str, str]:
    if profile.evaluate.checkpoint is not None:
        return {}
    return {"train": "the model to score is the one this run trains (evaluate.checkpoint is not set)"}


def _data_needs(profile: Profile, stage_name: str) -> dict[str, str]:
    read = datasets_read(profile, stage_name)
    return {"data": f"reads {', '.join(read)}"} if read else {}


def _train_needs(profile: Profile) -> dict[str, str]:
    needs = _data_needs(profile, "train")
    if training_sets_needing_masks(profile):
        needs["masks"] = "a loss term reads object masks"
    return needs


def _evaluate_needs(profile: Profile) -> dict[str, str]:
    needs = {**_data_needs(profile, "evaluate"), **_model_needs(profile)}
    unmasked = evaluation_sets_needing_masks(profile)
    if unmasked:
        needs["masks"] = f"{', '.join(metrics_reading_masks(profile))} read object masks, which {', '.join(unmasked)} ship none of"
    return needs


# Stage → what it needs under a profile: each prerequisite stage and why (the plan prints the reasons).
NEEDS: dict[str, Callable[[Profile], dict[str, str]]] = {
    "data": lambda profile: {},
    "masks": lambda profile: _data_needs(profile, "masks"),
    "train": _train_needs,
    "evaluate": _evaluate_needs,
    "downstream": lambda profile: {**_data_needs(profile, "downstream"), **_model_needs(profile)},
}


def _resolve(profile: Profile, targets: Sequence[str]) -> tuple[PlannedStage, ...]:
    reasons: dict[str, str] = {name: "asked" for name in targets}
    pending = list(targets)
    while pending:
        name = pending.pop()
        for needed, why in NEEDS[name](profile).items():
            if needed not in reasons:
                reasons[needed] = f"needed by {name}: {why}"
                pending.append(needed)
    return tuple(PlannedStage(name, reasons[name]) for name in STAGE_NAMES if name in reasons)


def _workers(profile: Profile) -> int:
    runner = profile.task_runner
    return runner.n_workers * runner.threads_per_worker if isinstance(runner, DaskRunner) else runner.max_workers


def with_present_sets(profile: Profile) -> tuple[Profile, tuple[str, ...]]:
    """``profile`` with each of ``evaluate.datasets_if_present`` that is in place added to ``evaluate.datasets``, and notes on the others."""
    evaluate = profile.evaluate
    present, notes = list(evaluate.datasets), []
    for name in evaluate.datasets_if_present:
        if name in present:
            continue
        if prepared_folder(profile, name, data_root()) is not None:
            present.append(name)
        else:
            notes.append(f"{name} is not in place (data.local or {data_root()}), so it is not evaluated")
    if present == evaluate.datasets:
        return profile, tuple(notes)
    return profile.model_copy(update={"evaluate": evaluate.model_copy(update={"datasets": present})}), tuple(notes)


def plan_run(
    profile: str,
    targets: Sequence[str] | None = None,
    overrides: Sequence[str] = (),
    *,
    run_id: str | None = None,
    refresh: Sequence[str] = (),
) -> RunPlan:
    """Load ``profile`` with ``overrides`` and plan ``targets`` (default: the profile's stages).

    Every problem a run could find without doing work is reported here, as one line: a bad
    profile or override, an unknown stage, a run id that is not a folder name, a training set
    without the masks a loss term needs, a data set read in place (``folder:PATH``,
    ``data.local``) that is missing or not laid out as it should be, a checkpoint to score that is
    missing or does not load.
    """
    loaded, notes = with_present_sets(load_profile(profile, overrides))
    check_stage_names(targets or [], option="--stages")
    check_stage_names(refresh, option="--refresh", also=("report",))
    stages = _resolve(loaded, list(targets or loaded.stages))
    if any(s.name == "train" for s in stages):
        for config in loaded.trainings().values():
            check_trainable(config)
    read = {d for s in stages for d in datasets_read(loaded, s.name)}
    for name in sorted(read):
        data_set(name)
    runner = loaded.task_runner
    plan = RunPlan(
        profile=loaded,
        profile_ref=str(profile),
        overrides=tuple(overrides),
        run_id=check_run_id(run_id or loaded.name),
        stages=stages,
        refresh=frozenset(refresh),
        threads_per_task=threads_per_task(_workers(loaded), runner.threads_per_task),
        notes=notes,
    )
    for name in sorted(read | set(plan.datasets())):
        check_source(data_source(loaded, name))
    if loaded.evaluate.checkpoint is not None and {"evaluate", "downstream"} & set(plan.names):
        check_checkpoint(loaded.evaluate.checkpoint, field="evaluate.checkpoint")
    return plan
