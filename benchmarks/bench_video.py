"""Pairs per second of ``interpolate-video`` for 720p x2 in fp32 and the default precision, and the 4K tile memory peak.

    .venv/bin/python benchmarks/bench_video.py [--device cpu|cuda] [--frames 5] [--precisions fp32,auto | --precision P]
                                               [--baseline PATH] [--checkpoint PATH] [--rounds 1]
                                               [--tile 1024] [--tile-overlap 128] [--batch 1] [--no-4k]

Each measurement runs in a fresh process and times the whole stream as the command runs it
(decode, scene test, AdaCoF in tiles of at most ``--tile`` pixels, x264 encode) on a synthetic
720p clip of ``--frames`` frames, after a warm-up pair. It prints input pairs per second, output
frames per second, and the shares of the wall time spent decoding (reader thread), in the network
(main thread) and encoding (writer thread); the three overlap, so they may sum past 100 %.

``--baseline PATH`` names another checkout of vosvfi (e.g. ``git worktree add /tmp/base HEAD``):
its code runs the same clip in fp32, interleaved with ours round by round, and the speed-ups are
ratios within this one run, so a busy machine slows both alike. The clip's content is analytic,
so the interpolated frames, as they reach the encoder, are also scored against the true middle
frames (PSNR) and against the first row's. The weights are random (seeded; they do not change the speed) unless
``--checkpoint`` names a trained model, which the quality figures need to mean anything.

The 4K figure runs one 3840x2160 pair through the tiled interpolator in the default precision and
prints the peak memory above the level before it: resident memory on the CPU (sampled every 5 ms),
``torch.cuda.max_memory_allocated`` on a GPU.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

_PAGE = os.sysconf("SC_PAGE_SIZE")
_SPEED = 6.0  # pixels per input frame of the 720p clip
_HEIGHT, _WIDTH = 720, 1280


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * _PAGE


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _model(checkpoint: str | None, device: torch.device) -> torch.nn.Module:
    if checkpoint is None:
        from vosvfi_core.models import adacof

        torch.manual_seed(0)
        return adacof(kernel_size=5).to(device).eval()
    try:
        from vosvfi_core.checkpoint_format import load_checkpoint
    except ImportError:  # an older checkout
        from vosvfi_core.checkpoint import load_checkpoint
    return load_checkpoint(checkpoint, device=device)[0]


class _Timed:
    """Seconds spent inside the wrapped calls, from whichever thread makes them."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def call(self, function, *args, **kwargs):
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - start

    def iterate(self, items: Iterator) -> Iterator:
        iterator = iter(items)
        while True:
            start = time.perf_counter()
            try:
                item = next(iterator)
            except StopIteration:
                self.seconds += time.perf_counter() - start
                return
            self.seconds += time.perf_counter() - start
            yield item


def _measure(row: dict) -> dict:
    """Runs in a child process whose ``sys.path`` starts at the checkout under test."""
    from vosvfi_core.interpolation import model_interpolator
    from vosvfi_core.video import VideoFileSink, encoder_settings, interpolate_stream, open_source

    torch.set_num_threads(row["threads"])
    device = torch.device(row["device"])
    interpolator = model_interpolator(_model(row["checkpoint"], device), precision=row["precision"], tile=row["tile"], overlap=row["overlap"])

    def stream(clip: str, output: str) -> dict:
        written: list[np.ndarray] = []  # the frames as they reach the encoder, for the quality figures
        source = open_source(Path(clip))
        decode, network, encode = _Timed(), _Timed(), _Timed()
        items = source.items
        source.items = lambda: decode.iterate(items())  # type: ignore[method-assign]
        try:
            settings = encoder_settings(Path(output), codec=None, crf=None, rate=source.fps * 2, width=source.width, height=source.height)
            sink = VideoFileSink(Path(output), settings)
            write, finish = sink.write, sink.finish
            sink.write = lambda pixels, *a, **k: (written.append(pixels), encode.call(write, pixels, *a, **k))[1]  # type: ignore[method-assign]
            sink.finish = lambda: encode.call(finish)  # type: ignore[method-assign]

            def synchronised(frame0, frame2):
                out = interpolator(frame0, frame2)
                _synchronise(device)
                return out

            def timed_interpolator(frame0, frame2):
                return network.call(synchronised, frame0, frame2)

            _synchronise(device)
            start = time.perf_counter()
            result = interpolate_stream(source, sink, timed_interpolator, factor=2, batch=row["batch"], device=device)
            seconds = time.perf_counter() - start
        finally:
            source.close()
        np.save(output + ".npy", np.stack(written))
        return {
            "inputs": result.input_frames,
            "outputs": result.output_frames,
            "seconds": seconds,
            "decode": decode.seconds / seconds,
            "network": network.seconds / seconds,
            "encode": encode.seconds / seconds,
        }

    stream(row["warmup"], row["warmup_output"])
    return stream(row["clip"], row["output"])


