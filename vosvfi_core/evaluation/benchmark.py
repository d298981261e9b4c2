"""Scoring an interpolator on a data set of triplets: long rows of the eval_results table."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import Dataset

from vosvfi_core.evaluation.interpolators import Interpolator
from vosvfi_core.evaluation.metric_registry import Metric, MetricUnavailable
from vosvfi_core.evaluation.metrics import apply_protocol
from vosvfi_core.io.images import write_image

__all__ = ["evaluate", "picture_name"]


def picture_name(sample: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", sample) + ".png"


def _write_picture(path: Path, frame0: Tensor, output: Tensor, truth: Tensor, frame2: Tensor) -> None:
    """Inputs, the interpolated frame and the truth side by side: frame0 | output | truth | frame2."""
    write_image(path, torch.cat([frame0, output.clamp(0, 1), truth, frame2], dim=2))


def _score(metric: Metric, output: Tensor, truth: Tensor, item: dict[str, Any]) -> tuple[float | None, str | None]:
    missing = sorted(key for key in metric.needs if key not in item)
    if missing:
        return None, f"the data set gives no {', '.join(missing)}"
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
    pictures_dir: Path | None = None,
    pictures: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> list[dict[str, Any]]:
    """Every metric of every sample under every protocol: one row each (without run_id).

    Items are dicts with ``frame0``, ``frame1`` (the truth), ``frame2`` ([3, H, W] in [0, 1]),
    ``name`` and whatever extras a metric needs. The first ``pictures`` samples are also saved as
    pictures in ``pictures_dir``.
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
                value, note = _score(metric, scored, truth, item)
                rows.append({**common, "protocol": protocol, "metric": metric.name, "value": value, "convention": metric.convention, "note": note})
        if pictures_dir is not None and index < pictures:
            _write_picture(Path(pictures_dir) / picture_name(str(item["name"])), frame0, output, truth, frame2)
        if progress is not None:
            progress(index + 1, count)
    return rows
