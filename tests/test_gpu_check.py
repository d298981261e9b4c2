"""benchmarks/gpu_check.sh without a GPU: the dry run, the per-part time limits, the budget, the table and the figure readers."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import gpu_check  # noqa: E402 - a script folder, not a package


def _run(*args: str, out: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHON": sys.executable, "OMP_NUM_THREADS": "1"}
    return subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), *args, "--out", str(out)], env=env, capture_output=True, text=True, timeout=300)


def _statuses(table: str) -> dict[str, str]:
    rows = [line.split("|") for line in table.splitlines() if line.startswith("| ") and not line.startswith("| part ")]
    return {cells[1].strip(): cells[2].strip() for cells in rows}


def test_feature_a_part_past_its_limit_reads_timeout_and_the_rest_still_run(tmp_path: Path) -> None:
    start = time.monotonic()
    done = _run("--dry-run", "--only", "probe-timeout,probe-after,masks", out=tmp_path)
    elapsed = time.monotonic() - start
    assert done.returncode == 0, done.stdout + done.stderr
    assert _statuses(done.stdout) == {"probe-timeout": "TIMEOUT", "probe-after": "ok", "masks": "SKIP"}
    # The probe's child and grandchild sleep 60 s: the run ends this soon only if both were killed.
    assert elapsed < 30
    table = (tmp_path / "gpu_check.md").read_text()
    assert _statuses(table) == _statuses(done.stdout)
    log = (tmp_path / "gpu_check.log").read_text()
    assert "probe ran" in log and "--- probe-timeout: TIMEOUT stopped at 2 s" in log


def test_feature_a_part_with_too_little_budget_left_reads_skip(tmp_path: Path) -> None:
    done = _run("--dry-run", "--only", "probe-after", "--budget", "1", out=tmp_path)
    assert done.returncode == 1
    assert _statuses(done.stdout) == {"probe-after": "SKIP"}
    assert "budget: 1 s left" in done.stdout


def test_exception_unknown_part(tmp_path: Path) -> None:
    done = _run("--dry-run", "--only", "probe-after,nosuch", out=tmp_path)
    assert done.returncode == 2
    assert "--only: unknown part nosuch; parts: imports, pytest-cuda" in done.stderr
    assert not (tmp_path / "gpu_check.md").exists()


def test_feature_table_columns_line_up() -> None:
    rows = [gpu_check.Row("a", "ok", "x | y", "goal", 3.4), gpu_check.Row("longer-part", "TIMEOUT", "z", "g", 120)]
    lines = gpu_check.format_table(rows).splitlines()
    assert len({len(line) for line in lines}) == 1  # one width for every line
    assert lines[0].split("|")[1:-1] == [" part        ", " status  ", " figure ", " goal ", " s   "]
    assert [cell.strip() for cell in lines[2].split("|")[1:-1]] == ["a", "ok", "x / y", "goal", "3"]  # a '|' in a figure would split the row


def test_feature_pytest_summary() -> None:
    assert gpu_check.judge_pytest("....\n5 passed, 57 deselected in 3.1s\n") == (True, "5 passed, 57 deselected")
    assert gpu_check.judge_pytest("3 passed, 2 skipped, 57 deselected in 0.2s")[0] is False  # skipped: CUDA or CuPy unusable
    assert gpu_check.judge_pytest("1 failed, 4 passed in 2s")[0] is False
    with pytest.raises(ValueError, match="no pytest summary"):
        gpu_check.judge_pytest("ImportError while loading conftest")


def _sampling_line(case: str, mode: str, backend: str, forward: float, both: float) -> str:
    """One row as bench_sampling.py prints it."""
    return f"{case:>20} {mode:>9} {backend:>7} {12:>9.0f} {forward:>8.3f} {40:>11.0f} {both:>9.3f} {80:>15.0f}"


def test_feature_sampling_speed_ratios() -> None:
    times = {  # (case, mode, backend): (forward s, forward+backward s)
        ("256x448 F=5 d=1", "legacy", "cupy"): (0.002, 0.010),
        ("256x448 F=5 d=1", "legacy", "torch"): (0.050, 0.300),
        ("256x448 F=5 d=1", "bilinear", "cupy"): (0.004, 0.010),
        ("256x448 F=5 d=1", "bilinear", "torch"): (0.060, 0.080),
        ("1080x1920 F=11 d=2", "legacy", "cupy"): (0.100, 0.400),
        ("1080x1920 F=11 d=2", "legacy", "torch"): (2.000, 9.000),
        ("1080x1920 F=11 d=2", "bilinear", "cupy"): (0.100, 0.500),
        ("1080x1920 F=11 d=2", "bilinear", "torch"): (2.500, 10.000),
    }
    output = "device=cuda threads=16\n    case  mode backend ...\n" + "\n".join(_sampling_line(*key, *value) for key, value in times.items())
    ratios = gpu_check.sampling_ratios(output)
    assert ratios["256x448"] == pytest.approx({"fwd": min(50 / 2, 60 / 4), "fwd+bwd": min(300 / 10, 80 / 10)})
    assert ratios["1080x1920"] == pytest.approx({"fwd": 20.0, "fwd+bwd": min(9 / 0.4, 10 / 0.5)})
    met, figure = gpu_check.judge_sampling_speed(output)
    assert not met  # 8x at 256x448 forward+backward, bilinear
    assert figure == "256x448: fwd 15.0x, fwd+bwd 8.0x; 1080x1920: fwd 20.0x, fwd+bwd 20.0x"


def test_feature_train_step_ratios() -> None:
    output = """device=NVIDIA H100 threads=16 torch=2.11.0 batch=4 repeats=10 channels_last=False
