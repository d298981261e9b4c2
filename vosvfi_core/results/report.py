"""The run report in Markdown: our scores against published baselines, and where every output is."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from vosvfi_core.results.summaries import pivot

__all__ = ["Baseline", "ReportInputs", "build_report", "load_baselines", "markdown_table"]

_BASELINES_FILE = Path(__file__).with_name("baselines.yaml")


@dataclass(frozen=True)
class Baseline:
    model: str
    dataset: str
    psnr: float
    ssim: float
    source: str


def load_baselines(path: Path = _BASELINES_FILE) -> list[Baseline]:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    sources = raw["sources"]
    return [Baseline(e["model"], e["dataset"], float(e["psnr"]), float(e["ssim"]), sources[e["source"]]) for e in raw["entries"]]


def _cell(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "—"
        return f"{value:.4g}" if abs(value) < 1 else f"{value:.2f}"
    return str(value).replace("|", "\\|")


def markdown_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    if not rows:
        return "_(no rows)_"
    columns = list(columns or dict.fromkeys(key for row in rows for key in row))
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(row.get(c, "")) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


@dataclass(frozen=True)
class ReportInputs:
    run_id: str
    profile: str
    run_folder: Path
    eval_summary: list[dict[str, Any]] = field(default_factory=list)
    motion_summary: list[dict[str, Any]] = field(default_factory=list)  # eval means per motion bin (protocol, metric, model)
    train_summary: list[dict[str, Any]] = field(default_factory=list)
    learning_curves: list[dict[str, Any]] = field(default_factory=list)  # PSNR against optimiser steps (model, curve, step)
    downstream_summary: list[dict[str, Any]] = field(default_factory=list)
    masks_summary: list[dict[str, Any]] = field(default_factory=list)
    tables: list[Path] = field(default_factory=list)
    pictures: list[Path] = field(default_factory=list)
    shown_pictures: list[Path] = field(default_factory=list)  # one picture grid per data set, shown inline
    figures: list[Path] = field(default_factory=list)  # plots of the downstream checks, shown inline
    comparisons: list[tuple[str, str]] = field(default_factory=list)  # (name, Markdown) of the profile's comparisons
    kept: list[str] = field(default_factory=list)  # tables left from an earlier invocation, not rewritten now


def _headline(summary: list[dict[str, Any]], baselines: list[Baseline]) -> tuple[list[dict[str, Any]], list[str]]:
    """One row per (data set, model) with a column per metric: this run's models, then published figures."""
    scored = [r for r in summary if r["protocol"] == "float"]
    metrics = list(dict.fromkeys(r["metric"] for r in scored))
    ours = pivot([{**r, "source": "this run"} for r in scored], ["dataset", "model", "source"], "metric", "mean")
    samples: dict[tuple[str, str], int] = {}
    for r in scored:
        samples[r["dataset"], r["model"]] = max(samples.get((r["dataset"], r["model"]), 0), r["samples"])
    rows: list[dict[str, Any]] = []
    for dataset in sorted({r["dataset"] for r in ours}):
        rows += [{**r, "samples": samples[(dataset, r["model"])]} for r in ours if r["dataset"] == dataset]
        published = [b for b in baselines if b.dataset == dataset]
        rows += [{"dataset": dataset, "model": b.model, "source": "published", "samples": "", "psnr": b.psnr, "ssim": b.ssim} for b in published]
    return rows, ["dataset", "model", "source", "samples", *metrics]


def _notes(summary: list[dict[str, Any]]) -> list[str]:
    """Why some metric values are missing, once per (metric, reason)."""
    seen = dict.fromkeys((r["metric"], r["note"]) for r in summary if r.get("note"))
    return [f"- `{metric}`: {note}" for metric, note in seen]


