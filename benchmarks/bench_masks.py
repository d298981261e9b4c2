"""Masks per second of DeepLabV3-ResNet101: the original's way against ours (vosvfi_core.masks), end to end.

    .venv/bin/python benchmarks/bench_masks.py [--device cpu|cuda] [--frames 9] [--size 256x448] [--batch-sizes 1 8] [--threads 1]

The original's way: one frame at a time (three forward passes per triplet), autograd on (no
``no_grad``), torchvision's full forward (the auxiliary head too), each mask saved with
matplotlib's ``imsave``. Ours: :func:`precompute_masks` with the ``deeplabv3_resnet101``
segmenter (DataLoader workers, batches across samples, inference mode, no auxiliary head,
BatchNorm folded, channels-last; bf16 autocast on CUDA), writing 0/255 PNGs. Both read the same PNG frames (a
synthetic Vimeo-style tree) and use the same random weights: speed does not depend on their values.

Each repeat times every method once, in turn, on a fresh output folder; the figures are medians.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - after choosing the backend
import torch  # noqa: E402
import torchvision.transforms as T  # noqa: E402
from PIL import Image  # noqa: E402
from torchvision.models.segmentation import deeplabv3_resnet101  # noqa: E402

from vosvfi_core.data.synthetic import write_vimeo_triplets  # noqa: E402
from vosvfi_core.masks import SEGMENTERS, frames_for_training, load_deeplabv3, precompute_masks  # noqa: E402
from vosvfi_core.masks.deeplabv3 import IMAGENET_MEAN, IMAGENET_STD  # noqa: E402


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


Run = Callable[[Path, Path], None]  # (data set root, output folder)


def _original(weights: Path, device: torch.device) -> Run:
    """The original precomputation: per triplet, three single-frame forwards with autograd on."""
    model = load_deeplabv3(weights, device)  # torchvision's module, auxiliary head included
    preprocess = T.Compose([T.ToTensor(), T.Normalize(mean=IMAGENET_MEAN, std=IMAGENET_STD)])

    def run(root: Path, out: Path) -> None:
        for path in (frame.path for frame in frames_for_training(root)):
            image = Image.open(root / path).convert("RGB")
            output = model(preprocess(image).unsqueeze(0).to(device))["out"][0]
            mask = output.argmax(0).byte().cpu().numpy()
            target = out / path
            target.parent.mkdir(parents=True, exist_ok=True)
            plt.imsave(target, mask > 0, cmap="gray")
        _synchronise(device)

    return run


def _ours(weights: Path, device: torch.device, batch_size: int, workers: int | None) -> Run:
    block = {"type": "deeplabv3_resnet101", "weights": weights, "batch_size": batch_size}
    segmenter = SEGMENTERS.build(block if workers is None else {**block, "num_workers": workers}, device)

    def run(root: Path, out: Path) -> None:
        precompute_masks(root, frames_for_training(root), segmenter, dataset="bench", masks_root=out)
        _synchronise(device)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--frames", type=int, help="frames per timed run, rounded up to whole triplets (default: 9 on cpu, 768 on cuda)")
    parser.add_argument("--size", default="256x448", help="frame height x width (default 256x448, Vimeo-90K's)")
    parser.add_argument("--batch-sizes", type=int, nargs="+", help="our batch sizes (default: 1 8 on cpu, 8 32 64 on cuda)")
    parser.add_argument("--workers", type=int, help="our DataLoader workers (default: the segmenter's, 2 on CUDA, 0 on the CPU)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--original-frames", type=int, help="frames for the original's way (default: --frames; it is slow)")
    args = parser.parse_args()
    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    height, width = (int(v) for v in args.size.lower().split("x"))
    frames = args.frames or (9 if device.type == "cpu" else 768)
    batch_sizes = args.batch_sizes or ([1, 8] if device.type == "cpu" else [8, 32, 64])
    original_frames = args.original_frames or frames

    with tempfile.TemporaryDirectory(prefix="bench_masks_") as tmp:
        base = Path(tmp)
        torch.manual_seed(0)
        weights = base / "deeplabv3_random.pth"
        torch.save(deeplabv3_resnet101(weights=None, weights_backbone=None, num_classes=21, aux_loss=True).state_dict(), weights)
        trees = {}
        for count in sorted({frames, original_frames}):
            trees[count] = write_vimeo_triplets(base / f"tree{count}", train_count=-(-count // 3), test_count=0, height=height, width=width, seed=0)
        # Warm-up trees: one triplet for the original, a full batch of the largest size for ours.
        warm_original = write_vimeo_triplets(base / "warm1", train_count=1, test_count=0, height=height, width=width, seed=1)
        warm_ours = write_vimeo_triplets(base / "warm2", train_count=-(-max(batch_sizes) // 3), test_count=0, height=height, width=width, seed=1)

        methods: dict[str, tuple[Run, Path]] = {"original (1 frame/forward, autograd on)": (_original(weights, device), trees[original_frames])}
        for batch_size in batch_sizes:
            methods[f"ours, batch {batch_size}"] = (_ours(weights, device, batch_size, args.workers), trees[frames])
        counts = {name: len(frames_for_training(root)) for name, (_, root) in methods.items()}
        for number, (name, (run, _)) in enumerate(methods.items()):  # allocators, oneDNN/cuDNN kernel choice, worker start
            run(warm_original if name.startswith("original") else warm_ours, base / "warmup" / str(number))
        rates: dict[str, list[float]] = {name: [] for name in methods}
        cpu_seconds: dict[str, list[float]] = {name: [] for name in methods}
        for repeat in range(args.repeats):
            for number, (name, (run, root)) in enumerate(methods.items()):
                start, start_cpu = time.perf_counter(), time.process_time()
                run(root, base / f"out{repeat}" / str(number))
                rates[name].append(counts[name] / (time.perf_counter() - start))
                cpu_seconds[name].append((time.process_time() - start_cpu) / counts[name])

    autocast = " (bf16 autocast)" if device.type == "cuda" else ""
    print(
        f"device={device}{autocast} threads={torch.get_num_threads()} workers={args.workers if args.workers is not None else 'default'} frames={height}x{width} torch={torch.__version__}"
    )
    original = statistics.median(rates[next(iter(rates))])
    original_cpu = statistics.median(cpu_seconds[next(iter(cpu_seconds))])
    print(f"{'method':<42} {'frames':>6} {'masks/s':>9} {'s/mask':>8} {'vs original':>12} {'cpu s/mask':>11} {'vs original':>12}")
    for name, count in counts.items():
        rate, cpu = statistics.median(rates[name]), statistics.median(cpu_seconds[name])
        print(f"{name:<42} {count:>6} {rate:9.3f} {1 / rate:8.3f} {rate / original:11.2f}x {cpu:11.3f} {original_cpu / cpu:11.2f}x")
    print("cpu s/mask: this process's CPU time (all its threads; not the DataLoader workers'), a steadier figure on a shared machine")


if __name__ == "__main__":
    main()
