"""The task runner a profile asks for, and a Prefect API that Dask worker processes can reach.

Under Dask, tasks run in worker processes, which talk to the Prefect API themselves. Without a
``PREFECT_API_URL`` each worker would start its own ephemeral API server (8-19 s each, on one
SQLite file). :func:`api_for_workers` therefore starts one local server for the whole run and
points the settings at it; prefect-dask ships the settings context to the workers with every
task, so they all use it. With ``PREFECT_API_URL`` already set (``make ui``, a real server, the
test harness) nothing is started.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from prefect.settings import PREFECT_API_URL, temporary_settings
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from vosvfi_core.config import DaskRunner, ThreadsRunner

__all__ = ["api_for_workers", "task_runner_for"]


def task_runner_for(config: ThreadsRunner | DaskRunner) -> TaskRunner:
    if isinstance(config, ThreadsRunner):
        return ThreadPoolTaskRunner(max_workers=config.max_workers)
    from prefect_dask import DaskTaskRunner

    if config.address:
        return DaskTaskRunner(address=config.address)
    cluster = {"n_workers": config.n_workers, "threads_per_worker": config.threads_per_worker, "processes": True, "dashboard_address": None}
    return DaskTaskRunner(cluster_kwargs=cluster)


@contextlib.contextmanager
def api_for_workers(config: ThreadsRunner | DaskRunner) -> Iterator[None]:
    """For Dask without a configured API: one local Prefect server for the flow and all workers."""
    if isinstance(config, ThreadsRunner) or PREFECT_API_URL.value():
        yield
        return
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()  # the instance an ephemeral client would use in this process
    server.start()
    with temporary_settings({PREFECT_API_URL: server.api_url}):
        yield
