"""The downstream-check registry: checks of interpolated videos beyond per-frame quality.

A check is built from its profile block (``downstream.checks: [{type: foreground_psnr, dataset:
synthetic_davis}]``) with the run-time :class:`CheckContext` as its first argument. Every check
factory takes a keyword ``dataset`` (a name of :mod:`vosvfi_core.data.sets`), so the data stage
knows what to fetch without building the check. ``run(interpolators, root)`` scores the
interpolators on the data set folder ``root`` and returns rows of the ``downstream_results``
table (without ``run_id``); ``figures(rows, folder)``, where a check has pictures to show (the
tracking curves), writes them into ``folder`` and returns their paths for the report.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from vosvfi_core.evaluation.interpolators import Interpolator
from vosvfi_core.registry import Block, Registry

__all__ = ["DOWNSTREAM_CHECKS", "CheckContext", "DownstreamCheck", "check_dataset", "downstream_row", "with_original"]


@dataclass(frozen=True)
class CheckContext:
    device: torch.device


@dataclass(frozen=True)
class DownstreamCheck:
    name: str  # the ``check`` column
    dataset: str
    run: Callable[[Sequence[Interpolator], Path], list[dict[str, Any]]]
    figures: Callable[[list[dict[str, Any]], Path], list[Path]] | None = None


DOWNSTREAM_CHECKS: Registry[DownstreamCheck] = Registry(
    "downstream check",
    builtins=("vosvfi_core.downstream.foreground", "vosvfi_core.downstream.tracking_check", "vosvfi_core.downstream.davis_check"),
)


def downstream_row(check: str, model: str, dataset: str, sample: str, frame: int | None, metric: str, value: float, convention: str | None) -> dict[str, Any]:
    """One ``downstream_results`` row (without run_id)."""
    return {
        "model": model,
        "dataset": dataset,
        "sample": sample,
        "frame": frame,
        "check": check,
        "metric": metric,
        "value": float(value),
        "convention": convention,
    }


def with_original(interpolators: Sequence[Interpolator]) -> dict[str, Interpolator | None]:
    """The checks' ``{model name: interpolator}``, led by ``"original"`` (None: the unmodified video)."""
    return {"original": None, **{i.name: i for i in interpolators}}


def check_dataset(block: Block) -> str:
    """The data set a (validated) check block reads."""
    return str(block.kwargs["dataset"])
