"""Masks stage task: the masks of one shard of a data set's frames, made by one segmenter."""

from __future__ import annotations

import functools
import json
from pathlib import Path

from prefect import get_run_logger, task

from tasks.caching import CACHED
from tasks.progress import ProgressArtifact, artifact_key
from vosvfi_core.devices import resolve_device, set_task_threads
from vosvfi_core.masks import SEGMENTERS, FrameRef, Segmenter, precompute_masks
from vosvfi_core.provenance import DataRef, Produced, Snapshot
from vosvfi_core.registry import Block

__all__ = ["masks_shard"]


@functools.lru_cache(maxsize=2)
def _segmenter(block: str, device: str) -> Segmenter:
    """One segmenter per worker process and settings (DeepLabV3 loads once), shared by its shards."""
    return SEGMENTERS.build(json.loads(block), resolve_device(device, field="masks.device"))


@task(name="masks-shard", task_run_name="masks-{data.name}-{index}", **CACHED)
def masks_shard(
    data: DataRef,
    index: int,
    frames: tuple[FrameRef, ...],
    segmenter: Block,
    device: str,
    masks_root: Path | None,
    weights: DataRef | None,
    threads: int,
) -> Produced:
    """masks_manifest rows of ``frames`` (a shard of the data set ``data.root``) and the masks written.

    The masks go to ``masks_root`` (default: the data set's own ``masks`` folder), keyed by segmenter.
    """
    set_task_threads(threads)
    built = _segmenter(json.dumps(segmenter.model_dump(mode="json"), sort_keys=True), device)
    key = artifact_key("masks-progress", data.name, str(index))
    progress = ProgressArtifact(key, f"masks of {data.name}, shard {index} ({len(frames)} frames, {built.key})")
    done = 0

    def report(row: dict) -> None:
        nonlocal done
        done += 1
        progress.update(done, len(frames), f"masks {data.name} shard {index}: {done}/{len(frames)}")

    rows = precompute_masks(data.root, list(frames), built, dataset=data.name, masks_root=masks_root, progress=report)
    get_run_logger().info("shard %d: %d masks (%s)", index, len(rows), built.key)
    return Produced(rows, Snapshot.of(*(data.root / row["mask_path"] for row in rows)))
