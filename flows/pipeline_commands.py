"""``vosvfi pipeline``, ``vosvfi run STAGE`` and ``vosvfi serve``.

Prefect is imported inside the handlers only, so ``vosvfi interpolate`` starts fast. The run is
planned (:func:`vosvfi_core.plan.plan_run`) before Prefect starts, so a bad profile, stage or
value is a one-line error, and the plan — which stages run and why — is printed first. A failed
task ends the command with ``vosvfi: error: <stage>/<task>: <reason>`` (exit 2); the tracebacks
go to the run's log file, and to the terminal only with ``--debug``.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

from vosvfi_core.config import profile_names
from vosvfi_core.errors import VosvfiError
from vosvfi_core.plan import REFRESHABLE, RunPlan, check_stage_names, plan_run
from vosvfi_core.stages import STAGE_NAMES

__all__ = ["register"]


def _profile_ref(text: str) -> str:
    """A profile path made absolute (served runs may start elsewhere); names stay names."""
    return str(Path(text).absolute()) if text.endswith((".yaml", ".yml")) or "/" in text else text


def _stages(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    return check_stage_names((s for value in values for s in value.replace(",", " ").split() if s), option="--stages")


def _print_summary(result: dict[str, Any], seconds: float, log_file: Path) -> None:
    folder = Path(result["run_folder"])
    print(f"\nvosvfi: run {result['run_id']} finished in {seconds:.0f} s (stages: {', '.join(result['stages'])})")
    print(f"  tables:   {folder / 'tables'}/ ({', '.join(sorted(result['tables']))}; Parquet)")
    print(f"  pictures: {result['pictures']}")
    print(f"  report:   {result['report']}")
    print(f"  log:      {log_file}")
    print("  UI:       make ui, then open http://127.0.0.1:4200 (runs, task runs, artifacts; logs)")


def _execute(args: argparse.Namespace, flow_name: str, targets: list[str] | None, **parameters: Any) -> int:
    plan = plan_run(args.profile, targets, args.set, run_id=args.run_id, refresh=args.refresh)
    print(f"vosvfi: {plan.describe()}", flush=True)
    # Prefect's 20 s default for its temporary server is often too short on a slow or loaded machine.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    # Offline, the temporary server's telemetry logs a failure on every run; users opt in by setting it.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    from flows.logs import failure_line, run_log
    from flows.pipeline import FLOWS
    from flows.runner import api_for_workers, task_runner_for

    flow = FLOWS[flow_name]
    started = time.perf_counter()
    common = {"profile": _profile_ref(args.profile), "run_id": plan.run_id, "overrides": list(args.set), "refresh": list(args.refresh)}
    debug = getattr(args, "debug", False)
    with run_log(plan.run_id, debug=debug) as log_file:
        try:
            with api_for_workers(plan.profile.task_runner):
                result = flow.with_options(task_runner=task_runner_for(plan.profile.task_runner))(**common, **parameters)
        except VosvfiError:
            raise
        except Exception as error:  # a failed task: its traceback is in the log file
            raise VosvfiError(f"{failure_line(error)} (details: {log_file}{'' if debug else '; --debug shows them here'})") from None
    _print_summary(result, time.perf_counter() - started, log_file)
    return 0


def _run_pipeline(args: argparse.Namespace) -> int:
    stages = _stages(args.stages)
    return _execute(args, "pipeline", stages, stages=stages)


def _run_stage(args: argparse.Namespace) -> int:
    check_stage_names([args.stage])
    return _execute(args, args.stage, [args.stage])


def _flow_list(values: list[str]) -> str:
    """``["a", "b"]`` as a YAML flow list for an override (each entry a name or a ``{type: …}`` block)."""
    return "[" + ", ".join(values) + "]"


def _score_checkpoint(args: argparse.Namespace) -> int:
    """``vosvfi evaluate`` / ``vosvfi downstream``: the pipeline's stage on a checkpoint file, nothing trained."""
    checkpoint = Path(args.checkpoint).absolute()
    if not checkpoint.is_file():
        raise VosvfiError(f"checkpoint not found: {checkpoint}")
    args.set = [f"evaluate.checkpoint={checkpoint}", *args.set]
    section = "evaluate" if args.stage == "evaluate" else "downstream"
    for field, values in (("datasets", getattr(args, "dataset", None)), ("metrics", getattr(args, "metric", None)), ("checks", getattr(args, "check", None))):
        if values:
            args.set.append(f"{section}.{field}={_flow_list(values)}")
    if args.baseline:
        args.set.append(f"{section}.baselines={_flow_list(args.baseline)}")
    args.run_id = args.run_id or f"{args.stage}-{checkpoint.stem}"
    return _execute(args, args.stage, [args.stage])


