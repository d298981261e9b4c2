"""``vosvfi pipeline`` / ``run`` / ``serve``: argument checks give one-line errors before Prefect starts."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from PIL import Image

from flows.cli import main


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["pipeline", "--profile", "nope"], "unknown profile 'nope'"),
        (["pipeline", "--stages", "data,deploy"], "--stages: unknown stage 'deploy'"),
        (["pipeline", "--set", "train.lr=fast"], "train.lr: Input should be a valid number"),
        (["pipeline", "--set", "train.nope=1"], "train.nope: unknown field"),
        (["pipeline", "--run-id", "../up"], "run id '../up'"),
        (["pipeline", "--refresh", "everything"], "--refresh: unknown stage 'everything'"),
        (["pipeline", "--profile", "paper"], "train.teacher.weights: file not found"),
        (["run", "deploy"], "unknown stage 'deploy'"),
        (["serve", "--profile", "missing.yaml"], "profile file not found"),
    ],
)
def test_exception_bad_arguments_exit_2_with_one_line(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("vosvfi: error: ") and message in err
    assert err.count("\n") == 1


def test_smoke_pipeline_commands_do_not_import_prefect_when_failing_early(capsys: pytest.CaptureFixture[str]) -> None:
    loaded_before = "prefect" in sys.modules
    assert main(["run", "evaluate", "--profile", "nope"]) == 2
    assert loaded_before or "prefect" not in sys.modules


def test_exception_inputs_read_in_place_fail_before_prefect_starts(tmp_path: Path, tiny_checkpoint: Path, capsys: pytest.CaptureFixture[str]) -> None:
    loaded_before = "prefect" in sys.modules
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    cases = [
        (["evaluate", str(tiny_checkpoint), "--dataset", f"folder:{tmp_path / 'nowhere'}"], f"folder of triplets: missing folder {tmp_path / 'nowhere'}"),
        (["evaluate", str(junk)], f"evaluate.checkpoint: {junk} is not a loadable PyTorch checkpoint"),
        (["evaluate", str(tmp_path / "none.pth")], f"checkpoint not found: {tmp_path / 'none.pth'}"),
        (
            ["run", "evaluate", "--set", f"data.local={{ucf101: {tmp_path / 'gone'}}}", "--set", "evaluate.datasets=[ucf101]"],
            "data.local.ucf101: folder not found",
        ),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        out, err = capsys.readouterr()
        assert err.startswith("vosvfi: error: ") and message in err and err.count("\n") == 1, err
        assert out == ""  # nothing printed before the error: no plan, no Prefect log
    assert loaded_before or "prefect" not in sys.modules


@pytest.mark.slow
def test_exception_a_failed_task_is_one_line_and_its_traceback_goes_to_the_log(tmp_path: Path, tiny_checkpoint: Path) -> None:
    import os
    import subprocess

    sample = tmp_path / "clips" / "a"
    sample.mkdir(parents=True)
    for k in range(3):
        Image.new("RGB", (32, 32), (40 * k, 90, 200)).save(sample / f"frame{k}.png")
    # The truth's header is whole and its pixels cut off: the plan (which reads headers) passes, evaluation's read fails.
    truth = sample / "frame1.png"
    truth.write_bytes(truth.read_bytes()[:60])
    env = {**os.environ, "VOSVFI_DATA_ROOT": str(tmp_path / "data"), "VOSVFI_RUNS_ROOT": str(tmp_path / "runs"), "PREFECT_HOME": str(tmp_path / "prefect")}
    overrides = [
        "--set",
        f"evaluate.checkpoint={tiny_checkpoint}",
        "--set",
        f"evaluate.datasets=[folder:{tmp_path / 'clips'}]",
        "--set",
        "evaluate.metrics=[psnr]",
    ]
    done = subprocess.run([sys.executable, "-m", "flows.cli", "run", "evaluate", *overrides], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 2, done.stderr[-2000:]
    errors = [line for line in done.stderr.splitlines() if line.startswith("vosvfi: error:")]
    assert len(errors) == 1 and errors[0].startswith("vosvfi: error: evaluate/evaluate: "), done.stderr[-2000:]
    assert "Traceback" not in done.stderr + done.stdout
    assert "needed by evaluate" in done.stdout  # the plan, printed first
    assert "Traceback" in (tmp_path / "runs" / "demo" / "vosvfi.log").read_text()
    assert not (tmp_path / "data" / "demo").exists()  # a checkpoint and catalog sets only: nothing generated
