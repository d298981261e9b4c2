"""The pipeline's stages: their names, in the order a run executes them, and what each does.

This is the one list of stages. The profile's ``stages`` field, the command line's stage names,
the run plan (:mod:`vosvfi_core.plan`, which also says what each stage needs) and the per-stage
Prefect flows all come from :data:`STAGES`.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["STAGES", "STAGE_NAMES", "Stage"]


@dataclass(frozen=True)
class Stage:
    name: str
    description: str


STAGES: tuple[Stage, ...] = (
    Stage("data", "generate the demo data, download and verify the data sets the profile reads"),
    Stage("masks", "foreground masks of training sets and of unannotated evaluation sets, one task per shard"),
    Stage("train", "train (or resume training) the interpolation network"),
    Stage("evaluate", "score the model and the baselines on each evaluation data set"),
    Stage("downstream", "downstream checks of interpolated videos"),
)
STAGE_NAMES: tuple[str, ...] = tuple(s.name for s in STAGES)
