"""``vosvfi serve``: the pipeline and each stage flow as deployments the Prefect UI can trigger.

Deployments are added with ``Runner.add_flow`` (what ``flow.serve`` does) rather than
``prefect.serve(*flow.to_deployment(...))``: the runner then keeps the flow objects and runs them
as they are, with the task runner of the profile given to ``vosvfi serve``; deployments made with
``to_deployment`` are re-imported from their entry point and would lose it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from prefect.runner import Runner

from flows.pipeline import FLOWS
from flows.runner import task_runner_for
from vosvfi_core.config import Profile

__all__ = ["DEPLOYMENT_NAMES", "build_runner", "serve"]

DEPLOYMENT_NAMES = tuple(FLOWS)


def build_runner(profile: Profile, profile_ref: str, *, limit: int = 1) -> Runner:
    """A runner holding one deployment per flow, each defaulting to ``profile_ref``."""
    runner = Runner(name="vosvfi", limit=limit, pause_on_shutdown=False)
    defaults: dict[str, Any] = {"profile": profile_ref}
    for name, flow in FLOWS.items():
        served = flow.with_options(task_runner=task_runner_for(profile.task_runner))
        runner.add_flow(served, name=name, parameters=defaults, tags=["vosvfi", name], description=(flow.description or "").strip())
    return runner


def serve(profile: Profile, profile_ref: str, *, limit: int = 1) -> None:
    """Register the deployments and run flow runs as the UI (or ``prefect deployment run``) asks."""
    runner = build_runner(profile, profile_ref, limit=limit)
    names = ", ".join(f"{flow.name}/{name}" for name, flow in FLOWS.items())
    print(f"vosvfi: serving {names}; trigger runs from the UI's Deployments page (Ctrl-C stops)")
    asyncio.run(runner.start())
