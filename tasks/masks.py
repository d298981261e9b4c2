"""Masks stage task: the masks of one shard of frames, made by the profile's segmenter."""

from __future__ import annotations

import functools
import json

from prefect import get_run_logger, task

from tasks.caching import CACHED
from vosvfi_core.config import MasksConfig
from vosvfi_core.devices import resolve_device, set_task_threads
from vosvfi_core.masks import SEGMENTERS, FrameRef, Segmenter, precompute_masks
from vosvfi_core.provenance import DataRef, Produced, Snapshot

__all__ = ["masks_shard"]


@functools.lru_cache(maxsize=2)
def _segmenter(block: str, device: str) -> Segmenter:
    """One segmenter per worker process and settings (DeepLabV3 loads once), shared by its shards."""
    return SEGMENTERS.build(json.loads(block), resolve_device(device, field="masks.device"))


@task(name="masks-shard", task_run_name="masks-{data.name}-{index}", **CACHED)
def masks_shard(data: DataRef, index: int, frames: tuple[FrameRef, ...], config: MasksConfig, weights: DataRef | None, threads: int) -> Produced:
    """masks_manifest rows of ``frames`` (a shard of the data set ``data.root``) and the masks written."""
    set_task_threads(threads)
    segmenter = _segmenter(json.dumps(config.segmenter.model_dump(mode="json"), sort_keys=True), config.device)
    rows = precompute_masks(data.root, list(frames), segmenter, dataset=data.name)
    get_run_logger().info("shard %d: %d masks (%s)", index, len(rows), segmenter.key)
    return Produced(rows, Snapshot.of(*(data.root / row["mask_path"] for row in rows)))
