"""File size and load time of a training checkpoint against its weights-only exports.

    .venv/bin/python benchmarks/bench_checkpoint_load.py [--kernel-size 5] [--repeats 5] [--dir DIR]

Builds a full AdaCoF (kernel 5, dilation 1 by default), takes one Adamax step so the optimiser
holds its two moment tensors, and writes the training checkpoint as the trainer does
(``save_checkpoint`` with the optimiser state in ``extra``). It then exports fp32 and fp16
inference files with ``export_inference`` and times ``load_checkpoint`` on each (what
``vosvfi interpolate`` calls): the median of ``--repeats`` loads, with the file's pages in the
page cache ("warm") and after asking the kernel to drop them (``posix_fadvise(DONTNEED)``,
"cold"; the kernel may keep some pages, so cold times are a lower bound on a first read from
disk). "read" is ``torch.load`` alone. "previous load" is how ``load_checkpoint`` worked before
inference files: build the model with its random initialisation, then copy the weights in.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch

from vosvfi_core.checkpoint_format import export_inference, load_checkpoint, read_checkpoint, save_checkpoint
from vosvfi_core.models import AdaCoFNet, adacof


def _drop_from_page_cache(path: Path) -> None:
    with path.open("rb") as handle:
        os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)


def _median_seconds(action, repeats: int, *, before=None) -> float:
    times = []
    for _ in range(repeats):
        if before is not None:
            before()
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _previous_load(path: Path, kernel_size: int) -> None:
    checkpoint = read_checkpoint(path)
    model = AdaCoFNet(kernel_size=kernel_size, dilation=1, sampling_mode="bilinear")
    model.load_state_dict(checkpoint["state_dict"], strict=True)


def _training_checkpoint(path: Path, kernel_size: int) -> None:
    torch.manual_seed(0)
    model = adacof(kernel_size=kernel_size)
    optimizer = torch.optim.Adamax(model.parameters(), lr=1e-3)
    for parameter in model.parameters():
        parameter.grad = torch.randn_like(parameter) * 1e-3
    optimizer.step()
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=20, gamma=0.5)
    extra = {"step": 1, "history": [], "seconds": 0.0, "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}
    save_checkpoint(path, model, epoch=0, extra=extra)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kernel-size", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--dir", type=Path, help="where to write the files (default: a temporary folder, removed afterwards)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        folder = Path(folder)
        files = {"training (weights + Adamax)": folder / "last.pth", "exported fp32": folder / "model.pth", "exported fp16": folder / "model-fp16.pth"}
        _training_checkpoint(files["training (weights + Adamax)"], args.kernel_size)
        export_inference(files["training (weights + Adamax)"], files["exported fp32"])
        export_inference(files["training (weights + Adamax)"], files["exported fp16"], half="fp16")
        load_checkpoint(files["exported fp32"])  # warm up torch's lazy initialisation
        print(f"AdaCoF kernel {args.kernel_size}, torch {torch.__version__}, {torch.get_num_threads()} threads; median of {args.repeats} loads")
        print("| file | size (MB) | load warm (s) | load cold (s) | read warm (s) | previous load warm (s) |")
        print("|---|---:|---:|---:|---:|---:|")
        for label, path in files.items():
            warm = _median_seconds(lambda path=path: load_checkpoint(path), args.repeats)
            read = _median_seconds(lambda path=path: torch.load(path, map_location="cpu", weights_only=True), args.repeats)
            cold = _median_seconds(lambda path=path: load_checkpoint(path), args.repeats, before=lambda path=path: _drop_from_page_cache(path))
            previous = _median_seconds(lambda path=path: _previous_load(path, args.kernel_size), args.repeats)
            print(f"| {label} | {path.stat().st_size / 1e6:.1f} | {warm:.3f} | {cold:.3f} | {read:.3f} | {previous:.3f} |")


if __name__ == "__main__":
    main()
