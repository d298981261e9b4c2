"""Which arithmetic a network runs in: float32, or autocast to bfloat16 / float16 where the hardware has it.

One decision for every caller (training, ``interpolate``, ``interpolate-video``, evaluation):
:func:`resolve_precision` turns a requested precision (``auto``, ``fp32``, ``bf16``, ``fp16``)
into the one to use on a device, and :func:`autocast_dtype` into the autocast dtype.
``auto`` picks bfloat16 where it is native, on CPUs with AVX512-BF16 or AMX and on GPUs that
support it, and float32 elsewhere: emulated bfloat16 is slower than float32.
"""

from __future__ import annotations

import functools
from pathlib import Path

import torch

from vosvfi_core.errors import VosvfiError

__all__ = ["PRECISIONS", "REQUESTS", "autocast_dtype", "cpu_has_native_bf16", "resolve_precision"]

PRECISIONS = ("fp32", "bf16", "fp16")
REQUESTS = ("auto", *PRECISIONS)
_NATIVE_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


@functools.lru_cache(maxsize=1)
def cpu_has_native_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether this CPU computes bfloat16 in hardware (x86 ``avx512_bf16`` or ``amx_bf16``; Linux only)."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("flags"):
            return bool(_NATIVE_BF16_FLAGS & set(line.split(":", 1)[-1].split()))
    return False


def resolve_precision(requested: str, device: torch.device, *, field: str = "--precision") -> str:
    """The precision to run in on ``device`` for a request: ``auto`` decides; an impossible request is one line naming ``field``."""
    if requested not in REQUESTS:
        raise VosvfiError(f"{field} must be one of {', '.join(REQUESTS)}, got {requested!r}")
    if requested == "auto":
        if device.type == "cuda":
            return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
        return "bf16" if device.type == "cpu" and cpu_has_native_bf16() else "fp32"
    if requested == "fp16" and device.type != "cuda":
        raise VosvfiError(f"{field} fp16 needs a CUDA device; on the CPU use bf16 or fp32")
    if requested == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise VosvfiError(f"{field} bf16: this GPU has no bfloat16 support; use fp16 or fp32")
    return requested


def autocast_dtype(precision: str, device: torch.device, *, field: str = "--precision") -> torch.dtype | None:
    """The autocast dtype of a (resolved or requested) precision on ``device``; None is plain float32."""
    resolved = resolve_precision(precision, device, field=field)
    return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[resolved]