model         size variant                    fp32_s   bf16_s  speed-up
adacof         256 plain                       0.040    0.025     1.60x
adacof         256 seg+cons affinity/4         0.060    0.050     1.20x
adacof         256 seg+cons stcn               0.090    0.060     1.50x
"""
    met, figure = gpu_check.judge_train_step(output)
    assert met
    assert figure == f"fp32/bf16 time: plain {0.040 / 0.025:.2f}x, stcn {0.090 / 0.060:.2f}x; stcn/plain: fp32 {0.090 / 0.040:.2f}, bf16 {0.060 / 0.025:.2f}"


def test_feature_masks_and_video_rates() -> None:
    masks = "method  frames masks/s\noriginal (1 frame/forward, autograd on)   24  40.000  0.025  1.00x\nours, batch 8   384   250.500  0.004\nours, batch 32   384   310.200  0.003\n"
    assert gpu_check.judge_masks(masks) == (True, "batch 8: 250/s, batch 32: 310/s")
    video = "".join(
        f"device=cuda precision={p} tile=1024\n720p x2: 31 -> 61 frames in 2.00 s\n720p x2: 15.000 pairs/s, {fps} output frames/s\n"
        for p, fps in (("fp32", 20.5), ("bf16", 41.0), ("fp16", 44.25))
    )
    assert gpu_check.judge_video(video) == (True, "fp32 20.5, bf16 41.0, fp16 44.2 output fps")


@pytest.mark.slow
def test_smoke_whole_dry_run(tmp_path: Path) -> None:
    """The CPU-safe parts for real: imports without Prefect or pyiqa, and CPU runs of the sampling and evaluation parts."""
    done = _run("--dry-run", out=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    statuses = _statuses(done.stdout)
    assert {name: statuses[name] for name in ("imports", "sampling-diff", "evaluate", "probe-timeout", "probe-after")} == {
        "imports": "ok",
        "sampling-diff": "ok",
        "evaluate": "ok",
        "probe-timeout": "TIMEOUT",
        "probe-after": "ok",
    }
    assert {statuses[name] for name in ("pytest-cuda", "sampling-speed", "train-step", "masks", "video")} == {"SKIP"}
