"""Publishing a long task's progress as a Prefect progress artifact (rate-limited)."""

from __future__ import annotations

import re
import time

from prefect import get_run_logger
from prefect.artifacts import create_progress_artifact, update_progress_artifact

__all__ = ["ProgressArtifact", "artifact_key"]


def artifact_key(*parts: str) -> str:
    """An artifact key from ``parts``: lowercase letters, digits and dashes only (Prefect's rule)."""
    return re.sub(r"-+", "-", re.sub(r"[^a-z0-9-]", "-", "-".join(parts).lower())).strip("-")


class ProgressArtifact:
    """A progress artifact updated at most every ``interval`` seconds, and always at 100 %."""

    def __init__(self, key: str, description: str, *, interval: float = 5.0) -> None:
        self.artifact_id = create_progress_artifact(0.0, key=key, description=description)
        self.interval = interval
        self._last = time.monotonic()

    def update(self, done: int, total: int, message: str = "") -> None:
        now = time.monotonic()
        if done < total and now - self._last < self.interval:
            return
        self._last = now
        update_progress_artifact(self.artifact_id, 100.0 * done / max(total, 1))
        if message:
            get_run_logger().info(message)
