"""Per-run summaries of the long result tables: small lists of rows for the report and the UI.

Each summary stays long (one row per group and metric); :func:`pivot` turns a summary into one
row per group with a column per metric, at the last moment, for display.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

__all__ = ["SUMMARIES", "downstream_summary", "eval_summary", "learning_curves", "masks_summary", "pivot", "train_summary"]


def _finite_mean(values: pd.Series) -> float:
    finite = values[values.map(lambda v: v is not None and not pd.isna(v) and math.isfinite(v))]
    return float(finite.mean()) if len(finite) else math.nan


def eval_summary(eval_results: pd.DataFrame) -> list[dict[str, Any]]:
    """Mean of each metric per (model, dataset, split, protocol); identical frames (inf dB) and nulls are left out of the mean."""
    rows = []
    keys = ["model", "dataset", "split", "protocol", "metric"]
    for (model, dataset, split, protocol, metric), group in eval_results.groupby(keys, sort=True):
        notes = sorted({n for n in group["note"].dropna()})
        rows.append(
            {
                "model": model,
                "dataset": dataset,
                "split": split,
                "protocol": protocol,
                "metric": metric,
                "samples": int(group["value"].notna().sum()),
                "mean": round(_finite_mean(group["value"]), 5),
                "note": notes[0] if notes else "",
            }
        )
    return rows


def train_summary(history: pd.DataFrame) -> list[dict[str, Any]]:
    """Every logged quantity at the first and the last logged step of each trained model."""
    rows = []
    for model, group in history.groupby("model", sort=True):
        steps = sorted(group["step"].unique())
        for step in dict.fromkeys([steps[0], steps[-1]]):
            at = group[group["step"] == step]
            rows += [{"model": model, "step": int(step), "epoch": int(r.epoch), "quantity": r.quantity, "value": float(r.value)} for r in at.itertuples()]
    return rows


def learning_curves(history: pd.DataFrame) -> list[dict[str, Any]]:
    """The PSNR curves of training: ``val_psnr`` and every ``psnr:<data set>`` monitor, one row per (model, curve, step)."""
    curves = history[(history["quantity"] == "val_psnr") | history["quantity"].str.startswith("psnr:")]
    return [
        {"model": r.model, "curve": r.quantity, "step": int(r.step), "value": round(float(r.value), 3)}
        for r in curves.sort_values(["model", "quantity", "step"]).itertuples()
    ]


def downstream_summary(downstream: pd.DataFrame) -> list[dict[str, Any]]:
    """Mean of each metric per (model, dataset, check); per-frame and per-sample (or per-sequence) rows apart."""
    rows = []
    frame = downstream.assign(level=downstream["frame"].map(lambda f: "sample" if pd.isna(f) else "frame"))
    for (model, dataset, check, metric, level), group in frame.groupby(["model", "dataset", "check", "metric", "level"], sort=True):
        rows.append(
            {
                "model": model,
                "dataset": dataset,
                "check": check,
                "metric": metric,
                "level": level,
                "count": int(group["value"].notna().sum()),
                "mean": round(_finite_mean(group["value"].dropna()), 5),
            }
        )
    return rows


def masks_summary(masks: pd.DataFrame) -> list[dict[str, Any]]:
    rows = []
    for dataset, group in masks.groupby("dataset", sort=True):
        rows.append(
            {
                "dataset": dataset,
                "samples": int(group["sample"].nunique()),
                "masks": len(group),
                "mean_foreground_fraction": round(float(group["foreground_fraction"].mean()), 4),
            }
        )
    return rows


def pivot(rows: Sequence[dict[str, Any]], keys: Sequence[str], column: str, value: str) -> list[dict[str, Any]]:
    """One row per distinct ``keys`` with a column per value of ``column`` (first-seen order)."""
    table: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        key = tuple(row[k] for k in keys)
        table.setdefault(key, dict(zip(keys, key)))[str(row[column])] = row[value]
    return list(table.values())


# Table name → its summary; the report task and the UI artifacts use every entry.
SUMMARIES: dict[str, Callable[[pd.DataFrame], list[dict[str, Any]]]] = {
    "eval_results": eval_summary,
    "train_history": train_summary,
    "downstream_results": downstream_summary,
    "masks_manifest": masks_summary,
}
