"""Report stage tasks: write the result tables, then the Markdown report built from them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import get_run_logger, task

from tasks.caching import CACHED
from vosvfi_core.config import Comparison
from vosvfi_core.provenance import DataRef, Produced, Snapshot
from vosvfi_core.results import write_table
from vosvfi_core.results.run_report import write_run_report

__all__ = ["write_report", "write_tables"]


@task(name="write-tables", **CACHED)
def write_tables(run_id: str, run_folder: Path, rows: dict[str, list[dict[str, Any]]]) -> Produced:
    """Each table's rows (run_id added) as Parquet under ``run_folder``; returns refs to the files."""
    written = {}
    for table, table_rows in rows.items():
        path = write_table(run_folder, table, [{"run_id": run_id, **row} for row in table_rows])
        written[table] = DataRef(table, path)
        get_run_logger().info("%s: %d rows -> %s", table, len(table_rows), path)
    return Produced(written, Snapshot.of(*(ref.root for ref in written.values())))


@task(name="write-report", **CACHED)
def write_report(run_id: str, profile: str, run_folder: Path, tables: dict[str, DataRef], written_now: list[str], comparisons: list[Comparison]) -> Produced:
    """The run's :class:`~vosvfi_core.results.run_report.ReportOutput` (``run_folder/report.md``, summaries, figures shown)."""
    report = write_run_report(run_id, profile, run_folder, {name: ref.root for name, ref in tables.items()}, written_now, comparisons)
    for line in report.skipped:
        get_run_logger().warning("%s", line)
    return Produced(report, Snapshot.of(report.path, *report.figures))
