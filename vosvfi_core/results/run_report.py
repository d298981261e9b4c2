"""Assembling a run's report: summaries of its tables, the profile's comparisons, its pictures and plots, ``report.md``."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from vosvfi_core.config import Comparison
from vosvfi_core.evaluation.strata import strata_frame, stratified_summary
from vosvfi_core.io.atomic import atomic_path
from vosvfi_core.results.compare import compare_model_groups, downstream_scores, write_comparison
from vosvfi_core.results.report import ReportInputs, build_report
from vosvfi_core.results.summaries import SUMMARIES, learning_curves
from vosvfi_core.results.tables import FIGURES_FOLDER, PICTURES_FOLDER, read_table

__all__ = ["REPORT_FILE", "ReportOutput", "write_run_report"]

REPORT_FILE = "report.md"


@dataclass(frozen=True)
class ReportOutput:
    markdown: str
    path: Path
    summaries: dict[str, list[dict[str, Any]]]  # table name → summary rows
    figures: list[Path] = field(default_factory=list)  # the PNG plots and pictures the report shows
    skipped: list[str] = field(default_factory=list)  # one line per comparison left out, and why


def _comparisons(
    eval_results: pd.DataFrame | None, downstream: pd.DataFrame | None, comparisons: Sequence[Comparison], run_id: str, run_folder: Path
) -> tuple[list[tuple[str, str]], list[str]]:
    """(name, Markdown) of each comparison this run can make, and a line for each it cannot.

    The per-sequence scores of the downstream checks (e.g. ``davis_jf.JF_mean``) are paired beside the evaluation's.
    """
    compared, skipped = [], []
    eval_results = eval_results if eval_results is not None else pd.DataFrame({"model": []})
    scored = set(eval_results["model"])
    for comparison in comparisons:
        missing = sorted((set(comparison.a) | set(comparison.b)) - scored)
        if missing:  # e.g. a run that scores a checkpoint instead of the profile's trained models
            skipped.append(f"comparison {comparison.name} skipped: this run scored no {', '.join(missing)}")
            continue
        scores = eval_results if downstream is None else pd.concat([eval_results, downstream_scores(downstream, comparison.protocol)], ignore_index=True)
        frame = compare_model_groups(scores, comparison.a, comparison.b, run_id=run_id, protocol=comparison.protocol)
        _, markdown_file = write_comparison(frame, run_folder / "comparisons" / comparison.name)
        compared.append((comparison.name, markdown_file.read_text(encoding="utf-8")))
    return compared, skipped


def write_run_report(
    run_id: str, profile: str, run_folder: Path, tables: Mapping[str, Path], written_now: Collection[str], comparisons: Sequence[Comparison]
) -> ReportOutput:
    """Summaries of every table of the run (name → Parquet file), the profile's comparisons, and ``run_folder/report.md``.

    Tables not in ``written_now`` were left by an earlier invocation; the report says so.
    """
    frames = {name: read_table(path, name) for name, path in sorted(tables.items())}
    summaries = {name: SUMMARIES[name](frame) for name, frame in frames.items() if name in SUMMARIES}
    if "eval_results" in frames and "sample_strata" in frames:
        summaries["eval_results_by_motion"] = stratified_summary(frames["eval_results"], strata_frame(frames["sample_strata"]))
    if "train_history" in frames:
        summaries["learning_curves"] = learning_curves(frames["train_history"])
    compared, skipped = _comparisons(frames.get("eval_results"), frames.get("downstream_results"), comparisons, run_id, run_folder)
    pictures_root, figures_root = run_folder / PICTURES_FOLDER, run_folder / FIGURES_FOLDER
    pictures = sorted(pictures_root.rglob("*.png")) if pictures_root.is_dir() else []
    figures = sorted(figures_root.glob("*.png")) if figures_root.is_dir() else []
    shown = [sorted(folder.glob("*.png"))[0] for folder in sorted(pictures_root.glob("*")) if any(folder.glob("*.png"))]
    inputs = ReportInputs(
        run_id=run_id,
        profile=profile,
        run_folder=run_folder,
        eval_summary=summaries.get("eval_results", []),
        motion_summary=summaries.get("eval_results_by_motion", []),
        train_summary=summaries.get("train_history", []),
        learning_curves=summaries.get("learning_curves", []),
        downstream_summary=summaries.get("downstream_results", []),
        masks_summary=summaries.get("masks_manifest", []),
        tables=[path for _, path in sorted(tables.items())],
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
    return ReportOutput(markdown, path, summaries, [*figures, *shown], skipped)
