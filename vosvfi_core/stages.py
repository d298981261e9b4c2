"""The pipeline's stages: their names, order, and what each needs given a profile.

This is the one stage registry. The run plan (:mod:`vosvfi_core.plan`), the profile's
``stages`` field, the command line's stage names and the per-stage Prefect flows all come from
:data:`STAGES`; the Prefect side attaches one run function to each name (``flows/stages.py``).
A stage's ``needs(profile)`` maps each prerequisite stage to the reason it is needed, which the
run plan prints.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vosvfi_core.config import Profile

__all__ = ["STAGES", "STAGE_NAMES", "Stage", "stage"]


@dataclass(frozen=True)
class Stage:
    name: str
    description: str
    needs: Callable[[Profile], dict[str, str]]  # prerequisite stage → why


def _no_needs(profile: Profile) -> dict[str, str]:
    return {}


def _model_needs(profile: Profile) -> dict[str, str]:
    if profile.evaluate.checkpoint is not None:
        return {}
    return {"train": "the model to score is the one this run trains (evaluate.checkpoint is not set)"}


def _data_needs(profile: Profile, stage: str) -> dict[str, str]:
    from vosvfi_core.plan import datasets_read  # the plan module imports this one

    return {"data": f"reads {', '.join(datasets_read(profile, stage))}"} if datasets_read(profile, stage) else {}


def _train_needs(profile: Profile) -> dict[str, str]:
    from vosvfi_core.plan import training_sets_needing_masks

    needs = _data_needs(profile, "train")
    if training_sets_needing_masks(profile):
        needs["masks"] = "a loss term reads object masks"
    return needs


def _evaluate_needs(profile: Profile) -> dict[str, str]:
    from vosvfi_core.plan import evaluation_sets_needing_masks, metrics_reading_masks

    needs = {**_data_needs(profile, "evaluate"), **_model_needs(profile)}
    unmasked = evaluation_sets_needing_masks(profile)
    if unmasked:
        needs["masks"] = f"{', '.join(metrics_reading_masks(profile))} read object masks, which {', '.join(unmasked)} ship none of"
    return needs


STAGES: tuple[Stage, ...] = (
    Stage("data", "generate the demo data, download and verify the data sets the profile reads", _no_needs),
    Stage("masks", "foreground masks of training sets and of unannotated evaluation sets, one task per shard", lambda p: _data_needs(p, "masks")),
    Stage("train", "train (or resume training) the interpolation network", _train_needs),
    Stage("evaluate", "score the model and the baselines on each evaluation data set", _evaluate_needs),
    Stage("downstream", "downstream checks of interpolated videos", lambda p: {**_data_needs(p, "downstream"), **_model_needs(p)}),
)
STAGE_NAMES: tuple[str, ...] = tuple(s.name for s in STAGES)


def stage(name: str) -> Stage:
    from vosvfi_core.errors import VosvfiError

    for candidate in STAGES:
        if candidate.name == name:
            return candidate
    raise VosvfiError(f"unknown stage {name!r}; stages: {', '.join(STAGE_NAMES)}")
