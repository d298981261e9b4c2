"""Time of one teacher propagation as VOS-VFI training uses it: one memory frame, batch 2, 128x128.

    .venv/bin/python benchmarks/bench_vos_teacher.py [--device cpu|cuda] [--repeats 5] [--size 128] [--batch 2] [--threads N]

Prints one row per teacher (STCN with random weights, the weight-free pixel-affinity propagator at
its default stride and at stride 3): median seconds of the forward pass alone (no autograd graph)
and of forward plus backward to the query frame, after one warm-up.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from vosvfi_core.vos.pixel_affinity import PixelAffinityPropagator
from vosvfi_core.vos.stcn import stcn
from vosvfi_core.vos.teachers import Teacher


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _median_seconds(run: Callable[[], None], device: torch.device, repeats: int) -> float:
    run()  # warm-up: kernel selection, allocator
    times = []
    for _ in range(repeats):
        _synchronise(device)
        start = time.perf_counter()
        run()
        _synchronise(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None, help="intra-op CPU threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    generator = torch.Generator().manual_seed(0)
    memory_frames = torch.rand(args.batch, 1, 3, args.size, args.size, generator=generator).to(device)
    memory_masks = (torch.rand(args.batch, 1, 1, args.size, args.size, generator=generator) > 0.5).float().to(device)
    query = torch.rand(args.batch, 3, args.size, args.size, generator=generator).to(device)

    teachers: list[tuple[str, Teacher]] = [
        ("stcn (random weights)", stcn().to(device)),
        ("pixel_affinity (defaults)", PixelAffinityPropagator()),
        ("pixel_affinity (stride 3)", PixelAffinityPropagator(stride=3)),
    ]
    print(f"device={device} threads={torch.get_num_threads()} torch={torch.__version__} size={args.size}x{args.size} batch={args.batch} memory frames=1")
    print(f"{'teacher':<28} {'forward_s':>10} {'fwd+bwd_s':>10}")
    for label, teacher in teachers:

        def forward(teacher: Teacher = teacher) -> None:
            with torch.no_grad():
                teacher.propagate(memory_frames, memory_masks, query)

        def forward_backward(teacher: Teacher = teacher) -> None:
            leaf = query.clone().requires_grad_(True)
            teacher.propagate(memory_frames, memory_masks, leaf).mean().backward()

        print(f"{label:<28} {_median_seconds(forward, device, args.repeats):10.4f} {_median_seconds(forward_backward, device, args.repeats):10.4f}")


if __name__ == "__main__":
    main()
