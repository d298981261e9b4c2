"""Choosing the torch device, and giving each concurrent task its share of the CPU threads."""

from __future__ import annotations

import os

import torch

from vosvfi_core.errors import VosvfiError

__all__ = ["cpu_count", "resolve_device", "set_task_threads", "threads_per_task"]


def resolve_device(name: str, *, field: str = "--device") -> torch.device:
    """``auto`` picks CUDA when present; asking for CUDA without it is an error, not a silent CPU run.

    ``field`` names where the value came from (``--device``, ``train.device``) in the error.
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise VosvfiError(f"{field} cuda: no CUDA device is available here (use cpu or auto)")
    if name not in ("cpu", "cuda"):
        raise VosvfiError(f"{field} must be auto, cpu or cuda, got {name!r}")
    return torch.device(name)


def cpu_count() -> int:
    """The cores this process may run on (its affinity mask, not the machine's total)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def threads_per_task(workers: int, threads: int | None = None) -> int:
    """Intra-op threads for each of ``workers`` concurrent tasks: ``threads`` if set, else an even share of the cores."""
    return threads if threads is not None else max(1, cpu_count() // max(1, workers))


def set_task_threads(count: int) -> None:
    """Set torch's intra-op threads (process-wide: tasks sharing a process share the setting)."""
    if torch.get_num_threads() != count:
        torch.set_num_threads(count)
