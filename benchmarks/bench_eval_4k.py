"""Peak memory of ``vosvfi evaluate`` on a 4K synthetic triplet, the model in overlapping tiles.

    .venv/bin/python benchmarks/bench_eval_4k.py [--tile 1024] [--overlap 128] [--size 2160x3840]

Writes one 3840x2160 triplet (soft colour waves drifting 8 px a frame) as PNGs into a folder of
triplets, saves a randomly initialised AdaCoF checkpoint, and runs the real command, Prefect
server included:

    vosvfi evaluate CKPT --dataset folder:PATH --set evaluate.tile=T --set evaluate.overlap=O

while sampling, every 50 ms, the summed resident memory of the command's whole process tree
(the evaluation runs in the command's process; Prefect's temporary server is a child). It prints
that peak, the peak of the largest single process (``ru_maxrss``), the wall time and the PSNR rows,
so the run can be checked to have scored the frame. The goal is a peak under 4 GB.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import pyarrow.parquet as pq
import torch
from PIL import Image

from vosvfi_core.checkpoint_format import save_checkpoint
from vosvfi_core.models import adacof
from vosvfi_core.tiling import tile_spans
from vosvfi_core.video.synthetic import moving_pattern


def _tree_rss(process: psutil.Process) -> int:
    total = 0
    for member in [process, *process.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):  # a process may end while the tree is read
            total += member.memory_info().rss
    return total


def _run_sampled(command: list[str], env: dict[str, str]) -> tuple[int, float, int]:
    """(return code, wall seconds, peak summed RSS of the process tree in bytes)."""
    start = time.perf_counter()
    child = subprocess.Popen(command, env=env)
    watched, peak, done = psutil.Process(child.pid), [0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            try:
                peak[0] = max(peak[0], _tree_rss(watched))
            except psutil.NoSuchProcess:
                return
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    code = child.wait()
    done.set()
    sampler.join()
    return code, time.perf_counter() - start, peak[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="2160x3840", help="frame size HxW (default 2160x3840)")
    parser.add_argument("--tile", type=int, default=1024)
    parser.add_argument("--overlap", type=int, default=128)
    args = parser.parse_args()
    height, width = (int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        sample = work / "triplets" / "waves"
        sample.mkdir(parents=True)
        for k, frame in enumerate(moving_pattern(3, height, width, speed=8)):
            Image.fromarray(frame).save(sample / f"frame{k}.png")
        torch.manual_seed(0)
        save_checkpoint(work / "random.pth", adacof(kernel_size=5, dilation=1), epoch=0)
        env = {**os.environ, "VOSVFI_DATA_ROOT": str(work / "data"), "VOSVFI_RUNS_ROOT": str(work / "runs")}
        command = [sys.executable, "-m", "flows.cli", "evaluate", str(work / "random.pth"), "--dataset", f"folder:{work / 'triplets'}"]
        command += ["--metric", "psnr", "--metric", "ssim", "--baseline", "frame_average", "--run-id", "bench4k"]
        # One data set, so one evaluate task: it may take every core.
        command += [
            "--set",
            f"task_runner.threads_per_task={os.cpu_count()}",
            "--set",
            "evaluate.device=cpu",
            "--set",
            f"evaluate.tile={args.tile}",
            "--set",
            f"evaluate.overlap={args.overlap}",
        ]
        code, seconds, peak = _run_sampled(command, env)
        largest = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
        if code != 0:
            raise SystemExit(f"vosvfi evaluate failed with exit code {code}")
        rows = pq.read_table(work / "runs" / "bench4k" / "tables" / "eval_results.parquet").to_pandas()
    tiles = len(tile_spans(height, args.tile, args.overlap, multiple=32)) * len(tile_spans(width, args.tile, args.overlap, multiple=32))
    print(f"frames {width}x{height}, tile {args.tile}, overlap {args.overlap}: {tiles} tiles per pair; {os.cpu_count()} cores")
    print(f"  vosvfi evaluate: {seconds:.1f} s wall, Prefect start-up included")
    print(f"  peak resident memory, whole process tree (sampled every 50 ms): {peak / 2**30:.2f} GiB")
    print(f"  peak resident memory, largest single process (ru_maxrss): {largest / 2**30:.2f} GiB")
    psnr = rows[rows["metric"] == "psnr"].set_index(["model", "protocol"])["value"]
    print("  PSNR rows: " + ", ".join(f"{model} ({protocol}) {value:.2f} dB" for (model, protocol), value in psnr.items()))
    assert np.isfinite(psnr.to_numpy(dtype=float)).all()


if __name__ == "__main__":
    main()