def _run_child(row: dict, code: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(code), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    child = subprocess.run([sys.executable, __file__, "--row", json.dumps(row)], cwd=code, env=env, capture_output=True, text=True, timeout=3600, check=False)
    if child.returncode != 0:
        raise SystemExit(f"bench_video: the measurement in {code} failed:\n{child.stderr[-2000:]}")
    return json.loads(child.stdout.strip().splitlines()[-1])


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)) / 255**2
    return float("inf") if mse == 0 else -10 * np.log10(mse)


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
    from vosvfi_core.tiling import DEFAULT_OVERLAP, DEFAULT_TILE

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--frames", type=int, default=5, help="input frames of the 720p clip (default 5)")
    parser.add_argument("--precisions", default="fp32,auto", help="comma-separated precisions of this checkout to time (default fp32,auto)")
    parser.add_argument("--precision", help="one precision alone (the same as --precisions P)")
    parser.add_argument("--baseline", type=Path, help="another vosvfi checkout whose fp32 stream is timed in the same rounds")
    parser.add_argument("--checkpoint", help="a trained AdaCoF checkpoint (default: random weights)")
    parser.add_argument("--rounds", type=int, default=1, help="interleaved rounds; the median is printed (default 1)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--tile", type=int, default=DEFAULT_TILE)
    parser.add_argument("--tile-overlap", type=int, default=DEFAULT_OVERLAP)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--no-4k", action="store_true", help="skip the 4K memory figure (minutes on a CPU)")
    parser.add_argument("--row", help=argparse.SUPPRESS)  # internal: measure one row, print it as JSON
    args = parser.parse_args()
    if args.row:
        print(json.dumps(_measure(json.loads(args.row))))
        return

    from vosvfi_core.precision import resolve_precision
    from vosvfi_core.video.synthetic import moving_pattern, write_clip

    device = torch.device(args.device)
    here = Path(__file__).resolve().parents[1]
    runs = [("this", here, precision) for precision in (args.precision or args.precisions).split(",")]
    if args.baseline is not None:
        runs.insert(0, ("baseline", args.baseline.resolve(), "fp32"))
    print(
        f"device={device} threads={args.threads} torch={torch.__version__} tile={args.tile} overlap={args.tile_overlap} "
        f"auto={resolve_precision('auto', device)} weights={args.checkpoint or 'random'}"
    )
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        clip, warmup = folder / "clip720.mp4", folder / "warmup.mp4"
        # Twice the frames at half the speed: the odd ones are the true middles of the clip's pairs.
        truth = np.stack(list(moving_pattern(2 * args.frames - 1, _HEIGHT, _WIDTH, speed=_SPEED / 2)))
        write_clip(clip, truth[::2], rate=30, options={"crf": "18"})
        write_clip(warmup, moving_pattern(2, _HEIGHT, _WIDTH), rate=30)
        results: dict[int, list[dict]] = {index: [] for index in range(len(runs))}
        outputs: dict[int, Path] = {}
        for round_number in range(args.rounds):
            for index, (_, code, precision) in enumerate(runs):
                outputs[index] = folder / f"out{index}.mp4"
                row = dict(
                    device=args.device,
                    threads=args.threads,
                    precision=precision,
                    checkpoint=args.checkpoint,
                    tile=args.tile,
                    overlap=args.tile_overlap,
                    batch=args.batch,
                    clip=str(clip),
                    warmup=str(warmup),
                    output=str(outputs[index]),
                    warmup_output=str(folder / f"warm{index}_{round_number}.mp4"),
                )
                results[index].append(_run_child(row, code))
        frames = {index: np.load(f"{path}.npy") for index, path in outputs.items()}

    reference = 0
    print(f"720p x2, {args.frames} frames, median of {args.rounds} interleaved round(s):")
    rates = {}
    for index, (name, code, precision) in enumerate(runs):
        rows = results[index]
        seconds = statistics.median(r["seconds"] for r in rows)
        pairs, output_count = rows[0]["inputs"] - 1, rows[0]["outputs"]
        rates[index] = pairs / seconds
        middles = frames[index][1::2]
        shares = {key: statistics.median(r[key] for r in rows) for key in ("decode", "network", "encode")}
        print(f"{name} code ({code}) precision={precision}: {rows[0]['inputs']} -> {output_count} frames in {seconds:.2f} s")
        print(f"720p x2: {rates[index]:.3f} pairs/s, {output_count / seconds:.3f} output frames/s")
        print(f"  wall time shares: decode {shares['decode']:.1%}, network {shares['network']:.1%}, encode {shares['encode']:.1%}")
        print(
            f"  PSNR of the middle frames: {_psnr(middles, truth[1::2]):.2f} dB against the truth, {_psnr(middles, frames[reference][1::2]):.2f} dB against row 1"
        )
    for index, (name, _, precision) in enumerate(runs):
        if index != reference:
            print(f"speed-up of {name} {precision} over {runs[reference][0]} {runs[reference][2]}: {rates[index] / rates[reference]:.2f}x")

    if not args.no_4k:
        from vosvfi_core.interpolation import model_interpolator
        from vosvfi_core.tiling import tile_spans

        interpolator = model_interpolator(_model(args.checkpoint, device), precision="auto", tile=args.tile, overlap=args.tile_overlap)
        tiles = len(tile_spans(2160, args.tile, args.tile_overlap, multiple=32)) * len(tile_spans(3840, args.tile, args.tile_overlap, multiple=32))
        seconds, peak = _peak_4k(interpolator, device)
        kind = "GPU memory allocated" if device.type == "cuda" else "resident memory"
        print(f"4K pair (auto precision): {tiles} tiles in {seconds:.1f} s; peak {kind} above the start: {peak / 2**30:.2f} GiB")


if __name__ == "__main__":
    main()
