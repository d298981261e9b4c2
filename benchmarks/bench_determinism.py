"""What deterministic training costs: the same training steps with torch's deterministic algorithms off and on.

    .venv/bin/python benchmarks/bench_determinism.py [--steps 8] [--crop 64] [--batch 4] [--threads N] [--rounds 2]

Trains the demo's VOS-VFI variant (AdaCoF, the weight-free teacher at stride 4) on a small
synthetic tree, ``--steps`` optimiser steps per run, alternating ``train.deterministic`` false and
true for ``--rounds`` rounds after one uncounted warm-up run (the switch is process-wide, so it
is set before each run), and prints each run's seconds, the median of each mode and their ratio. The global-RNG lock is in
both modes. Compare ratios from one invocation, not seconds across machines.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from vosvfi_core.config import TrainConfig
from vosvfi_core.data.datasets import VimeoTriplets
from vosvfi_core.data.synthetic import write_vimeo_triplets
from vosvfi_core.models.registry import MODELS
from vosvfi_core.training.trainer import Trainer

VOS = "1*Charb+0.01*g_Spatial+0.005*g_Occlusion+1*Seg+1*Cons"


def _run(root: Path, folder: Path, *, deterministic: bool, steps: int, crop: int, batch: int) -> float:
    torch.use_deterministic_algorithms(deterministic)  # process-wide: the trainer only ever turns it on
    config = TrainConfig(
        crop=crop,
        batch_size=batch,
        epochs=100,
        max_steps=steps,
        log_every=steps,
        checkpoint_every=10_000,
        device="cpu",
        precision="fp32",
        deterministic=deterministic,
        losses=VOS,
        teacher={"type": "pixel_affinity", "stride": 4},
    )
    trainer = Trainer(config, MODELS.check("adacof"), VimeoTriplets(root, "train", crop=crop, augment=True, with_masks=True), folder)
    start = time.perf_counter()
    trainer.run()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--crop", type=int, default=64)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_vimeo_triplets(root, train_count=args.steps * args.batch, test_count=1, height=96, width=128, seed=0)
        _run(root, root / "warm-up", deterministic=False, steps=args.steps, crop=args.crop, batch=args.batch)  # imports, allocator: not counted
        seconds: dict[bool, list[float]] = {False: [], True: []}
        for number in range(args.rounds):
            for deterministic in (False, True):
                took = _run(root, root / f"run{number}-{deterministic}", deterministic=deterministic, steps=args.steps, crop=args.crop, batch=args.batch)
                seconds[deterministic].append(took)
                print(f"round {number} deterministic={str(deterministic).lower():5} {took:7.2f} s")
    off, on = statistics.median(seconds[False]), statistics.median(seconds[True])
    print(f"threads {torch.get_num_threads()}, {args.steps} steps, crop {args.crop}, batch {args.batch}")
    print(f"median off {off:.2f} s, on {on:.2f} s, ratio on/off {on / off:.3f}")


if __name__ == "__main__":
    main()
