"""Cache keys that are right, and per-run result storage.

A task's key hashes: the task's name; each input (a config section by its :func:`config_hash`,
a :class:`DataRef` by a manifest of its files taken now, plain values as JSON); and the code
version of ``vosvfi_core`` + ``kernels``. Prefect's built-in ``TASK_SOURCE`` policy would hash
only the task function's own lines, so a change in the library would go unnoticed.

Results are persisted under ``runs/<run_id>/.prefect-results``, beside the run's tables.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from prefect.tasks import Task
from pydantic import BaseModel

from vosvfi_core import provenance
from vosvfi_core.config import config_hash
from vosvfi_core.provenance import DataRef

__all__ = ["CACHED", "RESULTS_DIR", "fingerprint", "for_run", "vosvfi_cache_key"]

RESULTS_DIR = ".prefect-results"
TaskT = TypeVar("TaskT", bound=Task)


def _canonical(value: Any) -> Any:
    """A JSON-able form of a task input that changes exactly when the input's meaning does."""
    if isinstance(value, DataRef):
        return {"data": value.name, "root": str(value.root), "members": list(value.members), "manifest": value.digest()}
    if isinstance(value, BaseModel):
        return {"config": type(value).__name__, "hash": config_hash(value)}
    if isinstance(value, Path):
        return {"path": str(value)}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {"dataclass": type(value).__name__, "fields": {f.name: _canonical(getattr(value, f.name)) for f in dataclasses.fields(value)}}
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    # Never key on repr(): it may hold a memory address and silently defeat (or fake) a cache hit.
    raise TypeError(f"cannot build a cache key from a {type(value).__name__}")


@functools.cache
def _tasks_version() -> str:
    """The digest of this package's sources: task bodies shape results too (baselines, pictures, masks read)."""
    return provenance.source_digest([Path(__file__).parent])


def fingerprint(task_name: str, inputs: Mapping[str, Any]) -> str:
    """The hex digest a task's cache key is made of (also names the task's working folders)."""
    payload = {"task": task_name, "code": [provenance.code_version(), _tasks_version()], "inputs": _canonical(dict(inputs))}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


# Task parameters that say how to run, not what to compute: a run on more threads is the same result.
_NOT_IN_KEY = frozenset({"threads"})


def vosvfi_cache_key(context: Any, parameters: dict[str, Any]) -> str:
    """Prefect ``cache_key_fn``: ``<task name>-<fingerprint>``, usable as a file name."""
    name = context.task.name
    return f"{name}-{fingerprint(name, {k: v for k, v in parameters.items() if k not in _NOT_IN_KEY})}"


# Options every cached task takes: our key, results persisted, no expiry.
CACHED: dict[str, Any] = {"cache_key_fn": vosvfi_cache_key, "persist_result": True}


def for_run(task: TaskT, run_folder: Path, *, refresh: bool = False) -> TaskT:
    """``task`` persisting its results under ``run_folder``; ``refresh`` recomputes and overwrites its cache."""
    storage = Path(run_folder).absolute() / RESULTS_DIR  # a Path: Prefect makes it a local file system
    return task.with_options(result_storage=storage, refresh_cache=True if refresh else None)
