"""The ``vosvfi-pipeline`` flow and one flow per stage, all made from the stage list (:mod:`vosvfi_core.stages`).

Every flow takes the same parameters (a profile name or path, a run id, ``section.field=value``
overrides, stages whose cache to refresh) so that each can be triggered from the Prefect UI.
A stage's flow runs that stage and whatever it needs; what it needs comes from the cache when
its settings, data and code are unchanged.
"""

from __future__ import annotations

from typing import Any

from prefect import Flow, flow

from flows.stage_runners import run_stages
from vosvfi_core.stages import STAGES, Stage

__all__ = ["FLOWS", "STAGE_FLOWS", "pipeline"]


@flow(name="vosvfi-pipeline")
def pipeline(
    profile: str = "demo",
    stages: list[str] | None = None,
    run_id: str | None = None,
    overrides: list[str] | None = None,
    refresh: list[str] | None = None,
) -> dict[str, Any]:
    """data → masks → train → evaluate → downstream (the profile's ``stages``, or ``stages``), then the report."""
    return run_stages(profile, stages, run_id, overrides, refresh)


def _stage_flow(stage: Stage) -> Flow:
    def run_stage(profile: str = "demo", run_id: str | None = None, overrides: list[str] | None = None, refresh: list[str] | None = None) -> dict[str, Any]:
        return run_stages(profile, [stage.name], run_id, overrides, refresh)

    run_stage.__name__ = f"{stage.name}_flow"
    run_stage.__qualname__ = run_stage.__name__
    return flow(name=f"vosvfi-{stage.name}", description=f"{stage.description[0].upper()}{stage.description[1:]}, and what it needs.")(run_stage)


STAGE_FLOWS: dict[str, Flow] = {stage.name: _stage_flow(stage) for stage in STAGES}
FLOWS: dict[str, Flow] = {"pipeline": pipeline, **STAGE_FLOWS}  # deployment name → flow
