"""The Prefect pipeline under ``prefect_test_harness``: caching, invalidation, resume, Parquet, Dask, serve.

Tiny sizes throughout (32x32 frames, one or a few training steps) so the whole module takes a
couple of minutes on a 2-core CPU.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import yaml
from PIL import Image
from pipeline_profile import TINY_PROFILE

from vosvfi_core.results import SCHEMAS

STAGE_PREFIXES = (
    ("generate-demo-data", "data"),
    ("masks-", "masks"),
    ("train-", "train"),
    ("evaluate-", "evaluate"),
    ("downstream-", "downstream"),
    ("write-", "report"),
)


def _stage(task_run_name: str) -> str:
    return next(stage for prefix, stage in STAGE_PREFIXES if task_run_name.startswith(prefix))


def _task_states(flow_run_id: Any, expected: int | None = None) -> dict[str, list[str]]:
    """State names of a flow run's task runs, by stage (polled: task run states arrive as events)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    deadline = time.monotonic() + 30
    while True:
        with get_client(sync_client=True) as client:
            runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
        final = [r for r in runs if r.state is not None and r.state.is_final()]
        if (len(final) == len(runs) and runs and (expected is None or len(runs) >= expected)) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    states: dict[str, list[str]] = {}
    for run in runs:
        states.setdefault(_stage(run.name), []).append(run.state.name if run.state else "?")
    return states


def _run(workspace: Path, flow: Any = None, expected: int | None = None, **parameters: Any) -> tuple[dict[str, Any], dict[str, list[str]], float]:
    from flows.pipeline import pipeline

    flow = flow or pipeline
    started = time.perf_counter()
    state = flow(profile=str(workspace / "tiny.yaml"), return_state=True, **parameters)
    seconds = time.perf_counter() - started
    assert state.is_completed(), state.message
    return state.result(), _task_states(state.state_details.flow_run_id, expected), seconds


def _all(states: dict[str, list[str]], stages: tuple[str, ...], name: str) -> bool:
    return all(s == name for stage in stages for s in states.get(stage, ["missing"]))


ALL = ("data", "masks", "train", "evaluate", "downstream", "report")


def test_feature_unchanged_rerun_completes_from_cache(prefect_api: str, workspace: Path) -> None:
    first, states, _ = _run(workspace, run_id="cache")
    assert _all(states, ALL, "Completed"), states
    assert len(states["masks"]) == 2 and len(states["evaluate"]) == 2  # one task per shard, per data set
    again, states, seconds = _run(workspace, run_id="cache", expected=sum(map(len, states.values())))
    assert _all(states, ALL, "Cached"), states
    assert seconds < 15, f"a cached rerun took {seconds:.1f} s"
    assert again == first
    # Parquet tables with the declared schemas, side by side with the report and pictures.
    folder = Path(first["run_folder"])
    assert sorted(first["tables"]) == sorted(SCHEMAS)
    for table, path in first["tables"].items():
        assert pq.read_schema(path).equals(SCHEMAS[table], check_metadata=False), table
        assert pq.read_table(path).num_rows > 0, table
    eval_rows = pq.read_table(first["tables"]["eval_results"]).to_pylist()
    assert {r["model"] for r in eval_rows} == {"adacof", "frame_average"} and {r["run_id"] for r in eval_rows} == {"cache"}
    assert (folder / "report.md").read_text().startswith("# vosvfi run `cache`")
    assert sorted(p.parent.name for p in (folder / "pictures").rglob("*.png")) == ["synthetic", "synthetic_davis"]


def test_feature_changing_a_stage_reruns_it_and_later_stages_only(prefect_api: str, workspace: Path) -> None:
    _run(workspace, run_id="change")
    _, states, _ = _run(workspace, run_id="change", overrides=["train.lr=0.0005"])
    assert _all(states, ("data", "masks"), "Cached"), {stage: states.get(stage) for stage in ALL}
    assert _all(states, ("train", "evaluate", "downstream", "report"), "Completed"), states
    _, states, _ = _run(workspace, run_id="change", overrides=["train.lr=0.0005", "evaluate.protocols=[float]"])
    assert _all(states, ("data", "masks", "train", "downstream"), "Cached"), states
    assert _all(states, ("evaluate", "report"), "Completed"), states
    # Back to the first settings: training and the rest come from cache; outputs that the changed
    # runs overwrote in the run folder (pictures, tables) are recomputed rather than left stale.
    result, states, _ = _run(workspace, run_id="change")
    assert _all(states, ("data", "masks", "train", "downstream"), "Cached"), states
    assert "Completed" in states["report"], states
    assert {r["protocol"] for r in pq.read_table(result["tables"]["eval_results"]).to_pylist()} == {"float", "uint8"}


