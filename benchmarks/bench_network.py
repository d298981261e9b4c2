"""Whole-network forward time of AdaCoF and the share of it spent in the sampling kernel, per precision, layout and sampling backend.

    .venv/bin/python benchmarks/bench_network.py [--device cpu|cuda] [--repeats 3] [--sizes 256x448,480x854] [--kernels 5,11]

For each size and kernel it times these variants, interleaved round by round so that a busy
machine slows them alike, and prints the median forward seconds, the median seconds inside the
two sampling calls and their ratio (both from the same passes):

- ``fp32 nchw torch``: float32, NCHW, the PyTorch reference sampler (the code before the compiled loop);
- ``fp32 nchw auto`` / ``fp32 nhwc auto``: float32 with the sampler ``auto`` picks, NCHW or NHWC inputs;
- ``bf16 nchw torch``: bfloat16 autocast with every kernel output widened and the reference sampler;
- ``bf16 nchw auto`` / ``bf16 nhwc auto``: bfloat16 autocast as ``vosvfi_core.interpolation.network_runner``
  runs it (only the occlusion widened; the sampler reads bfloat16 kernels in place).

NHWC rows also convert the weights (``prepare_for_inference``). bfloat16 rows are skipped on a GPU
without bfloat16. The network's weights are random: they do not change its speed.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import importlib
import statistics
import time

import torch

from vosvfi_core.interpolation import kernel_estimation_in_float32, occlusion_in_float32
from vosvfi_core.models import adacof

# The package re-exports the builder under the module's name, so fetch the module itself.
adacof_module = importlib.import_module("vosvfi_core.models.adacof")

CONFIGS = {5: 1, 11: 2}  # kernel size -> dilation (AdaCoF and AdaCoF+)
VARIANTS = (
    ("fp32", "nchw", "torch"),
    ("fp32", "nchw", "auto"),
    ("fp32", "nhwc", "auto"),
    ("bf16", "nchw", "torch"),
    ("bf16", "nchw", "auto"),
    ("bf16", "nhwc", "auto"),
)


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sizes", default="256x448,480x854", help="comma-separated HxW (default 256x448,480x854)")
    parser.add_argument("--kernels", default="5,11", help="comma-separated kernel sizes, 5 (d=1) and/or 11 (d=2)")
    args = parser.parse_args()
    device = torch.device(args.device)
    sizes = [tuple(int(v) for v in size.split("x")) for size in args.sizes.split(",")]
    variants = [v for v in VARIANTS if v[0] == "fp32" or device.type == "cpu" or torch.cuda.is_bf16_supported()]

    original_sample = adacof_module.adacof_sample
    sampling_seconds: list[float] = []
    sampler_backend = ["auto"]

    def timed_sample(*call_args, **call_kwargs):
        _synchronise(device)
        start = time.perf_counter()
        result = original_sample(*call_args, **call_kwargs, backend=sampler_backend[0])
        _synchronise(device)
        sampling_seconds.append(time.perf_counter() - start)
        return result

    adacof_module.adacof_sample = timed_sample
    print(f"device={device} threads={torch.get_num_threads()} torch={torch.__version__}; median of {args.repeats} interleaved rounds")
    print(f"{'size':>10} {'kernel':>7} {'precision':>9} {'layout':>6} {'sampler':>7} {'forward_s':>10} {'sampling_s':>11} {'sampling_share':>15}")
    try:
        for kernel_size in (int(k) for k in args.kernels.split(",")):
            torch.manual_seed(0)
            nchw_model = adacof(kernel_size=kernel_size, dilation=CONFIGS[kernel_size]).to(device).eval()
            nhwc_model = copy.deepcopy(nchw_model).to(memory_format=torch.channels_last)
            for height, width in sizes:
                frames = torch.rand(2, 1, 3, height, width, device=device)

                def forward(variant: tuple[str, str, str], frames=frames, models=(nchw_model, nhwc_model)) -> tuple[float, float]:
                    precision, layout, backend = variant
                    model = models[layout == "nhwc"]
                    memory_format = torch.channels_last if layout == "nhwc" else torch.contiguous_format
                    inputs = [f.contiguous(memory_format=memory_format) for f in frames]
                    widen = kernel_estimation_in_float32 if backend == "torch" else occlusion_in_float32
                    autocast = torch.autocast(device.type, dtype=torch.bfloat16) if precision == "bf16" else contextlib.nullcontext()
                    sampler_backend[0] = backend
                    sampling_seconds.clear()
                    with torch.no_grad(), widen(model) if precision == "bf16" else contextlib.nullcontext(), autocast:
                        _synchronise(device)
                        start = time.perf_counter()
                        model(*inputs)
                        _synchronise(device)
                    return time.perf_counter() - start, sum(sampling_seconds)

                for variant in variants:
                    forward(variant)  # warm-up: oneDNN primitives, the compiled sampler
                times: dict[tuple[str, str, str], list[tuple[float, float]]] = {v: [] for v in variants}
                for _ in range(args.repeats):
                    for variant in variants:
                        times[variant].append(forward(variant))
                for variant in variants:
                    total = statistics.median(t for t, _ in times[variant])
                    sampling = statistics.median(s for _, s in times[variant])
                    precision, layout, backend = variant
                    print(
                        f"{f'{height}x{width}':>10} {f'{kernel_size}/d{CONFIGS[kernel_size]}':>7} {precision:>9} {layout:>6} {backend:>7} "
                        f"{total:10.3f} {sampling:11.3f} {sampling / total:15.1%}",
                        flush=True,
                    )
    finally:
        adacof_module.adacof_sample = original_sample


if __name__ == "__main__":
    main()
