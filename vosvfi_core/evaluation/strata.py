"""Per-sample difficulty strata and the evaluation summary broken down by motion.

A sample's strata come from its two input frames only (never from a model), so one table serves
every model evaluated on a data set:

- ``motion_px``: the mean length, in pixels, of the DIS flow (preset medium) between frame0 and
  frame2, averaged over the pixels of both directions (so swapping the frames changes nothing);
- ``occluded_fraction``: the fraction of those pixels that fail the forward-backward check of
  :mod:`vosvfi_core.flow` (Sundaram et al.: ALPHA 0.01, BETA 0.5 px², and flow leaving
  the frame counts as occluded).

:func:`stratified_summary` joins them to the long ``eval_results`` rows by (dataset, sample) and
gives the mean of every (model, dataset, protocol, metric) in every motion bin.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from torch import Tensor

from vosvfi_core.errors import VosvfiError
from vosvfi_core.flow import dis_flows, occluded

__all__ = ["MOTION_EDGES", "STRATA_CONVENTION", "motion_bin", "motion_bin_labels", "sample_motion", "strata_frame", "strata_rows", "stratified_summary"]

MOTION_EDGES: tuple[float, ...] = (0, 2, 5, 10, 20, math.inf)
_GROUP = ["model", "dataset", "protocol", "metric"]


def sample_motion(frame0: Tensor, frame2: Tensor) -> dict[str, float]:
    """``{"motion_px": …, "occluded_fraction": …}`` of two ``[3, H, W]`` frames in [0, 1]."""
    flow_02, flow_20 = dis_flows(frame0, frame2, "medium")
    lengths = np.concatenate([np.linalg.norm(flow_02, axis=-1).ravel(), np.linalg.norm(flow_20, axis=-1).ravel()])
    failing = np.concatenate([occluded(flow_02, flow_20).ravel(), occluded(flow_20, flow_02).ravel()])
    return {"motion_px": float(lengths.mean()), "occluded_fraction": float(failing.mean())}


def _check_edges(edges: Sequence[float]) -> None:
    if len(edges) < 2 or any(not a < b for a, b in zip(edges[:-1], edges[1:])):
        raise ValueError(f"motion bin edges must be at least two increasing numbers, got {tuple(edges)}")


def _label(low: float, high: float) -> str:
    return f">={low:g}px" if math.isinf(high) else f"{low:g}-{high:g}px"


def motion_bin_labels(edges: Sequence[float] = MOTION_EDGES) -> list[str]:
    """The bins' labels in order: ``["0-2px", "2-5px", …, ">=20px"]`` for the default edges."""
    _check_edges(edges)
    return [_label(low, high) for low, high in zip(edges[:-1], edges[1:])]


def motion_bin(value: float, edges: Sequence[float] = MOTION_EDGES) -> str:
    """The label of the bin ``[low, high)`` holding ``value``: ``motion_bin(3.2) == "2-5px"``."""
    _check_edges(edges)
    for low, high in zip(edges[:-1], edges[1:]):
        if low <= value < high:
            return _label(low, high)
    raise ValueError(f"motion {value} px lies outside the bins [{edges[0]:g}, {edges[-1]:g})")


def _strata_bins(strata: pd.DataFrame, edges: Sequence[float]) -> pd.DataFrame:
    missing = {"dataset", "sample", "motion_px", "occluded_fraction"} - set(strata.columns)
    if missing:
        raise VosvfiError(f"strata table: missing column(s) {', '.join(sorted(missing))}")
    duplicated = strata.duplicated(["dataset", "sample"])
    if duplicated.any():
        first = strata[duplicated].iloc[0]
        raise VosvfiError(f"strata table: sample {first['sample']!r} of {first['dataset']!r} appears more than once")
    binned = strata[["dataset", "sample", "motion_px", "occluded_fraction"]].copy()
    binned["motion_bin"] = [motion_bin(float(value), edges) for value in binned["motion_px"]]
    return binned


def stratified_summary(eval_rows: pd.DataFrame, strata: pd.DataFrame, *, edges: Sequence[float] = MOTION_EDGES) -> list[dict[str, Any]]:
    """Per (model, dataset, protocol, metric) and motion bin: the mean value over the bin's samples.

    Each entry also gives ``samples`` (how many non-null values the mean is over) and the bin's mean
    ``motion_px`` and ``occluded_fraction`` over those samples. Bins without a sample are left out;
    entries come sorted by model, dataset, protocol, metric and then in bin order. Every evaluated
    (dataset, sample) must have its strata: a missing one is an error naming it.
    """
    missing = set(_GROUP + ["sample", "value"]) - set(eval_rows.columns)
    if missing:
        raise VosvfiError(f"evaluation rows: missing column(s) {', '.join(sorted(missing))}")
    joined = eval_rows[[*_GROUP, "sample", "value"]].merge(_strata_bins(strata, edges), on=["dataset", "sample"], how="left", validate="many_to_one")
    unmatched = joined[joined["motion_bin"].isna()]
    if len(unmatched):
        first = unmatched.iloc[0]
        raise VosvfiError(
            f"strata table: no motion for sample {first['sample']!r} of {first['dataset']!r} ({unmatched[['dataset', 'sample']].drop_duplicates().shape[0]} sample(s) without)"
        )
    joined["value"] = pd.to_numeric(joined["value"])  # nulls arrive as None in an object column
    joined = joined.dropna(subset=["value"])
    order = {label: position for position, label in enumerate(motion_bin_labels(edges))}
    summary = (
        joined.groupby([*_GROUP, "motion_bin"], sort=False)
        .agg(samples=("value", "size"), mean=("value", "mean"), motion_px=("motion_px", "mean"), occluded_fraction=("occluded_fraction", "mean"))
        .reset_index()
    )
    summary["_order"] = summary["motion_bin"].map(order)
    summary = summary.sort_values([*_GROUP, "_order"]).drop(columns="_order")
    return [{key: (value.item() if hasattr(value, "item") else value) for key, value in record.items()} for record in summary.to_dict("records")]


STRATA_CONVENTION = "DIS medium on 8-bit grey, both directions; occluded: forward-backward check ALPHA 0.01, BETA 0.5 px^2, flow leaving the frame"


def strata_rows(dataset: Any, *, dataset_name: str, split: str, max_samples: int | None = None) -> list[dict[str, Any]]:
    """Rows of the ``sample_strata`` table (without run_id): each sample's ``motion_px`` and ``occluded_fraction``."""
    count = len(dataset) if not max_samples else min(len(dataset), max_samples)
    rows = []
    for index in range(count):
        item = dataset[index]
        common = {"dataset": dataset_name, "split": split, "sample": str(item["name"]), "convention": STRATA_CONVENTION}
        rows += [{**common, "quantity": name, "value": value} for name, value in sample_motion(item["frame0"], item["frame2"]).items()]
    return rows


def strata_frame(rows: pd.DataFrame) -> pd.DataFrame:
    """The long ``sample_strata`` rows as one row per (dataset, sample) with ``motion_px`` and ``occluded_fraction`` columns."""
    return rows.pivot_table(index=["dataset", "sample"], columns="quantity", values="value", aggfunc="first").reset_index()
