"""Frames per second of ``interpolate-video`` for 720p x2, and the memory peak of one tiled 4K pair.

    .venv/bin/python benchmarks/bench_video.py [--device cpu|cuda] [--frames 5] [--precision fp32|bf16|fp16]
                                               [--tile 1024] [--tile-overlap 128] [--batch 1] [--no-4k]

The 720p figure times the whole stream as the command runs it (decode, scene test, AdaCoF in
tiles of at most ``--tile`` pixels, x264 encode) on a synthetic clip of ``--frames`` frames, after
one warm-up pair; it prints input pairs per second and output frames per second (RIFE's "30+ FPS
for 2x 720p on a 2080Ti" counts the latter). The 4K figure runs one 3840x2160 pair through the
same tiled interpolator and prints the peak memory above the level before it: resident memory on
the CPU (sampled every 5 ms), ``torch.cuda.max_memory_allocated`` on a GPU. The network's weights
are random: they do not change its speed.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from pathlib import Path

import torch

from vosvfi_core.interpolation import model_interpolator
from vosvfi_core.models import adacof
from vosvfi_core.tiling import DEFAULT_OVERLAP, DEFAULT_TILE, tile_spans
from vosvfi_core.video import VideoFileSink, encoder_settings, interpolate_stream, open_source
from vosvfi_core.video.synthetic import moving_pattern, write_clip

_PAGE = os.sysconf("SC_PAGE_SIZE")


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * _PAGE


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _stream(clip: Path, output: Path, interpolator, device: torch.device, batch: int) -> tuple[int, int, float]:
    source = open_source(clip)
    try:
        settings = encoder_settings(output, codec=None, crf=None, rate=source.fps * 2, width=source.width, height=source.height)
        sink = VideoFileSink(output, settings)
        _synchronise(device)
        start = time.perf_counter()
        result = interpolate_stream(source, sink, interpolator, factor=2, batch=batch, device=device)
        _synchronise(device)
        return result.input_frames, result.output_frames, time.perf_counter() - start
    finally:
        source.close()


def _peak_4k(interpolator, device: torch.device) -> tuple[float, float]:
    """(seconds, peak bytes above the starting level) for one 3840x2160 pair."""
    frame0, frame2 = torch.rand(1, 3, 2160, 3840), torch.rand(1, 3, 2160, 3840)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        baseline = torch.cuda.memory_allocated(device)
        start = time.perf_counter()
        interpolator(frame0, frame2)
        _synchronise(device)
        return time.perf_counter() - start, torch.cuda.max_memory_allocated(device) - baseline
    baseline, peak, done = _rss(), [0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _rss())
            time.sleep(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    start = time.perf_counter()
    try:
        interpolator(frame0, frame2)
    finally:
        done.set()
        sampler.join()
    return time.perf_counter() - start, max(peak[0], _rss()) - baseline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--frames", type=int, default=5, help="input frames of the 720p clip (default 5)")
    parser.add_argument("--precision", default="fp32", choices=("fp32", "bf16", "fp16"))
    parser.add_argument("--tile", type=int, default=DEFAULT_TILE)
    parser.add_argument("--tile-overlap", type=int, default=DEFAULT_OVERLAP)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--no-4k", action="store_true", help="skip the 4K memory figure (minutes on a CPU)")
    args = parser.parse_args()
    device = torch.device(args.device)

    model = adacof(kernel_size=5).to(device).eval()
    interpolator = model_interpolator(model, precision=args.precision, tile=args.tile, overlap=args.tile_overlap)
    print(
        f"device={device} threads={torch.get_num_threads()} torch={torch.__version__} precision={args.precision} tile={args.tile} overlap={args.tile_overlap}"
    )

    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        clip, warmup = folder / "clip720.mp4", folder / "warmup.mp4"
        write_clip(clip, moving_pattern(args.frames, 720, 1280, speed=6), rate=30, options={"crf": "18"})
        write_clip(warmup, moving_pattern(2, 720, 1280), rate=30)
        _stream(warmup, folder / "warmup_out.mp4", interpolator, device, args.batch)
        tiles = len(tile_spans(720, args.tile, args.tile_overlap, multiple=32)) * len(tile_spans(1280, args.tile, args.tile_overlap, multiple=32))
        inputs, outputs, seconds = _stream(clip, folder / "out.mp4", interpolator, device, args.batch)
    pairs = inputs - 1
    print(f"720p x2: {inputs} -> {outputs} frames in {seconds:.2f} s ({tiles} tile(s) per pair)")
    print(f"720p x2: {pairs / seconds:.3f} pairs/s, {outputs / seconds:.3f} output frames/s")

    if not args.no_4k:
        tiles = len(tile_spans(2160, args.tile, args.tile_overlap, multiple=32)) * len(tile_spans(3840, args.tile, args.tile_overlap, multiple=32))
        seconds, peak = _peak_4k(interpolator, device)
        kind = "GPU memory allocated" if device.type == "cuda" else "resident memory"
        print(f"4K pair: {tiles} tiles in {seconds:.1f} s; peak {kind} above the start: {peak / 2**30:.2f} GiB")


if __name__ == "__main__":
    main()
