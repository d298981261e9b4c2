"""Time of one training step, float32 against bfloat16 autocast, as ratios measured in the same run.

    .venv/bin/python benchmarks/bench_train_step.py [--device cpu|cuda] [--models adacof flow_refine] \
        [--sizes 64 128 256] [--batch 4] [--repeats 3] [--threads N] [--channels-last]

A step is what the trainer does per batch: the network's ``forward_train`` under the trainer's
autocast (convolutions in the precision, sampling and warping in float32), the loss terms, backward
and an Adamax step. Variants: plain (``charbonnier + g_spatial + g_occlusion``), and those terms plus
``seg + cons`` with the weight-free pixel-affinity teacher at stride 4 and with STCN (random weights:
the cost does not depend on them). All variants of one size run in turn within each repeat, so load
on the machine falls on all of them alike; medians after one warm-up step each. The ``speed-up``
column is fp32 time / bf16 time.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from vosvfi_core.models.registry import MODELS
from vosvfi_core.precision import autocast_dtype
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


def _step_function(network: torch.nn.Module, clip: dict[str, torch.Tensor], names: tuple[str, ...], teacher: object, precision: str) -> Callable[[], None]:
    terms = [LOSS_TERMS.build({"type": name}) for name in names]
    optimizer = torch.optim.Adamax(network.parameters(), lr=1e-6)  # tiny: the weights barely move between variants
    device = clip["frame0"].device
    dtype = autocast_dtype(precision, device)

    def step() -> None:
        with _autocast(network, dtype, device):
            output = network.forward_train(clip["frame0"], clip["frame2"])
        state = TrainStep(output, clip, teacher=teacher)
        loss = sum(term.weight * term.compute(state) for term in terms)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def _time(variants: dict[str, Callable[[], None]], repeats: int, device: torch.device) -> dict[str, float]:
    times: dict[str, list[float]] = {label: [] for label in variants}
    for step in variants.values():  # warm-up: kernel selection, allocator
        step()
    for _ in range(repeats):
        for label, step in variants.items():
            _synchronise(device)
            start = time.perf_counter()
            step()
            _synchronise(device)
            times[label].append(time.perf_counter() - start)
    return {label: statistics.median(values) for label, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--models", nargs="+", default=["adacof", "flow_refine"])
    parser.add_argument("--sizes", nargs="+", type=int, default=[64, 128, 256])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="intra-op CPU threads (default: torch's choice)")
    parser.add_argument("--channels-last", action="store_true", help="the network's weights and the frames in channels-last memory layout")
    parser.add_argument("--no-vos", action="store_true", help="time the plain step only")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    layout = torch.channels_last if args.channels_last else torch.contiguous_format
    print(
        f"device={name} threads={torch.get_num_threads()} torch={torch.__version__} batch={args.batch} repeats={args.repeats} channels_last={args.channels_last}"
    )
    print(f"{'model':<12} {'size':>5} {'variant':<24} {'fp32_s':>8} {'bf16_s':>8} {'speed-up':>9}")
    teachers = {"plain": (PLAIN, None)}
    if not args.no_vos:
        teachers |= {"seg+cons affinity/4": (VOS, PixelAffinityPropagator(stride=4)), "seg+cons stcn": (VOS, stcn().to(device).eval())}
    for model in args.models:
        torch.manual_seed(0)
        network = MODELS.build({"type": model}).to(device).train().to(memory_format=layout)
        for size in args.sizes:
            clip = {key: value.contiguous(memory_format=layout) for key, value in _clip(args.batch, size, device).items()}
            variants = {
                (label, precision): _step_function(network, clip, names, teacher, precision)
                for label, (names, teacher) in teachers.items()
                for precision in ("fp32", "bf16")
            }
            medians = _time(variants, args.repeats, device)
            for label in teachers:
                fp32, bf16 = medians[(label, "fp32")], medians[(label, "bf16")]
                print(f"{model:<12} {size:>5} {label:<24} {fp32:8.3f} {bf16:8.3f} {fp32 / bf16:8.2f}x")


if __name__ == "__main__":
    main()
