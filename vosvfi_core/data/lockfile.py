"""``data_catalog.lock.yaml``: checksums recorded at first download, for sources that publish none."""

from __future__ import annotations

import fcntl
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from vosvfi_core.data._yaml import one_line, read_yaml
from vosvfi_core.errors import VosvfiError
from vosvfi_core.io.atomic import atomic_path

__all__ = ["LockFile", "LockedSource", "read_lock", "record_lock"]

_HEADER = (
    "# Written by `vosvfi data download`: the size and SHA-256 of each source whose catalog entry\n"
    "# publishes no checksum, recorded at its first download. Later downloads are checked against it.\n"
    "# Commit it so that every machine checks the same bytes; delete an entry to accept a new file.\n"
)


class LockedSource(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str
    size: int = Field(gt=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    recorded: str


class LockFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    datasets: dict[str, dict[str, LockedSource]] = Field(default_factory=dict)

    def get(self, dataset: str, source: str) -> LockedSource | None:
        return self.datasets.get(dataset, {}).get(source)


def read_lock(path: Path | None) -> LockFile:
    """The lock file at ``path``; empty when there is none (or no catalog path to put it beside)."""
    if path is None or not path.is_file():
        return LockFile()
    try:
        return LockFile.model_validate(read_yaml(path) or {})
    except ValidationError as error:
        raise VosvfiError(one_line(path, error)) from None


def record_lock(path: Path, dataset: str, source: str, *, url: str, size: int, sha256: str) -> None:
    """Add (or replace) one source's size and checksum, rewriting the file atomically.

    Downloads run in parallel (threads or Dask processes): an advisory lock on a sidecar file
    keeps one writer's read-modify-write from dropping another's entry.
    """
    try:
        with open(path.with_name(path.name + ".lck"), "a") as guard:
            fcntl.flock(guard, fcntl.LOCK_EX)
            lock = read_lock(path)
            stamp = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
            lock.datasets.setdefault(dataset, {})[source] = LockedSource(url=url, size=size, sha256=sha256, recorded=stamp)
            body = yaml.safe_dump(lock.model_dump(mode="json"), sort_keys=True, default_flow_style=False)
            with atomic_path(path) as tmp:
                tmp.write_text(_HEADER + body, encoding="utf-8")
    except OSError as error:
        raise VosvfiError(f"cannot write the lock file {path}: {error.strerror}") from None
