"""Masks stage task: one shard of triplets per task run."""

from __future__ import annotations

import functools
from pathlib import Path

from prefect import get_run_logger, task
from torch import nn

from tasks.caching import CACHED
from vosvfi_core.config import MasksConfig
from vosvfi_core.devices import resolve_device, set_task_threads
from vosvfi_core.masks import load_deeplabv3, mask_relpath, precompute_shard
from vosvfi_core.provenance import DataRef, Produced, Snapshot

__all__ = ["masks_shard"]


@functools.lru_cache(maxsize=1)
def _segmenter(weights: Path, device: str, _mtime_ns: int) -> nn.Module:
    """One DeepLabV3 per worker process (and per weights file version), shared by its shards."""
    return load_deeplabv3(weights, resolve_device(device, field="masks.device"))


@task(name="masks-shard", task_run_name="masks-{shard.name}-{index}", **CACHED)
def masks_shard(shard: DataRef, index: int, samples: tuple[str, ...], config: MasksConfig, weights: DataRef | None, threads: int) -> Produced:
    """Masks of ``samples`` (a shard of the data set ``shard.root``): masks_manifest rows and the masks written."""
    set_task_threads(threads)
    model = None
    if config.segmenter == "deeplabv3" and weights is not None:
        model = _segmenter(weights.root, config.device, weights.root.stat().st_mtime_ns)
    rows = precompute_shard(shard.root, samples, dataset=shard.name, segmenter=config.segmenter, model=model)
    get_run_logger().info("shard %d: %d masks (%s)", index, len(rows), config.segmenter)
    written = [shard.root / mask_relpath(s, f) for s in samples for f in (0, 1, 2)] if model is not None else []
    return Produced(rows, Snapshot.of(*written))
