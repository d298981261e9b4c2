"""End to end: a real ``prefect server start`` on 127.0.0.1, the demo pipeline at tiny sizes through
the ``vosvfi`` command, then the flow run, its task runs and its artifacts read back through the
Prefect client.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from pipeline_profile import TINY_PROFILE

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def prefect_server(tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect-home"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    env.pop("PREFECT_API_URL", None)
    prefect = Path(sys.executable).with_name("prefect")
    log = (tmp_path / "server.log").open("wb")
    server = subprocess.Popen([str(prefect), "server", "start", "--host", "127.0.0.1", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    api = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, (tmp_path / "server.log").read_text()[-2000:]
            try:
                with urllib.request.urlopen(f"{api}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "prefect server did not answer /api/health within 120 s"
            time.sleep(0.5)
        yield api
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def test_feature_demo_pipeline_against_a_real_server(prefect_server: str, tmp_path: Path) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName, FlowRunFilter, FlowRunFilterId
    from prefect.settings import PREFECT_API_URL, temporary_settings

    profile = tmp_path / "tiny.yaml"
    profile.write_text(yaml.safe_dump(TINY_PROFILE))
    env = {
        **os.environ,
        "PREFECT_API_URL": prefect_server,
        "PREFECT_HOME": str(tmp_path / "client-home"),
        "VOSVFI_DATA_ROOT": str(tmp_path / "data"),
        "VOSVFI_RUNS_ROOT": str(tmp_path / "runs"),
    }
    command = [sys.executable, "-m", "flows.cli", "pipeline", "--profile", str(profile), "--run-id", "e2e"]
    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr[-3000:]
    for line in ("tables:", "pictures:", "report:", "make ui"):
        assert line in finished.stdout
    assert (tmp_path / "runs" / "e2e" / "report.md").is_file()

    with temporary_settings({PREFECT_API_URL: prefect_server}), get_client(sync_client=True) as client:
        flow_runs = client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=["vosvfi-pipeline"])))
        assert len(flow_runs) == 1 and flow_runs[0].state.is_completed()
        run_filter = FlowRunFilter(id=FlowRunFilterId(any_=[flow_runs[0].id]))
        deadline = time.monotonic() + 30
        while True:  # task run states arrive as events; give the server a moment to record them
            task_runs = client.read_task_runs(flow_run_filter=run_filter)
            if (task_runs and all(t.state and t.state.is_completed() for t in task_runs)) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert all(t.state.is_completed() for t in task_runs), [(t.name, t.state.name) for t in task_runs]
        names = {t.name for t in task_runs}
        assert {"evaluate-synthetic", "evaluate-synthetic_davis", "masks-synthetic-0", "masks-synthetic-1", "downstream-foreground_psnr"} <= names
        for prefix in ("generate-demo-data-", "train-", "write-tables-", "write-report-"):
            assert any(name.startswith(prefix) for name in names), prefix
        artifacts = client.read_artifacts(flow_run_filter=run_filter)
        by_key = {a.key: a for a in artifacts if a.key}
        assert by_key["report-e2e"].type == "markdown" and "# vosvfi run `e2e`" in by_key["report-e2e"].data
        for key in ("eval-results-summary-e2e", "train-history-summary-e2e", "downstream-results-summary-e2e", "masks-manifest-summary-e2e"):
            assert by_key[key].type == "table", key
        assert by_key["train-progress-e2e"].type == "progress" and by_key["train-progress-e2e"].data == 100.0
        assert by_key["evaluate-progress-synthetic-e2e"].type == "progress" and by_key["evaluate-progress-synthetic-e2e"].data == 100.0
        assert by_key["picture-synthetic-e2e"].type == "markdown" and "data:image/png;base64," in by_key["picture-synthetic-e2e"].data


def test_feature_dask_profile_without_an_api_starts_one_server_for_all_workers(tmp_path: Path) -> None:
    """Without PREFECT_API_URL each Dask worker would start an ephemeral API server of its own."""
    profile = tmp_path / "tiny.yaml"
    profile.write_text(yaml.safe_dump(dict(TINY_PROFILE, task_runner={"kind": "dask", "n_workers": 2, "threads_per_worker": 1})))
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "VOSVFI_DATA_ROOT": str(tmp_path / "data"),
        "VOSVFI_RUNS_ROOT": str(tmp_path / "runs"),
    }
    env.pop("PREFECT_API_URL", None)
    command = [sys.executable, "-m", "flows.cli", "run", "masks", "--profile", str(profile), "--run-id", "dask"]
    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr[-3000:]
    log = finished.stdout + finished.stderr
    assert log.count("Starting temporary server") == 1
    assert log.count("Finished in state Completed()") >= 4  # data, two mask shards, tables, report
    import pyarrow.parquet as pq

    assert pq.read_table(tmp_path / "runs" / "dask" / "tables" / "masks_manifest.parquet").num_rows == 12
