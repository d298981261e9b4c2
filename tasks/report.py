"""Report stage tasks: write the result tables, then the Markdown report built from them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task

from tasks.caching import CACHED
from vosvfi_core.config import Comparison
from vosvfi_core.evaluation.strata import strata_frame, stratified_summary
from vosvfi_core.io.atomic import atomic_path
from vosvfi_core.provenance import DataRef, Produced, Snapshot
from vosvfi_core.results import read_table, write_table
from vosvfi_core.results.compare import compare_model_groups, write_comparison
from vosvfi_core.results.report import ReportInputs, build_report
from vosvfi_core.results.summaries import SUMMARIES

__all__ = ["REPORT_FILE", "ReportOutput", "write_report", "write_tables"]

REPORT_FILE = "report.md"


@dataclass(frozen=True)
class ReportOutput:
    markdown: str
    path: Path
    summaries: dict[str, list[dict[str, Any]]]  # table name → summary rows, for table artifacts
    figures: list[Path] = field(default_factory=list)  # PNG plots and pictures shown in the report, published as artifacts


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
    """Summaries of every table of the run, the profile's comparisons, and the Markdown report (``run_folder/report.md``).

    Tables not in ``written_now`` were left by an earlier invocation; the report says so.
    """
    frames = {name: read_table(ref.root, name) for name, ref in sorted(tables.items())}
    summaries = {name: SUMMARIES[name](frame) for name, frame in frames.items() if name in SUMMARIES}
    if "eval_results" in frames and "sample_strata" in frames:
        summaries["eval_results_by_motion"] = stratified_summary(frames["eval_results"], strata_frame(frames["sample_strata"]))
    compared = []
    scored = set(frames["eval_results"]["model"]) if "eval_results" in frames else set()
    for comparison in comparisons:
        missing = sorted((set(comparison.a) | set(comparison.b)) - scored)
        if missing:  # e.g. a run that scores a checkpoint instead of the profile's trained models
            get_run_logger().warning("comparison %s skipped: this run scored no %s", comparison.name, ", ".join(missing))
            continue
        frame = compare_model_groups(frames["eval_results"], comparison.a, comparison.b, run_id=run_id, protocol=comparison.protocol)
        parquet, markdown_file = write_comparison(frame, run_folder / "comparisons" / comparison.name)
        compared.append((comparison.name, markdown_file.read_text(encoding="utf-8")))
    pictures = sorted((run_folder / "pictures").rglob("*.png")) if (run_folder / "pictures").is_dir() else []
    figures = sorted((run_folder / "figures").glob("*.png")) if (run_folder / "figures").is_dir() else []
    shown = [sorted(folder.glob("*.png"))[0] for folder in sorted((run_folder / "pictures").glob("*")) if any(folder.glob("*.png"))]
    inputs = ReportInputs(
        run_id=run_id,
        profile=profile,
        run_folder=run_folder,
        eval_summary=summaries.get("eval_results", []),
        motion_summary=summaries.get("eval_results_by_motion", []),
        train_summary=summaries.get("train_history", []),
        downstream_summary=summaries.get("downstream_results", []),
        masks_summary=summaries.get("masks_manifest", []),
        tables=[ref.root for _, ref in sorted(tables.items())],
        pictures=pictures,
        shown_pictures=shown,
        figures=figures,
        comparisons=compared,
        kept=[name for name in tables if name not in written_now],
    )
    markdown = build_report(inputs)
    path = run_folder / REPORT_FILE
    with atomic_path(path) as tmp:
        tmp.write_text(markdown, encoding="utf-8")
    return Produced(ReportOutput(markdown, path, summaries, [*figures, *shown]), Snapshot.of(path, *figures, *shown))
