"""Scoring an interpolator on a data set of triplets: long rows of the eval_results table."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from torch import Tensor
from torch.utils.data import Dataset

from vosvfi_core.evaluation.interpolators import Interpolator
from vosvfi_core.evaluation.metric_registry import Metric, MetricUnavailable
from vosvfi_core.evaluation.metrics import apply_protocol

__all__ = ["evaluate"]


def _score(metric: Metric, output: Tensor, truth: Tensor, item: dict[str, Any], absent: Mapping[str, str]) -> tuple[float | None, str | None]:
    missing = sorted(key for key in metric.needs if key not in item)
    if missing:
        return None, "; ".join(absent.get(key, f"the data set gives no {key}") for key in missing)
    try:
        return float(metric.score(output, truth, item)), None
    except MetricUnavailable as unavailable:
        return None, unavailable.reason


def evaluate(
    interpolator: Interpolator,
    dataset: Dataset,
    *,
    metrics: Sequence[Metric],
    dataset_name: str,
    split: str,
    protocols: Sequence[str] = ("float",),
    max_samples: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    absent: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Every metric of every sample under every protocol: one row each (without run_id).

    Items are dicts with ``frame0``, ``frame1`` (the truth), ``frame2`` ([3, H, W] in [0, 1]),
    ``name`` and whatever extras a metric needs. A metric whose extra an item lacks gets a null
    value, its note ``absent[key]`` where given (why the key is missing), else a generic one.
    """
    count = len(dataset)  # type: ignore[arg-type]
    count = min(count, max_samples) if max_samples else count
    rows: list[dict[str, Any]] = []
    for index in range(count):
        item = dataset[index]
        frame0, truth, frame2 = item["frame0"], item["frame1"], item["frame2"]
        output = interpolator(frame0.unsqueeze(0), frame2.unsqueeze(0)).squeeze(0)
        common = {"model": interpolator.name, "dataset": dataset_name, "split": split, "sample": str(item["name"])}
        for protocol in protocols:
            scored = apply_protocol(output, protocol)
            for metric in metrics:
                value, note = _score(metric, scored, truth, item, absent or {})
                rows.append({**common, "protocol": protocol, "metric": metric.name, "value": value, "convention": metric.convention, "note": note})
        if progress is not None:
            progress(index + 1, count)
    return rows
