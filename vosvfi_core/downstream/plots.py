"""OTB success and precision plots of the tracking check, from its per-frame rows.

Each model's curve is the mean over sequences of the per-sequence curves (as OTB's overall
plots average them), so its AUC equals the mean of the sequences' ``auc`` rows. Drawn with the
Agg canvas directly (no pyplot, no global backend switch) and written atomically.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from vosvfi_core.downstream.tracking_measures import (
    PRECISION_PIXELS,
    PRECISION_THRESHOLDS,
    SUCCESS_THRESHOLDS,
    TRACKING_CHECK,
    absent_rule,
    auc,
    precision_curve,
    success_curve,
)
from vosvfi_core.errors import VosvfiError
from vosvfi_core.io.atomic import atomic_path

__all__ = ["TrackingCurves", "plot_tracking_curves", "tracking_curves"]


@dataclass(frozen=True)
class TrackingCurves:
    """One model's success and precision curves, averaged over its sequences."""

    model: str
    sequences: int
    success: np.ndarray  # at SUCCESS_THRESHOLDS
    precision: np.ndarray  # at PRECISION_THRESHOLDS

    @property
    def auc(self) -> float:
        return auc(self.success)

    @property
    def precision_20(self) -> float:
        return float(self.precision[int(np.flatnonzero(PRECISION_THRESHOLDS == PRECISION_PIXELS)[0])])


def _records(rows: Iterable[Mapping[str, Any]] | Any) -> list[Mapping[str, Any]]:
    """Rows as dicts, from a list of dicts or a pandas DataFrame of the downstream_results table."""
    to_dict = getattr(rows, "to_dict", None)
    return list(to_dict("records")) if callable(to_dict) else list(rows)


def tracking_curves(rows: Iterable[Mapping[str, Any]] | Any) -> dict[str, TrackingCurves]:
    """Per model (in the order the rows name them): curves from the ``iou`` and ``center_error`` rows."""
    values: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}  # per sequence: iou, center_error lists and the absent rule
    for row in _records(rows):
        if row["check"] != TRACKING_CHECK or row["metric"] not in ("iou", "center_error"):
            continue
        key = (str(row["dataset"]), str(row["sample"]))
        per_sequence = values.setdefault(str(row["model"]), {}).setdefault(key, {"iou": [], "center_error": [], "absent": absent_rule(row.get("convention"))})
        per_sequence[row["metric"]].append(np.nan if row["value"] is None else float(row["value"]))  # NaN: no usable truth box
    curves = {}
    for model, sequences in values.items():
        success = np.nanmean([success_curve(np.array(v["iou"]), absent=v["absent"]) for v in sequences.values()], axis=0)
        precision = np.nanmean([precision_curve(np.array(v["center_error"]), absent=v["absent"]) for v in sequences.values()], axis=0)
        curves[model] = TrackingCurves(model, len(sequences), success, precision)
    return curves


def plot_tracking_curves(rows: Iterable[Mapping[str, Any]] | Any, path: Path, *, title: str = "") -> Path:
    """Success (left) and precision (right) plots of every model, one line each, as a PNG at ``path``."""
    curves = tracking_curves(rows)
    if not curves:
        raise VosvfiError(f"no {TRACKING_CHECK} rows with iou and center_error to plot into {path}")
    figure = Figure(figsize=(10, 4.2), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    success_axes, precision_axes = figure.subplots(1, 2)
    for curve in curves.values():
        success_axes.plot(SUCCESS_THRESHOLDS, curve.success, label=f"{curve.model} [{curve.auc:.3f}]")
        precision_axes.plot(PRECISION_THRESHOLDS, curve.precision, label=f"{curve.model} [{curve.precision_20:.3f}]")
    success_axes.set(xlabel="overlap threshold", ylabel="success rate", title="Success plot (AUC)", xlim=(0, 1), ylim=(0, 1.02))
    precision_axes.set(xlabel="location error threshold (px)", ylabel="precision", title=f"Precision plot (at {PRECISION_PIXELS:g} px)")
    precision_axes.set(xlim=(0, PRECISION_THRESHOLDS[-1]), ylim=(0, 1.02))
    for axes in (success_axes, precision_axes):
        axes.grid(True, alpha=0.3)
        axes.legend(loc="lower left" if axes is success_axes else "lower right", fontsize="small")
    if title:
        figure.suptitle(title)
    path = Path(path)
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png")
    return path
