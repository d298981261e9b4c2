"""Per-triplet evaluation time: the pipeline's evaluate tasks against a plain interpolation loop.

The pipeline runs one evaluate task per data set, two at a time in threads. With torch's default
of one intra-op thread per core in each task, two tasks on two cores oversubscribe the machine;
the run plan gives each task ``cores / workers`` threads instead. This script measures, on the
same frames and the same random-weights AdaCoF:

- ``loop``: ``interpolate_pair`` over the triplets in this process, all cores (what ``vosvfi
  interpolate`` does per pair);
- ``pipeline``: ``vosvfi run evaluate`` on two data sets with the default threads per task;
- ``oversubscribed``: the same with ``task_runner.threads_per_task`` = all cores (the old behaviour).

Per-triplet time of a pipeline task is its run time (from the Prefect API) over its triplets
(model loading included, as in the loop). Run: ``python benchmarks/bench_eval_threads.py``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch


def _checkpoint(folder: Path) -> Path:
    from vosvfi_core.checkpoint_format import save_checkpoint
    from vosvfi_core.models import adacof

    torch.manual_seed(0)
    path = folder / "random.pth"
    save_checkpoint(path, adacof(kernel_size=5, dilation=1), epoch=0)
    return path


def _loop_seconds_per_triplet(checkpoint: Path, data_root: Path) -> float:
    from vosvfi_core.checkpoint_format import load_checkpoint
    from vosvfi_core.data.sets import data_set
    from vosvfi_core.interpolation import interpolate_pair

    started = time.perf_counter()
    model, _ = load_checkpoint(checkpoint)
    count = 0
    for name in ("synthetic", "synthetic_davis"):
        triplets = data_set(name).open_triplets(data_root / "demo")
        for index in range(len(triplets)):
            item = triplets[index]
            interpolate_pair(model, item["frame0"], item["frame2"])
            count += 1
    return (time.perf_counter() - started) / count


def _pipeline_seconds_per_triplet(profile: Path, checkpoint: Path, threads: int | None) -> float:
    from prefect.client.orchestration import get_client

    from flows.pipeline import FLOWS
    from vosvfi_core.data.sets import data_set

    overrides = [f"evaluate.checkpoint={checkpoint}", "evaluate.pictures=0"]
    if threads is not None:
        overrides.append(f"task_runner.threads_per_task={threads}")
    state = FLOWS["evaluate"](profile=str(profile), run_id=f"bench-{threads}", overrides=overrides, refresh=["evaluate"], return_state=True)
    result = state.result()
    root = Path(result["run_folder"]).parent.parent / "data" / "demo"
    counts = {name: len(data_set(name).open_triplets(root)) for name in ("synthetic", "synthetic_davis")}
    with get_client(sync_client=True) as client:
        runs = [r for r in client.read_task_runs() if r.flow_run_id == state.state_details.flow_run_id and r.name.startswith("evaluate-")]
    seconds = sum(r.total_run_time.total_seconds() for r in runs)
    return seconds / sum(counts.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="128x192", help="frame size HxW (default 128x192)")
    parser.add_argument("--triplets", type=int, default=12, help="synthetic test triplets (default 12)")
    args = parser.parse_args()
    height, width = (int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        os.environ.update({"VOSVFI_DATA_ROOT": str(work / "data"), "VOSVFI_RUNS_ROOT": str(work / "runs")})
        profile = work / "bench.yaml"
        profile.write_text(
            "name: bench\ntask_runner: {kind: threads, max_workers: 2}\n"
            f"data: {{synthetic: {{seed: 0, height: {height}, width: {width}, train_count: 4, test_count: {args.triplets}, davis_count: 2, davis_frames: {args.triplets + 1}, tracking_count: 1, tracking_frames: 4}}}}\n"
            "evaluate: {datasets: [synthetic, synthetic_davis], metrics: [psnr], baselines: [], device: cpu}\n"
        )
        checkpoint = _checkpoint(work)
        pipeline = _pipeline_seconds_per_triplet(profile, checkpoint, None)  # also generates the data
        oversubscribed = _pipeline_seconds_per_triplet(profile, checkpoint, os.cpu_count())
        loop = _loop_seconds_per_triplet(checkpoint, work / "data")
    print(f"frames {height}x{width}, {os.cpu_count()} cores, 2 evaluate tasks at a time")
    print(f"  loop (all cores, one pair at a time): {loop:.3f} s/triplet")
    print(f"  pipeline, threads per task = cores/workers: {pipeline:.3f} s/triplet per task ({pipeline / 2:.3f} s/triplet overall, 2 in parallel)")
    print(f"  pipeline, threads per task = all cores (oversubscribed): {oversubscribed:.3f} s/triplet per task")
    print(f"  ratios: pipeline overall / loop = {pipeline / 2 / loop:.2f}; oversubscribed / fitted = {oversubscribed / pipeline:.2f}")


if __name__ == "__main__":
    main()
