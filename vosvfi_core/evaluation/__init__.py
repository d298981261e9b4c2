"""Evaluation: the metric and interpolator registries and per-data-set scoring."""

from vosvfi_core.evaluation.benchmark import evaluate
from vosvfi_core.evaluation.interpolators import INTERPOLATORS, Interpolator, InterpolatorContext, build_interpolators, model_interpolator
from vosvfi_core.evaluation.metric_registry import METRICS, Metric, MetricUnavailable
from vosvfi_core.evaluation.metrics import PROTOCOLS, apply_protocol, masked_psnr, psnr, ssim

__all__ = [
    "INTERPOLATORS",
    "METRICS",
    "PROTOCOLS",
    "Interpolator",
    "InterpolatorContext",
    "Metric",
    "MetricUnavailable",
    "apply_protocol",
    "build_interpolators",
    "evaluate",
    "masked_psnr",
    "model_interpolator",
    "psnr",
    "ssim",
]