def test_feature_code_version_change_invalidates_everything(prefect_api: str, workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vosvfi_core import provenance

    _run(workspace, run_id="code")
    monkeypatch.setattr(provenance, "code_version", lambda: "a-different-library-version")
    result, states, _ = _run(workspace, run_id="code")
    assert _all(states, ALL, "Completed"), states
    assert result["train_start_step"] == {"adacof": 0}  # a fresh checkpoint folder: nothing from the old code is resumed


def test_feature_killed_run_resumes_from_checkpoint(prefect_api: str, workspace: Path) -> None:
    profile = dict(TINY_PROFILE, train={**TINY_PROFILE["train"], "epochs": 6, "checkpoint_every": 1})
    (workspace / "tiny.yaml").write_text(yaml.safe_dump(profile))
    script = textwrap.dedent(f"""
        from flows.pipeline import pipeline
        pipeline(profile={str(workspace / "tiny.yaml")!r}, run_id="resume")
    """)
    env = {**os.environ, "PREFECT_API_URL": prefect_api}
    child = subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checkpoints = workspace / "runs" / "resume" / "checkpoints"
    deadline = time.monotonic() + 240
    try:
        while not list(checkpoints.glob("*/last.pth")):
            assert child.poll() is None, "the pipeline ended before writing a checkpoint"
            assert time.monotonic() < deadline, "no checkpoint after 240 s"
            time.sleep(0.2)
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    result, states, _ = _run(workspace, run_id="resume")
    assert _all(states, ("data", "masks"), "Cached"), {stage: states.get(stage) for stage in ALL}
    assert _all(states, ("train", "evaluate", "downstream", "report"), "Completed"), states
    assert 0 < result["train_start_step"]["adacof"] < result["train_steps"]["adacof"] == 6
    history = pq.read_table(result["tables"]["train_history"]).to_pylist()
    assert sorted({r["step"] for r in history}) == [1, 2, 3, 4, 5, 6]
    leftovers = [p for root in ("runs", "data") for p in (workspace / root).rglob("*") if ".tmp" in p.name]
    assert leftovers == []


@pytest.mark.slow
@pytest.mark.shared
def test_feature_training_monitors_middlebury_where_it_is_in_place(prefect_api: str, workspace: Path, shared_dir: Path) -> None:
    from flows.pipeline import STAGE_FLOWS
    from vosvfi_core.checkpoint_format import load_checkpoint
    from vosvfi_core.data.sets import data_set
    from vosvfi_core.training.validation import validation_psnr

    # A copy of the 12 sequences cropped to 64x64: the catalog's layout, at a fraction of the cost.
    middlebury = workspace / "middlebury_other"
    for source in (shared_dir / "data" / "middlebury_other").glob("*/*/*.png"):
        target = middlebury / source.relative_to(shared_dir / "data" / "middlebury_other")
        target.parent.mkdir(parents=True, exist_ok=True)
        Image.open(source).convert("RGB").crop((0, 0, 64, 64)).save(target)
    data = {**TINY_PROFILE["data"], "local": {"middlebury_other": str(middlebury)}}
    train = {**TINY_PROFILE["train"], "monitor": ["middlebury_other"]}
    (workspace / "tiny.yaml").write_text(yaml.safe_dump(dict(TINY_PROFILE, data=data, train=train)))
    result, _, _ = _run(workspace, flow=STAGE_FLOWS["train"], run_id="validation")
    history = pq.read_table(result["tables"]["train_history"]).to_pandas()

    def last(quantity: str) -> float:
        return history[history["quantity"] == quantity].sort_values("step")["value"].iloc[-1]

    assert sorted(history[history["quantity"] == "psnr:middlebury_other"]["step"]) == [0, 1]  # from the untrained network on
    model, _ = load_checkpoint(next((workspace / "runs" / "validation" / "checkpoints").glob("*/model.pth")))
    on_middlebury = validation_psnr(model, data_set("middlebury_other").open_triplets(middlebury))
    on_synthetic = validation_psnr(model, data_set("synthetic").open_triplets(workspace / "data" / "demo"))
    # best.pth is chosen on the synthetic test split; Middlebury is only a learning curve.
    assert last("psnr:middlebury_other") == pytest.approx(on_middlebury, abs=1e-4)
    assert last("val_psnr") == pytest.approx(on_synthetic, abs=1e-4) and abs(on_middlebury - on_synthetic) > 0.1


@pytest.mark.slow
def test_feature_sharded_masks_run_on_a_local_dask_cluster(prefect_api: str, workspace: Path) -> None:
    from flows.pipeline import STAGE_FLOWS
    from flows.runner import task_runner_for
    from vosvfi_core.config import DaskRunner

    runner = task_runner_for(DaskRunner(n_workers=2, threads_per_worker=1))
    assert type(runner).__name__ == "DaskTaskRunner"
    result, states, _ = _run(workspace, flow=STAGE_FLOWS["masks"].with_options(task_runner=runner), run_id="dask")
    assert states["masks"] == ["Completed", "Completed"] and states["data"] == ["Completed"], states
    manifest = pq.read_table(result["tables"]["masks_manifest"]).to_pylist()
    assert len(manifest) == 4 * 3  # 4 training triplets x 3 frames, over 2 shards
    assert {r["sample"] for r in manifest} == {"00001/0001", "00001/0002", "00001/0003", "00001/0004"}


def test_smoke_serve_registers_a_deployment_per_flow(prefect_api: str) -> None:
    from prefect.client.orchestration import get_client

    from flows.serve import DEPLOYMENT_NAMES, build_runner
    from vosvfi_core.config import load_profile

    build_runner(load_profile("demo"), "demo")
    with get_client(sync_client=True) as client:
        deployments = {d.name: d for d in client.read_deployments()}
    assert set(DEPLOYMENT_NAMES) <= set(deployments)
    assert deployments["train"].parameters == {"profile": "demo"}
    assert set(deployments["pipeline"].parameter_openapi_schema["properties"]) == {"profile", "stages", "run_id", "overrides", "refresh"}
