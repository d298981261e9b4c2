"""Time from starting ``vosvfi`` to its one-line error, for inputs the run plan refuses before Prefect starts.

    .venv/bin/python benchmarks/bench_plan_errors.py [--repeats 3]

Each case runs ``python -m flows.cli …`` in a fresh process (imports included, as a user sees it)
and reports the median wall time to exit, the exit status and how many lines it printed. Cases:
a ``folder:PATH`` that does not exist, a folder with no triplets, a ``data.local`` folder that is
missing, a checkpoint file that does not load. Data and runs go to a temporary folder.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from vosvfi_core.checkpoint_format import save_checkpoint
from vosvfi_core.models.adacof import adacof


def _run(argv: list[str], env: dict[str, str]) -> tuple[float, int, int]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "flows.cli", *argv], env=env, capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - started
    return seconds, done.returncode, len((done.stdout + done.stderr).splitlines())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        checkpoint, junk, empty = root / "tiny.pth", root / "junk.pth", root / "empty"
        save_checkpoint(checkpoint, adacof(kernel_size=3), epoch=0)
        junk.write_bytes(b"not a checkpoint")
        empty.mkdir()
        env = {**os.environ, "VOSVFI_DATA_ROOT": str(root / "data"), "VOSVFI_RUNS_ROOT": str(root / "runs"), "PREFECT_HOME": str(root / "prefect")}
        cases = {
            "folder:PATH missing": ["evaluate", str(checkpoint), "--dataset", f"folder:{root / 'nowhere'}"],
            "folder:PATH without triplets": ["evaluate", str(checkpoint), "--dataset", f"folder:{empty}"],
            "data.local missing": ["evaluate", str(checkpoint), "--dataset", "ucf101", "--set", f"data.local={{ucf101: {root / 'gone'}}}"],
            "checkpoint not loadable": ["evaluate", str(junk)],
        }
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, median of {args.repeats} runs")
        print("| case | time to the error (s) | exit status | lines printed |")
        print("|---|---:|---:|---:|")
        for name, argv in cases.items():
            runs = [_run(argv, env) for _ in range(args.repeats)]
            print(f"| {name} | {statistics.median(r[0] for r in runs):.2f} | {runs[0][1]} | {runs[0][2]} |")


if __name__ == "__main__":
    main()
