"""Time and peak memory of the AdaCoF sampling op, per size, mode and backend.

    .venv/bin/python benchmarks/bench_sampling.py [--device cpu|cuda] [--repeats 3]

One row per (case, mode, backend: ``cpu`` is the compiled loop, ``torch`` the reference), measured in fresh subprocesses so that one row's memory
cannot hide another's: median seconds of the forward (under no_grad) and of forward + backward
(gradients for all four inputs), and the peak memory each phase adds on top of its inputs.

Peak memory is ``torch.cuda.max_memory_allocated`` on CUDA. On the CPU it is the growth of the
process's peak resident set (``resource.getrusage().ru_maxrss``) over its resident set just
before the phase, taken in a separate subprocess run with ``MALLOC_MMAP_THRESHOLD_`` set low so
that glibc hands every freed tensor back to the OS (else reused heap pages hide allocations);
the times come from a subprocess with the default allocator. On the CPU the 1080p case is
measured once, without warm-up.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import torch

CASES = (
    # name, height, width, kernel size F, dilation d
    ("256x448 F=5 d=1", 256, 448, 5, 1),
    ("1080x1920 F=11 d=2", 1080, 1920, 11, 2),
)
MODES = ("legacy", "bilinear")
_MB = 2**20


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _current_rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


def _peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def _inputs(height: int, width: int, kernel_size: int, dilation: int, device: torch.device) -> list[torch.Tensor]:
    """B=1, C=3; built in place so that making them leaves no transient peak behind."""
    reach = (kernel_size - 1) * dilation
    taps = kernel_size * kernel_size
    image = torch.rand(1, 3, height + reach, width + reach, device=device)
    weight = torch.rand(1, taps, height, width, device=device)
    weight /= weight.sum(1, keepdim=True)
    alpha = torch.empty(1, taps, height, width, device=device).normal_(0, 2)
    beta = torch.empty(1, taps, height, width, device=device).normal_(0, 2)
    return [image, weight, alpha, beta]


def _measure(case: str, mode: str, backend: str, device_name: str, repeats: int) -> dict[str, float]:
    """Runs in a child process: the row's times and peaks."""
    from kernels import adacof_sample

    _, height, width, kernel_size, dilation = next(c for c in CASES if c[0] == case)
    device = torch.device(device_name)
    tensors = _inputs(height, width, kernel_size, dilation, device)

    def run(with_backward: bool) -> tuple[float, int]:
        def once() -> None:
            if with_backward:
                leaves = [t.detach().requires_grad_() for t in tensors]
                out = adacof_sample(*leaves, dilation=dilation, mode=mode, backend=backend)
                out.backward(torch.ones_like(out))
            else:
                with torch.no_grad():
                    adacof_sample(*tensors, dilation=dilation, mode=mode, backend=backend)

        if repeats > 1:
            once()  # warm-up: kernel compilation, allocator caches
        _synchronise(device)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
            baseline = torch.cuda.memory_allocated(device)
        else:
            baseline = _current_rss_bytes()
        seconds = []
        for _ in range(repeats):
            start = time.perf_counter()
            once()
            _synchronise(device)
            seconds.append(time.perf_counter() - start)
        peak = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else _peak_rss_bytes()
        return statistics.median(seconds), peak - baseline

    forward_s, forward_peak = run(with_backward=False)
    backward_s, backward_peak = run(with_backward=True)
    return {
        "inputs_mb": sum(t.numel() * t.element_size() for t in tensors) / _MB,
        "forward_s": forward_s,
        "forward_peak_mb": forward_peak / _MB,
        "forward_backward_s": backward_s,
        "forward_backward_peak_mb": backward_peak / _MB,
    }


def _backends(device: torch.device) -> list[str]:
    from kernels import CUPY_AVAILABLE, CUPY_UNAVAILABLE_REASON, adacof_cpu

    if device.type != "cuda":
        if adacof_cpu.cpu_kernels() is None:
            print(f"cpu backend skipped: {adacof_cpu.unavailable_reason()}")
            return ["torch"]
        return ["cpu", "torch"]
    if not CUPY_AVAILABLE:
        print(f"cupy backend skipped: {CUPY_UNAVAILABLE_REASON}")
        return ["torch"]
    return ["cupy", "torch"]


def _run_child(row: dict, extra_env: dict[str, str] | None = None) -> dict[str, float]:
    child = subprocess.run(
        [sys.executable, __file__, "--row", json.dumps(row)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **(extra_env or {})},
    )
    return json.loads(child.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--row", help=argparse.SUPPRESS)  # internal: measure one row, print it as JSON
    args = parser.parse_args()
    if args.row:
        print(json.dumps(_measure(**json.loads(args.row))))
        return

    device = torch.device(args.device)
    memory = "torch.cuda.max_memory_allocated" if device.type == "cuda" else "ru_maxrss growth over the RSS before, with MALLOC_MMAP_THRESHOLD_=65536"
    print(f"device={device} threads={torch.get_num_threads()} torch={torch.__version__} peak memory: {memory}")
    print(f"{'case':>20} {'mode':>9} {'backend':>7} {'inputs_MB':>9} {'fwd_s':>8} {'fwd_peak_MB':>11} {'fwd+bwd_s':>9} {'fwd+bwd_peak_MB':>15}")
    for case, height, width, _, _ in CASES:
        repeats = 1 if device.type == "cpu" and height * width > 1_000_000 else args.repeats
        for mode in MODES:
            for backend in _backends(device):
                row = dict(case=case, mode=mode, backend=backend, device_name=args.device, repeats=repeats)
                r = _run_child(row)
                if device.type == "cpu":
                    memory_row = _run_child({**row, "repeats": 1}, {"MALLOC_MMAP_THRESHOLD_": "65536"})
                    r.update({k: v for k, v in memory_row.items() if k.endswith("_mb")})
                print(
                    f"{case:>20} {mode:>9} {backend:>7} {r['inputs_mb']:>9.0f} {r['forward_s']:>8.3f} "
                    f"{r['forward_peak_mb']:>11.0f} {r['forward_backward_s']:>9.3f} "
                    f"{r['forward_backward_peak_mb']:>15.0f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