def build_report(inputs: ReportInputs, baselines: list[Baseline] | None = None) -> str:
    baselines = load_baselines() if baselines is None else baselines
    folder = inputs.run_folder
    parts = [f"# vosvfi run `{inputs.run_id}` (profile `{inputs.profile}`)", ""]
    parts += ["## Headline: mean per data set, protocol `float` (unclamped output, all pixels)", ""]
    parts += [
        "SSIM here is the Gaussian-window SSIM of Wang et al. (11x11, sigma 1.5) averaged over RGB channels; "
        "published figures may use other SSIM conventions (Y channel, uniform 7x7 window). "
        "Each metric's exact convention is in the `convention` column of `eval_results`.",
        "",
    ]
    if inputs.eval_summary:
        rows, columns = _headline(inputs.eval_summary, baselines)
        parts += [markdown_table(rows, columns), ""]
        other = [r for r in inputs.eval_summary if r["protocol"] != "float"]
        if other:
            keys = ["dataset", "model", "protocol"]
            parts += ["Other protocols:", "", markdown_table(pivot(other, keys, "metric", "mean")), ""]
        by_motion = [r for r in inputs.motion_summary if r["protocol"] == "float"]
        if by_motion:
            parts += ["By motion (mean DIS flow length between the inputs; protocol `float`):", ""]
            rows = pivot([{**r, "bin": f"{r['motion_bin']} (n={r['samples']})"} for r in by_motion], ["dataset", "bin", "model"], "metric", "mean")
            parts += [markdown_table(rows), ""]
        notes = _notes(inputs.eval_summary)
        if notes:
            parts += ["Metrics without a value:", "", *notes, ""]
    else:
        parts += ["_No evaluation in this run._", ""]
    for name, markdown in inputs.comparisons:
        parts += [f"## Comparison `{name}`", "", markdown.split("\n", 1)[1].strip(), ""]
    parts += ["## Published baselines", ""]
    parts += [markdown_table([{"model": b.model, "dataset": b.dataset, "psnr": b.psnr, "ssim": b.ssim} for b in baselines]), ""]
    for source in sorted({b.source for b in baselines}):
        parts.append(f"Source: {source}.")
    parts += ["The VOS-VFI paper's own figures are not recorded yet.", ""]
    if inputs.train_summary:
        parts += [
            "## Training (first and last logged step)",
            "",
            markdown_table(pivot(inputs.train_summary, ["model", "step", "epoch"], "quantity", "value")),
            "",
        ]
    if inputs.learning_curves:
        parts += [
            "## Learning curves (PSNR in dB against optimiser steps)",
            "",
            "`val_psnr` is the set that picks `best.pth`; `psnr:<data set>` are monitors, scored from the untrained network on and never used to pick a checkpoint.",
            "",
            markdown_table(
                pivot(inputs.learning_curves, ["curve", "model"], "step", "value"),
                ["curve", "model", *(str(step) for step in sorted({r["step"] for r in inputs.learning_curves}))],
            ),
            "",
        ]
    if inputs.downstream_summary:
        parts += ["## Downstream checks (means)", ""]
        for check in dict.fromkeys(r["check"] for r in inputs.downstream_summary):
            rows = [r for r in inputs.downstream_summary if r["check"] == check]
            parts += [f"`{check}`:", "", markdown_table(pivot(rows, ["dataset", "level", "model"], "metric", "mean")), ""]
    for figure in inputs.figures:
        parts += [f"![{figure.stem}]({figure.relative_to(folder) if figure.is_relative_to(folder) else figure})", ""]
    if inputs.shown_pictures:
        parts += ["## Pictures", "", "Inputs, frame average, each model's output, truth and the first model's error; mask boundaries in green.", ""]
        for picture in inputs.shown_pictures:
            shown = picture.relative_to(folder) if picture.is_relative_to(folder) else picture
            parts += [f"`{picture.parent.name}`: ![{picture.stem}]({shown})", ""]
    if inputs.masks_summary:
        parts += ["## Masks", "", markdown_table(inputs.masks_summary), ""]
    if inputs.kept:
        parts += [f"Kept from an earlier invocation of this run (not recomputed now): {', '.join(sorted(inputs.kept))}.", ""]
    parts += ["## Files", ""]
    parts += [f"- table `{p.stem}`: `{p}`" for p in inputs.tables]
    if inputs.pictures:
        parts.append(f"- pictures ({len(inputs.pictures)}): `{folder / 'pictures'}`")
    parts += [
        "",
        "Read every run at once: `vosvfi_core.results.read_all_runs('eval_results')` (pandas), or in DuckDB",
        f"`SELECT * FROM '{folder.parent}/*/tables/eval_results.parquet'`.",
        "",
    ]
    return "\n".join(parts)
