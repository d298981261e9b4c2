"""Time of one training step with and without the VOS loss terms, as ratios to the plain step measured in the same run.

    .venv/bin/python benchmarks/bench_train_step.py [--device cpu|cuda] [--repeats 5] [--size 128] [--batch 2] [--threads N] [--amp]

A step is what the trainer does per batch: AdaCoF's ``forward_train``, the loss terms, backward and
an Adamax step. Variants: plain (``charbonnier + g_spatial + g_occlusion``), and those terms plus
``seg + cons`` with the weight-free pixel-affinity teacher (default settings, stride 2, and at
stride 4: its affinity has (H·W/stride²)² entries) and with STCN (random weights: the cost does not
depend on them). The variants run in turn within each repeat, so that
load on a shared machine falls on all of them alike; medians after one warm-up step each.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time
from collections.abc import Callable

import torch

from vosvfi_core.models.registry import MODELS
from vosvfi_core.training import LOSS_TERMS, TrainStep
from vosvfi_core.training.trainer import _autocast
from vosvfi_core.vos.pixel_affinity import PixelAffinityPropagator
from vosvfi_core.vos.stcn import stcn

PLAIN = ("charbonnier", "g_spatial", "g_occlusion")
VOS = (*PLAIN, "seg", "cons")


def _clip(batch: int, size: int, device: torch.device) -> dict[str, torch.Tensor]:
    """A textured square moving across a noisy background, with its exact masks."""
    generator = torch.Generator().manual_seed(0)
    background = torch.rand(batch, 3, size, size, generator=generator) * 0.3
    side = size // 4
    texture = 0.6 + 0.4 * torch.rand(batch, 3, side, side, generator=generator)
    clip = {}
    for k in range(3):
        frame, mask = background.clone(), torch.zeros(batch, 1, size, size)
        top, left = size // 3, size // 4 + k * size // 16
        frame[..., top : top + side, left : left + side] = texture
        mask[..., top : top + side, left : left + side] = 1.0
        clip[f"frame{k}"], clip[f"mask{k}"] = frame.to(device), mask.to(device)
    return clip


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _step_function(network: torch.nn.Module, clip: dict[str, torch.Tensor], names: tuple[str, ...], teacher: object, amp: bool) -> Callable[[], None]:
    terms = [LOSS_TERMS.build({"type": name}) for name in names]
    optimizer = torch.optim.Adamax(network.parameters(), lr=1e-6)  # tiny: the weights barely move between variants
    device = clip["frame0"].device

    def step() -> None:
        with _autocast(network, amp, device) if amp else contextlib.nullcontext():
            output = network.forward_train(clip["frame0"], clip["frame2"])
        state = TrainStep(output, clip, teacher=teacher)
        loss = sum(term.weight * term.compute(state) for term in terms)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None, help="intra-op CPU threads (default: torch's choice)")
    parser.add_argument("--amp", action="store_true", help="bfloat16 kernel estimation, as train.amp does on CUDA")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    network = MODELS.build({"type": "adacof"}).to(device).train()
    clip = _clip(args.batch, args.size, device)
    variants = {
        "plain": _step_function(network, clip, PLAIN, None, args.amp),
        "seg+cons, pixel_affinity": _step_function(network, clip, VOS, PixelAffinityPropagator(), args.amp),
        "seg+cons, pixel_affinity stride 4": _step_function(network, clip, VOS, PixelAffinityPropagator(stride=4), args.amp),
        "seg+cons, stcn (random weights)": _step_function(network, clip, VOS, stcn().to(device), args.amp),
    }
    times: dict[str, list[float]] = {label: [] for label in variants}
    for step in variants.values():  # warm-up: kernel selection, allocator
        step()
    for _ in range(args.repeats):
        for label, step in variants.items():
            _synchronise(device)
            start = time.perf_counter()
            step()
            _synchronise(device)
            times[label].append(time.perf_counter() - start)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(
        f"device={name} threads={torch.get_num_threads()} torch={torch.__version__} size={args.size}x{args.size} batch={args.batch} amp={args.amp} repeats={args.repeats}"
    )
    plain = statistics.median(times["plain"])
    print(f"{'variant':<34} {'median_s':>9} {'min_s':>8} {'ratio':>6}")
    for label, values in times.items():
        median = statistics.median(values)
        print(f"{label:<34} {median:9.4f} {min(values):8.4f} {median / plain:6.2f}")


if __name__ == "__main__":
    main()
