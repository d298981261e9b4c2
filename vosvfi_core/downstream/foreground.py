"""The foreground check: PSNR of the interpolated frames inside and outside the objects' masks.

Ours computes the error in float and averages it over mask pixels × channels (the original
computed it in uint8, which wraps, and divided by the pixel count only).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import PositiveInt
from torch import Tensor
from torch.utils.data import Dataset

from vosvfi_core.data.sets import data_set
from vosvfi_core.downstream.registry import DOWNSTREAM_CHECKS, CheckContext, DownstreamCheck
from vosvfi_core.evaluation.interpolators import Interpolator
from vosvfi_core.evaluation.metrics import masked_psnr

__all__ = ["foreground_check", "foreground_psnr"]


def _plane(mask: Tensor) -> Tensor:
    """A data set's mask ([H, W] or [1, H, W], bool, 0/1 or 0/255) as a [H, W] bool."""
    plane = mask.squeeze(0) if mask.dim() == 3 else mask
    return plane > 0.5 if plane.is_floating_point() else plane > 0


def foreground_psnr(interpolator: Interpolator, dataset: Dataset, *, dataset_name: str, max_samples: int | None = None) -> list[dict[str, Any]]:
    """Per sample: PSNR over the middle frame's foreground mask and over its background.

    Items need ``frame0``, ``frame1``, ``frame2``, ``mask1`` (the middle frame's mask) and ``name``.
    A region that is empty in a sample scores NaN there.
    """
    count = len(dataset)  # type: ignore[arg-type]
    count = min(count, max_samples) if max_samples else count
    rows: list[dict[str, Any]] = []
    for index in range(count):
        item = dataset[index]
        output = interpolator(item["frame0"].unsqueeze(0), item["frame2"].unsqueeze(0)).squeeze(0)
        mask = _plane(item["mask1"])
        for metric, region in (("psnr_foreground", mask), ("psnr_background", ~mask)):
            value = masked_psnr(output, item["frame1"], region)
            rows.append(
                {
                    "model": interpolator.name,
                    "dataset": dataset_name,
                    "sample": str(item["name"]),
                    "frame": None,
                    "metric": metric,
                    "value": value,
                    "convention": "float, mask pixels x channels",
                }
            )
    return [{**row, "check": "foreground_psnr"} for row in rows]


@DOWNSTREAM_CHECKS.register("foreground_psnr")
def foreground_check(context: CheckContext, *, dataset: str = "synthetic_davis", max_samples: PositiveInt | None = None) -> DownstreamCheck:
    """PSNR inside and outside the object masks of the truth frames (a data set with masks)."""
    spec = data_set(dataset)

    def run(interpolators: Sequence[Interpolator], root: Path) -> list[dict[str, Any]]:
        triplets = spec.open_triplets(root, with_masks=True)
        return [row for interpolator in interpolators for row in foreground_psnr(interpolator, triplets, dataset_name=dataset, max_samples=max_samples)]

    return DownstreamCheck("foreground_psnr", dataset, run)
