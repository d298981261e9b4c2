"""Which arithmetic runs where: native bfloat16 detection and the one precision decision."""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import pytest
import torch

from vosvfi_core.errors import VosvfiError
from vosvfi_core.precision import autocast_dtype, cpu_has_native_bf16, resolve_precision

CPU = torch.device("cpu")


@pytest.mark.parametrize(
    ("flags", "native"),
    [("fpu sse2 avx2 avx512f", False), ("fpu avx512f avx512_bf16", True), ("fpu amx_tile amx_bf16", True), ("fpu avx512_fp16", False)],
)
def test_feature_native_bf16_is_read_from_the_cpu_flags(tmp_path: Path, flags: str, native: bool) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nmodel name\t: some cpu\nflags\t\t: {flags}\n\nprocessor\t: 1\nflags\t\t: {flags}\n")
    assert cpu_has_native_bf16(cpuinfo) is native
    assert cpu_has_native_bf16(tmp_path / "missing") is False


@pytest.mark.parametrize("native", [True, False])
def test_feature_auto_is_bf16_only_where_it_is_native(native: bool) -> None:
    with mock.patch("vosvfi_core.precision.cpu_has_native_bf16", return_value=native):
        assert resolve_precision("auto", CPU) == ("bf16" if native else "fp32")
        assert autocast_dtype("auto", CPU) == (torch.bfloat16 if native else None)
        # forcing either is always possible on a CPU
        assert resolve_precision("fp32", CPU) == "fp32" and resolve_precision("bf16", CPU) == "bf16"


def test_exception_impossible_precisions_are_one_line_naming_the_field() -> None:
    with pytest.raises(VosvfiError, match=r"^train.precision must be one of auto, fp32, bf16, fp16, got 'half'$"):
        resolve_precision("half", CPU, field="train.precision")
    with pytest.raises(VosvfiError, match=r"^--precision fp16 needs a CUDA device"):
        resolve_precision("fp16", CPU)
