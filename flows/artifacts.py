"""Publishing a run's report, table summaries and figures as Prefect artifacts (shown on the Artifacts page)."""

from __future__ import annotations

import base64
import math
from typing import Any

from prefect.artifacts import create_markdown_artifact, create_table_artifact

from tasks.progress import artifact_key
from vosvfi_core.results.run_report import ReportOutput
from vosvfi_core.results.tables import FIGURES_FOLDER

__all__ = ["publish"]


def _json_safe(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()} for row in rows]


def publish(run_id: str, report: ReportOutput) -> None:
    """The run's artifacts, published on every run (also when the report came from cache)."""
    create_markdown_artifact(report.markdown, key=artifact_key("report", run_id), description=f"vosvfi report of run {run_id}")
    for table, rows in report.summaries.items():
        if rows:
            key = artifact_key(table.replace("_", "-"), "summary", run_id)
            create_table_artifact(_json_safe(rows), key=key, description=f"{table} summary of run {run_id}")
    for figure in report.figures:
        image = base64.b64encode(figure.read_bytes()).decode()
        # A check's plot (figures/<name>.png) by its name; an example picture (pictures/<data set>/…) by its data set.
        key = artifact_key("figure", figure.stem, run_id) if figure.parent.name == FIGURES_FOLDER else artifact_key("picture", figure.parent.name, run_id)
        create_markdown_artifact(f"![{figure.stem}](data:image/png;base64,{image})", key=key, description=f"{figure.stem} of run {run_id} ({figure})")