def _serve(args: argparse.Namespace) -> int:
    plan: RunPlan = plan_run(args.profile, [])
    from flows.serve import serve

    serve(plan.profile, _profile_ref(args.profile), limit=args.limit)
    return 0


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", default="demo", help=f"{', '.join(profile_names())} or a path to a profile .yaml (default: demo)")
    parser.add_argument("--run-id", default=None, help="results go to runs/<run-id>/ (default: the profile's name)")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.FIELD=VALUE", help="override a profile value (repeatable)")
    parser.add_argument(
        "--refresh", action="append", default=[], metavar="STAGE", help=f"recompute STAGE even if cached (repeatable): {', '.join(REFRESHABLE)}"
    )
    parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="also show Prefect's log and tracebacks on the terminal")


def register(subparsers: Any) -> None:
    pipeline = subparsers.add_parser("pipeline", help=f"run the pipeline ({', '.join(STAGE_NAMES)}, then the report)")
    _common(pipeline)
    pipeline.add_argument("--stages", nargs="+", default=None, metavar="STAGE", help=f"stages to run (default: the profile's): {', '.join(STAGE_NAMES)}")
    pipeline.set_defaults(handler=_run_pipeline)

    run = subparsers.add_parser("run", help="run one stage (and, from cache where possible, what it needs)")
    run.add_argument("stage", metavar="STAGE", help=", ".join(STAGE_NAMES))
    _common(run)
    run.set_defaults(handler=_run_stage)

    evaluate = subparsers.add_parser("evaluate", help="score a checkpoint on evaluation data sets (the pipeline's evaluate stage, nothing trained)")
    evaluate.add_argument("checkpoint", metavar="CKPT", help="a checkpoint file (ours, exported, or a published AdaCoF one)")
    evaluate.add_argument("--dataset", action="append", metavar="NAME", help="a data set name or folder:PATH (repeatable; default: the profile's)")
    evaluate.add_argument("--metric", action="append", metavar="NAME", help="a registered metric (repeatable; default: the profile's)")
    evaluate.add_argument("--baseline", action="append", metavar="NAME", help="a registered baseline (repeatable; default: the profile's)")
    _common(evaluate)
    evaluate.set_defaults(handler=_score_checkpoint, stage="evaluate")

    downstream = subparsers.add_parser("downstream", help="run downstream checks of a checkpoint (DAVIS J&F, tracking; nothing trained)")
    downstream.add_argument("checkpoint", metavar="CKPT", help="a checkpoint file")
    downstream.add_argument(
        "--check",
        action="append",
        metavar="BLOCK",
        help="a check, e.g. davis_jf or '{type: tracking_accuracy, dataset: otb100}' (repeatable; default: the profile's)",
    )
    downstream.add_argument("--baseline", action="append", metavar="NAME", help="a registered baseline (repeatable; default: the profile's)")
    _common(downstream)
    downstream.set_defaults(handler=_score_checkpoint, stage="downstream")

    serve = subparsers.add_parser("serve", help="serve the pipeline and stage flows as deployments for the Prefect UI")
    serve.add_argument("--profile", default="demo", help="the default profile of the deployments; its task runner is used")
    serve.add_argument("--limit", type=int, default=1, help="flow runs at a time (default: 1)")
    serve.set_defaults(handler=_serve)
