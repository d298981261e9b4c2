"""The metric registry: what a metric is, and how a metric says it cannot be computed.

A metric scores one interpolated frame against the truth: ``score(output, truth, item)`` with
``[3, H, W]`` tensors in [0, 1] and the data set's item (for extras such as ``mask1``). It carries
its name (the ``metric`` column), whether higher is better, and a one-line ``convention`` saying
exactly how the value is computed (colour space, range, window), which the table records beside
every value. A profile lists the metrics to compute: ``evaluate.metrics: [psnr, {type: ssim}]``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from torch import Tensor

from vosvfi_core.registry import Registry

__all__ = ["METRICS", "Metric", "MetricUnavailable"]


class MetricUnavailable(Exception):
    """Raised by a metric that cannot be computed here (weights that cannot be fetched, no mask, …).

    The evaluation records a null value with ``reason`` as the row's note instead of failing.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Metric:
    name: str
    higher_is_better: bool
    convention: str
    score: Callable[[Tensor, Tensor, Mapping[str, Any]], float]
    needs: frozenset[str] = frozenset()  # item keys it reads besides the frames, e.g. {"mask1"}

    @property
    def direction(self) -> Literal["higher", "lower"]:
        return "higher" if self.higher_is_better else "lower"


METRICS: Registry[Metric] = Registry(
    "metric", builtins=("vosvfi_core.evaluation.metrics", "vosvfi_core.evaluation.pyiqa_metrics", "vosvfi_core.evaluation.object_metrics")
)
